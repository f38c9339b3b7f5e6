"""Property-based fuzzing of everything the authorizer parses. Invariant: the handler returns a well-formed
response, never raises, and never allows what the straightforward rule denies.

`make test` runs a bounded number of examples; `make fuzz` sets NODEGATE_FUZZ_EXAMPLES much higher."""

from __future__ import annotations

import base64
import copy
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from nodegate.pki import CertificateAuthority, client_name, crl_der, name
from nodegate_authorizer import handler as authorizer
from nodegate_authorizer.access_policy import PolicyError, parse_policy
from nodegate_authorizer.identity import IdentityRule
from nodegate_authorizer.revocation.answers import SourceInvalid
from nodegate_authorizer.revocation.crl import parse_crl
from nodegate_authorizer.revocation.ocsp import ocsp_answer
from nodegate_authorizer.settings import DEFAULT_ID_PATTERN, SETTING_NAMES
from support import event

EXAMPLES = int(os.environ.get("NODEGATE_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=False)
ID = re.compile(DEFAULT_ID_PATTERN)
RULE = IdentityRule("UID", "CN", ID)


class Fixture:
    """One PKI for the whole module (hypothesis runs many examples per test)."""

    def __init__(self, tmp: Path) -> None:
        self.root = CertificateAuthority.root("fuzz root")
        self.issuing = self.root.sub_ca("fuzz issuing")
        (tmp / "ts.pem").write_bytes(self.root.cert_pem() + self.issuing.cert_pem())
        self.good = self.issuing.issue(client_name("alice", "node-1"), with_crl_url=False, with_ocsp_url=False)
        self.env = {"TRUSTSTORE_URI": (tmp / "ts.pem").as_uri(), "REVOCATION_MODE": "hard-fail",
                    "POWERTOOLS_METRICS_DISABLED": "true"}  # fmt: skip


@pytest.fixture(scope="module")
def fx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fixture]:
    fixture = Fixture(tmp_path_factory.mktemp("fuzz"))
    with pytest.MonkeyPatch.context() as patch:
        for key in SETTING_NAMES:
            patch.delenv(key, raising=False)
        for key, value in fixture.env.items():
            patch.setenv(key, value)
        yield fixture


def well_formed(response: Any) -> str:
    """Assert the response shape API Gateway accepts; return the effect."""
    assert isinstance(response, dict)
    assert isinstance(response["principalId"], str)
    statements = response["policyDocument"]["Statement"]
    assert response["policyDocument"]["Version"] == "2012-10-17"
    effects = {s["Effect"] for s in statements}
    assert len(effects) == 1
    for value in response.get("context", {}).values():
        assert isinstance(value, (str, int, bool))
    effect = effects.pop()
    if effect == "Allow":
        for statement in statements:
            for resource in statement["Resource"]:
                assert re.search(r"/nodes/[A-Za-z0-9._-]+(/\*)?$", resource), resource
                assert not resource.endswith("/*/*")
    return effect


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


@FUZZ
@given(path=st.lists(st.sampled_from(["type", "methodArn", "pathParameters", "requestContext", "identity",
                                      "clientCert", "clientCertPem", "nodeId"]), min_size=1, max_size=3),
       value=json_values)  # fmt: skip
def test_mutated_events_never_crash_or_allow_wrongly(fx: Fixture, path: list[str], value: Any) -> None:
    base = event(fx.good.cert_pem(), "node-1")
    mutated = copy.deepcopy(base)
    target: Any = mutated
    for key in path[:-1]:
        target = target.get(key) if isinstance(target, dict) else None
    if isinstance(target, dict):
        target[path[-1]] = value
    response = authorizer.lambda_handler(mutated)
    if well_formed(response) == "Allow":
        # only an event that still says: REQUEST, alice's certificate, node-1 in both path and ARN
        assert mutated["requestContext"]["identity"]["clientCert"]["clientCertPem"] == fx.good.cert_pem().decode()
        assert mutated["pathParameters"]["nodeId"] == "node-1"
        assert "/nodes/node-1" in mutated["methodArn"]


@FUZZ
@given(garbage=st.one_of(st.none(), st.integers(), st.text(max_size=3000), st.binary(max_size=2000)))
def test_arbitrary_top_level_events(fx: Fixture, garbage: Any) -> None:
    assert well_formed(authorizer.lambda_handler(garbage)) == "Deny"


@FUZZ
@given(data=st.binary(max_size=4096), flip=st.integers(min_value=0, max_value=10_000))
def test_corrupted_pem_and_der_never_allow(fx: Fixture, data: bytes, flip: int) -> None:
    der = bytearray(fx.good.cert.public_bytes(__import__("cryptography.hazmat.primitives.serialization",
                                                         fromlist=["Encoding"]).Encoding.DER))  # fmt: skip
    der[flip % len(der)] ^= 0xFF
    for body in (bytes(der), data):
        pem = "-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(body).decode() + "-----END CERTIFICATE-----\n"
        assert well_formed(authorizer.lambda_handler(event(pem, "node-1"))) == "Deny"


@FUZZ
@given(node=st.text(max_size=80))
def test_node_ids_in_the_path(fx: Fixture, node: str) -> None:
    assume(node != "node-1")
    response = authorizer.lambda_handler(event(fx.good.cert_pem(), node.replace("/", "%2F") or "x"))
    assert well_formed(response) == "Deny"


subject_values = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40)


@FUZZ
@given(cn=st.lists(subject_values, min_size=0, max_size=2), uid=st.lists(subject_values, min_size=0, max_size=2))
def test_subject_attributes(fx: Fixture, cn: list[str], uid: list[str]) -> None:
    attributes: dict[str, list[str]] = {}
    if uid:
        attributes["UID"] = uid
    if cn:
        attributes["CN"] = cn
    try:
        subject = name(**attributes)  # type: ignore[arg-type]
        cert = fx.issuing.issue(subject, with_crl_url=False, with_ocsp_url=False, key=fx.good.key)
    except ValueError:
        return  # cryptography refuses to build it (e.g. CN over 64 characters): nothing to feed
    node = cn[0] if len(cn) == 1 else "node-1"
    safe_node = node if ID.fullmatch(node) else "node-1"
    effect = well_formed(authorizer.lambda_handler(event(cert.cert_pem(), safe_node)))
    straightforward = len(cn) == 1 and len(uid) == 1 and bool(ID.fullmatch(cn[0])) and bool(ID.fullmatch(uid[0]))
    if effect == "Allow":
        assert straightforward
        assert safe_node == cn[0]


@FUZZ
@given(doc=json_values)
def test_policy_documents(doc: Any) -> None:
    try:
        policy = parse_policy(json.dumps(doc).encode(), RULE)
    except PolicyError:
        return
    for user, grants in policy.grants.items():
        assert ID.fullmatch(user)
        assert all(ID.fullmatch(g.node_id) for g in grants)


@FUZZ
@given(data=st.binary(max_size=3000))
def test_crl_and_ocsp_bodies(fx: Fixture, data: bytes) -> None:
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    for body in (data, crl_der(fx.issuing.crl({}))[: len(data)] + data):
        try:
            index = parse_crl(body)
        except SourceInvalid:
            index = None
        if index is not None:  # the index lists exactly the CRL's entries
            assert {serial for _, serial in index.entries} == {entry.serial_number for entry in index.crl}
        with pytest.raises(SourceInvalid):
            ocsp_answer("ocsp:x", body, fx.good.cert, fx.issuing.cert, now, dt.timedelta(0), dt.timedelta(hours=1))
