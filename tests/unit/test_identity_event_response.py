"""Identity, the authorizer event and the response, each on its own: no servers, no environment."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from fixed import T0, root, sub
from nodegate_authorizer.access_policy import Grant
from nodegate_authorizer.event import parse_event
from nodegate_authorizer.identity import Identity, IdentityRule, extract_identity, valid_id
from nodegate_authorizer.reasons import Denied, Reason
from nodegate_authorizer.response import allow_response, deny_response
from nodegate_authorizer.settings import DEFAULT_ID_PATTERN
from nodegate_dev.world import event

RULE = IdentityRule("UID", "CN", re.compile(DEFAULT_ID_PATTERN))
CA = sub(root())


def leaf(*attributes: tuple[x509.ObjectIdentifier, str]) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(oid, value) for oid, value in attributes])
    return CA.issue(subject, not_before=T0, with_crl_url=False, with_ocsp_url=False).cert


class TestIdentity:
    def test_one_uid_and_one_cn(self) -> None:
        identity = extract_identity(leaf((NameOID.USER_ID, "alice"), (NameOID.COMMON_NAME, "node-1")), RULE)
        assert identity == Identity("alice", "node-1", "CN=node-1,UID=alice")

    @pytest.mark.parametrize(
        "attributes",
        [
            [(NameOID.COMMON_NAME, "node-1")],
            [(NameOID.USER_ID, "alice")],
            [(NameOID.USER_ID, "alice"), (NameOID.USER_ID, "bob"), (NameOID.COMMON_NAME, "node-1")],
            [(NameOID.USER_ID, "alice"), (NameOID.COMMON_NAME, "node-1"), (NameOID.COMMON_NAME, "node-2")],
            [(NameOID.USER_ID, "alice,admin"), (NameOID.COMMON_NAME, "node-1")],
            [(NameOID.USER_ID, "alice"), (NameOID.COMMON_NAME, "node 1")],
            [(NameOID.USER_ID, "-alice"), (NameOID.COMMON_NAME, "node-1")],
            [(NameOID.USER_ID, "a" * 65), (NameOID.COMMON_NAME, "node-1")],
        ],
        ids=["no-uid", "no-cn", "two-uids", "two-cns", "comma", "space", "leading-dash", "too-long"],
    )
    def test_bad_identities(self, attributes: list[tuple[x509.ObjectIdentifier, str]]) -> None:
        with pytest.raises(Denied) as denied:
            extract_identity(leaf(*attributes), RULE)
        assert denied.value.reason == Reason.BAD_IDENTITY

    def test_other_attributes_and_patterns(self) -> None:
        by_ou = IdentityRule("OU", "2.5.4.3", re.compile(r"^[a-z]+-?[0-9]*$"))
        cert = leaf((NameOID.ORGANIZATIONAL_UNIT_NAME, "carol"), (NameOID.COMMON_NAME, "node-3"))
        assert extract_identity(cert, by_ou).user_id == "carol"
        assert not valid_id("Carol", by_ou)
        assert valid_id("a" * 64, RULE)
        assert not valid_id("a" * 65, RULE)
        assert not valid_id("", RULE)
        wide = IdentityRule("UID", "CN", re.compile(r".*"))
        assert not valid_id("alice bob", wide)  # the safe set applies whatever ID_PATTERN says


class TestEvent:
    def test_fields_a_decision_reads(self) -> None:
        request = parse_event(event(b"PEM", "node-7", "POST"))
        assert (request.client_cert_pem, request.node_id, request.method) == ("PEM", "node-7", "POST")
        assert request.route.resource == "nodes/node-7/status"
        assert parse_event(event(None, "node-1")).client_cert_pem is None

    @pytest.mark.parametrize(
        "mutate",
        [
            lambda e: e.update(type="TOKEN"),
            lambda e: e.pop("methodArn"),
            lambda e: e.update(methodArn=e["methodArn"].replace("/nodes/", "/admin/")),
            lambda e: e.update(methodArn=e["methodArn"] + "x" * 5000),
            lambda e: e.update(pathParameters=None),
            lambda e: e.update(pathParameters={"nodeId": "node-2"}),
            lambda e: e["requestContext"]["identity"].update(clientCert="PEM"),
            lambda e: e["requestContext"]["identity"]["clientCert"].update(clientCertPem=42),
        ],
        ids=["not-request", "no-arn", "other-path", "long-arn", "no-params", "node-disagrees", "cert-str", "pem-int"],
    )
    def test_events_that_are_bad_requests(self, mutate: Any) -> None:
        bad = event(b"PEM", "node-1")
        mutate(bad)
        with pytest.raises(Denied) as denied:
            parse_event(bad)
        assert denied.value.reason == Reason.BAD_REQUEST

    def test_method_arn_length_limit_is_inclusive(self) -> None:
        from nodegate_authorizer.event import MAX_ARN_LENGTH

        longest = event(b"PEM", "node-1")
        longest["methodArn"] += "x" * (MAX_ARN_LENGTH - len(longest["methodArn"]))
        assert parse_event(longest).node_id == "node-1"
        longest["methodArn"] += "x"
        with pytest.raises(Denied):
            parse_event(longest)

    def test_non_objects(self) -> None:
        for garbage in (None, [], "event", 7):
            with pytest.raises(Denied):
                parse_event(garbage)


class TestResponse:
    def test_allow_is_scoped_to_the_node(self) -> None:
        route = parse_event(event(b"PEM", "node-1")).route
        identity = Identity("alice", "node-1", "CN=node-1,UID=alice")
        response = allow_response(
            route, identity, Grant("node-2", frozenset({"GET", "HEAD"})), {"clientCertSerial": "ab"}
        )
        statements = response["policyDocument"]["Statement"]
        assert {s["Effect"] for s in statements} == {"Allow"}
        resources = sorted(r for s in statements for r in s["Resource"])
        prefix = "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod"
        assert resources == sorted(f"{prefix}/{m}/nodes/node-2{tail}" for m in ("GET", "HEAD") for tail in ("", "/*"))
        context = response["context"]
        assert (context["userId"], context["nodeId"], context["certNodeId"]) == ("alice", "node-2", "node-1")
        assert base64.b64decode(context["clientCertSub"]).decode() == "CN=node-1,UID=alice"
        assert context["clientCertSerial"] == "ab"
        assert response["principalId"] == "alice"

    def test_deny_covers_everything_and_carries_only_the_reason(self) -> None:
        route = parse_event(event(b"PEM", "node-1")).route
        response = deny_response(Reason.REVOKED, route)
        assert response["context"] == {"reason": "REVOKED"}
        (statement,) = response["policyDocument"]["Statement"]
        assert statement["Effect"] == "Deny"
        assert statement["Resource"] == ["arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/*/*"]
        anywhere = deny_response(Reason.BAD_REQUEST, None)
        assert anywhere["policyDocument"]["Statement"][0]["Resource"] == ["arn:aws:execute-api:*:*:*/*/*/*"]
        assert anywhere["principalId"] == "anonymous"


@pytest.mark.parametrize(
    ("name", "oid"),
    [
        ("O", NameOID.ORGANIZATION_NAME),
        ("OU", NameOID.ORGANIZATIONAL_UNIT_NAME),
        ("serialNumber", NameOID.SERIAL_NUMBER),
        ("emailAddress", NameOID.EMAIL_ADDRESS),
        ("DC", NameOID.DOMAIN_COMPONENT),
        ("L", NameOID.LOCALITY_NAME),
        ("UID", NameOID.USER_ID),
        ("CN", NameOID.COMMON_NAME),
        ("0.9.2342.19200300.100.1.1", NameOID.USER_ID),
    ],
)
def test_every_named_attribute_can_hold_the_user_id(name: str, oid: x509.ObjectIdentifier) -> None:
    rule = IdentityRule(name, "CN" if oid != NameOID.COMMON_NAME else "UID", re.compile(DEFAULT_ID_PATTERN))
    other = NameOID.COMMON_NAME if oid != NameOID.COMMON_NAME else NameOID.USER_ID
    cert = leaf((oid, "carol"), (other, "node-3"))
    assert extract_identity(cert, rule).user_id == "carol"


def test_certificate_facts_and_pem_limits() -> None:
    from nodegate_authorizer.certificates import MAX_PEM_BYTES, load_leaf_pem
    from nodegate_authorizer.decision import _parse_leaf

    cert = leaf((NameOID.USER_ID, "alice"), (NameOID.COMMON_NAME, "node-1"))
    text = cert.public_bytes(Encoding.PEM).decode()
    parsed, facts = _parse_leaf(text)
    assert parsed == cert
    assert set(facts) == {"clientCertSerial", "clientCertSha256"}
    assert facts["clientCertSerial"] == format(cert.serial_number, "x")
    for bad in ("", "é" + text, text.ljust(MAX_PEM_BYTES + 1), text + text):
        with pytest.raises(ValueError):
            load_leaf_pem(bad)
    assert load_leaf_pem(text.ljust(MAX_PEM_BYTES)) == cert
