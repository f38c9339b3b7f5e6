"""Property-based fuzzing of everything the authorizer parses. Invariant: the handler returns a well-formed
response, never raises, and never allows what the straightforward rule denies.

`make test` runs a bounded number of examples; `make fuzz` sets NODEGATE_FUZZ_EXAMPLES much higher."""

from __future__ import annotations

import base64
import copy
import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from fuzz.response import well_formed
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st

from nodegate.pki.authority import CertificateAuthority, client_name, crl_der, name
from nodegate_authorizer import handler as authorizer
from nodegate_authorizer.access_policy import PolicyError, parse_policy
from nodegate_authorizer.identity import IdentityRule
from nodegate_authorizer.revocation.answers import SourceInvalid
from nodegate_authorizer.revocation.crl import parse_crl
from nodegate_authorizer.revocation.ocsp import ocsp_answer
from nodegate_authorizer.settings import DEFAULT_ID_PATTERN, SETTING_NAMES
from nodegate_dev.world import event

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
        self.env = {
            "TRUSTSTORE_URI": (tmp / "ts.pem").as_uri(),
            "REVOCATION_MODE": "hard-fail",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }


@pytest.fixture(scope="module")
def fx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fixture]:
    fixture = Fixture(tmp_path_factory.mktemp("fuzz"))
    with pytest.MonkeyPatch.context() as patch:
        for key in SETTING_NAMES:
            patch.delenv(key, raising=False)
        for key, value in fixture.env.items():
            patch.setenv(key, value)
        yield fixture


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


def key_paths(value: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every key path of a JSON object, nested ones included (``requestContext.identity.clientCert...``)."""
    paths: list[tuple[str, ...]] = []
    if isinstance(value, dict):
        for key, child in value.items():
            paths.append((*prefix, key))
            paths += key_paths(child, (*prefix, key))
    return paths


EVENT_PATHS = key_paths(event("pem", "node-1"))
FOCUS = [p for p in EVENT_PATHS if p[-1] in ("clientCertPem", "nodeId", "methodArn")]
"""The fields a wrong Allow would come through, drawn more often than the rest."""
REACH: Counter[str] = Counter()
"""How many generated inputs reached each stage (printed at the end of the module, quoted on the issue)."""


def reached(stage: str) -> None:
    REACH[stage] += 1
    hypothesis_event(stage)


def _string_mutations(original: str) -> st.SearchStrategy[str]:
    """Near-misses of a string: truncated, a character changed, doubled, case-flipped, whitespace added."""
    return st.one_of(
        st.integers(0, max(len(original) - 1, 0)).map(lambda n: original[:n]),
        st.tuples(st.integers(0, max(len(original) - 1, 0)), st.characters()).map(
            lambda t: original[: t[0]] + t[1] + original[t[0] + 1 :]
        ),
        st.just(original + original),
        st.just(original.swapcase()),
        st.just(" " + original + "\n"),
    )


@FUZZ
@given(
    data=st.data(),
    path=st.sampled_from(EVENT_PATHS) | st.sampled_from(FOCUS),
    action=st.sampled_from(["replace", "delete", "near"]),
)
def test_mutated_events_never_crash_or_allow_wrongly(
    fx: Fixture, data: st.DataObject, path: tuple[str, ...], action: str
) -> None:
    base = event(fx.good.cert_pem(), "node-1")
    mutated = copy.deepcopy(base)
    parent: Any = mutated
    for key in path[:-1]:
        parent = parent[key]
    original = parent[path[-1]]
    if action == "delete":
        del parent[path[-1]]
    elif action == "near" and isinstance(original, str):
        parent[path[-1]] = data.draw(_string_mutations(original))
    else:
        parent[path[-1]] = data.draw(json_values)
    reached(f"event field {'.'.join(path[-2:])}" if path[-1] in ("clientCertPem", "nodeId", "methodArn") else "event")
    response = authorizer.lambda_handler(mutated)
    if well_formed(response) == "Allow":
        reached("allowed after mutation")
        # only an event that still says: REQUEST, alice's certificate, node-1 in both path and ARN
        pem = mutated["requestContext"]["identity"]["clientCert"]["clientCertPem"]
        assert x509.load_pem_x509_certificate(pem.encode()) == fx.good.cert
        assert mutated["pathParameters"]["nodeId"] == "node-1"
        assert "/nodes/node-1" in mutated["methodArn"]


json_objects = st.dictionaries(st.text(max_size=12), json_values, max_size=6) | st.fixed_dictionaries(
    dict.fromkeys(("type", "methodArn", "pathParameters", "requestContext"), json_values)
)


@FUZZ
@given(garbage=st.one_of(st.none(), st.integers(), st.text(max_size=3000), st.binary(max_size=2000), json_objects))
def test_arbitrary_top_level_events(fx: Fixture, garbage: Any) -> None:
    reached("top-level object" if isinstance(garbage, dict) else "top-level non-object")
    assert well_formed(authorizer.lambda_handler(garbage)) == "Deny"


@FUZZ
@given(data=st.binary(max_size=4096), flip=st.integers(min_value=0, max_value=10_000))
def test_corrupted_pem_and_der_never_allow(fx: Fixture, data: bytes, flip: int) -> None:
    der = bytearray(
        fx.good.cert.public_bytes(
            __import__("cryptography.hazmat.primitives.serialization", fromlist=["Encoding"]).Encoding.DER
        )
    )
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


ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True)
near_ids = ids | st.text(max_size=70) | st.sampled_from(["", " alice", "alice/..", "a" * 65, "ALICE", "*"])
methods = st.sampled_from(sorted(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "*"]))
grants = st.fixed_dictionaries(
    {"user": ids, "nodes": st.lists(ids, min_size=1, max_size=3)}, optional={"methods": st.lists(methods, min_size=1)}
)
near_grants = st.fixed_dictionaries(
    {"user": near_ids | json_values, "nodes": st.lists(near_ids, max_size=3) | json_values},
    optional={"methods": st.lists(methods | st.text(max_size=8), max_size=3) | json_values, "extra": json_values},
)
valid_documents = st.fixed_dictionaries(
    {"version": st.just(1)},
    optional={"grants": st.lists(grants, max_size=4), "disabledUsers": st.lists(ids, max_size=3)},
)
near_documents = st.fixed_dictionaries(
    {"version": st.sampled_from([1, 1, 1, 2, "1", None])},
    optional={
        "grants": st.lists(grants | near_grants, max_size=4) | json_values,
        "disabledUsers": st.lists(near_ids, max_size=3) | json_values,
        "other": json_values,
    },
)


@FUZZ
@given(doc=valid_documents | near_documents | json_values)
def test_policy_documents(doc: Any) -> None:
    try:
        policy = parse_policy(json.dumps(doc).encode(), RULE)
    except PolicyError:
        reached("policy refused")
        return
    reached("policy parsed")
    for user, user_grants in policy.grants.items():
        assert ID.fullmatch(user)
        assert all(ID.fullmatch(g.node_id) for g in user_grants)
        assert all(g.methods <= {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "*"} for g in user_grants)
    listed = {(g["user"], n) for g in doc.get("grants", []) for n in g["nodes"]} if isinstance(doc, dict) else set()
    assert {(u, g.node_id) for u, gs in policy.grants.items() for g in gs} == listed
    assert all(ID.fullmatch(u) for u in policy.disabled_users)


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
        if index is not None:  # the index finds exactly the CRL's entries
            listed = {entry.serial_number for entry in index.crl}
            for serial in listed | {s + 1 for s in listed} | {1}:
                assert (index.revoked.get(index.issuer, serial) is not None) == (serial in listed)
        with pytest.raises(SourceInvalid):
            ocsp_answer("ocsp:x", body, fx.good.cert, fx.issuing.cert, now, dt.timedelta(0), dt.timedelta(hours=1))


SETTING_VALUES = st.one_of(
    st.text(max_size=30),
    st.text(st.characters(categories=["Nd", "No", "Pd", "Po"]), max_size=12),  # unicode digits: '²', '٤٠'
    st.builds(lambda arcs: ".".join(map(str, arcs)), st.lists(st.integers(0, 2**70), min_size=1, max_size=5)),
    st.sampled_from(["0.40", "1.39", "2.999", "²", "1e400", "nan", "-1", "0x10", "1_024"]),
)


@FUZZ
@given(name=st.sampled_from(sorted(SETTING_NAMES)), value=SETTING_VALUES)
def test_any_setting_value_is_a_config_error_or_works(
    fx: Fixture, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    """Review finding: FETCH_MAX_BYTES='²' and NODE_ID_ATTRIBUTE='0.40' passed the settings parser and crashed
    the decision (INTERNAL_ERROR). Any value of any setting is refused at load (CONFIG_INVALID) or decides."""
    if "\x00" in value:
        return  # an environment variable cannot hold NUL
    monkeypatch.setenv(name, value)
    authorizer.reset()
    response = authorizer.lambda_handler(event(fx.good.cert_pem(), "node-1"))
    well_formed(response)
    assert response.get("context", {}).get("reason") != "INTERNAL_ERROR", (name, value, response)
    reached(f"setting {'refused' if response.get('context', {}).get('reason') == 'CONFIG_INVALID' else 'used'}")


def test_a_deeply_nested_policy_is_refused_not_a_crash() -> None:
    """Review finding: 100,000 nested '[' raised RecursionError out of the policy parser."""
    with pytest.raises(PolicyError):
        parse_policy(b"[" * 100_000, RULE)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FETCH_MAX_BYTES", "²"),
        ("FETCH_MAX_BYTES", "١٠٢٤٠"),
        ("NODE_ID_ATTRIBUTE", "0.40"),
        ("USER_ID_ATTRIBUTE", "1.٣"),
    ],
)
def test_reported_setting_values_are_config_errors(
    fx: Fixture, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    authorizer.reset()
    response = authorizer.lambda_handler(event(fx.good.cert_pem(), "node-1"))
    assert well_formed(response) == "Deny"
    assert response["context"]["reason"] == "CONFIG_INVALID", response
