"""The authorizer end to end through lambda_handler, with a real PKI and a real CRL/OCSP server."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
from collections.abc import Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID

from conftest import Invoke
from nodegate.pki.authority import CertificateAuthority, client_name, crl_der, name, pem, utcnow
from nodegate_authorizer.handler import logger as authorizer_logger
from nodegate_authorizer.log_line import JsonFormatter
from nodegate_dev.world import API, World, openssl_v1_client


def test_valid_leaf_via_intermediate_allows_only_its_node(world: World, invoke: Invoke) -> None:
    client = world.client("alice", "node-1")
    effect, reason, response = invoke(client.cert_pem())
    assert (effect, reason) == ("Allow", None)
    assert response["principalId"] == "alice"
    resources = response["policyDocument"]["Statement"][0]["Resource"]
    assert resources == [f"{API}/prod/*/nodes/node-1", f"{API}/prod/*/nodes/node-1/*"]
    context = response["context"]
    assert context["userId"] == "alice"
    assert context["nodeId"] == "node-1"
    subject = base64.b64decode(context["clientCertSub"]).decode()
    assert subject == client.cert.subject.rfc4514_string()
    assert "UID=alice" in subject
    assert context["clientCertSerial"] == format(client.cert.serial_number, "x")
    assert context["clientCertSha256"] == client.cert.fingerprint(hashes.SHA256()).hex()


def test_other_node_is_denied(world: World, invoke: Invoke) -> None:
    assert invoke(world.client(node="node-1").cert_pem(), node="node-2")[:2] == ("Deny", "NODE_MISMATCH")


def test_node_id_path_traversal_is_a_bad_request(world: World, invoke: Invoke) -> None:
    cert = world.client(node="node-1").cert_pem()
    for bad in ("..", "node-1..%2F", "node 1", ".hidden", "node-1\r\nX-User-Id: root"):
        assert invoke(cert, node=bad)[:2] == ("Deny", "BAD_REQUEST"), bad


def test_expired_and_not_yet_valid(world: World, invoke: Invoke) -> None:
    old = world.client(not_before=utcnow() - dt.timedelta(days=40), days=30)
    future = world.client(not_before=utcnow() + dt.timedelta(days=1))
    assert invoke(old.cert_pem())[:2] == ("Deny", "EXPIRED")
    assert invoke(future.cert_pem())[:2] == ("Deny", "NOT_YET_VALID")


def test_untrusted_lookalike_with_same_subject_as_trusted_ca(world: World, invoke: Invoke) -> None:
    fake_root = CertificateAuthority.root("nodegate test root")
    fake_issuing = fake_root.sub_ca("nodegate test issuing")
    assert fake_issuing.cert.subject == world.issuing.cert.subject
    forged = fake_issuing.issue(client_name("alice", "node-1"))
    assert invoke(forged.cert_pem())[:2] == ("Deny", "UNTRUSTED_ISSUER")


def test_revoked_on_cdp_crl(world: World, invoke: Invoke) -> None:
    client = world.client()
    world.responder.revoked[client.cert.serial_number] = utcnow()
    # OCSP answers from the same database, so take it away to show the CRL alone denies.
    world.server.faults["ocsp"] = "500"
    assert invoke(client.cert_pem())[:2] == ("Deny", "REVOKED")


def test_revoked_only_on_ocsp(world: World, invoke: Invoke) -> None:
    client = world.client()
    world.responder.ocsp_only_revoked.add(client.cert.serial_number)
    effect, reason, _ = invoke(client.cert_pem())
    assert (effect, reason) == ("Deny", "REVOKED")
    asked = world.server.hits["ocsp"]
    assert invoke(client.cert_pem())[:2] == ("Deny", "REVOKED")
    assert world.server.hits["ocsp"] == asked  # the revoked answer is cached like a good one


def test_revoked_only_on_stored_crl_for_cert_without_cdp(world: World, invoke: Invoke) -> None:
    client = world.client(with_crl_url=False, with_ocsp_url=False)
    world.store_crl(world.issuing, {client.cert.serial_number: utcnow()})
    env = {"CRL_STORE_URI": world.crl_store.as_uri() + "/"}
    assert invoke(client.cert_pem(), env=env)[:2] == ("Deny", "REVOKED")
    fine = world.client(with_crl_url=False, with_ocsp_url=False)
    assert invoke(fine.cert_pem(), env=env)[:2] == ("Allow", None)


def test_revoked_intermediate(world: World, invoke: Invoke) -> None:
    client = world.client()
    assert invoke(client.cert_pem())[:2] == ("Allow", None)
    revoked_issuing = world.root.crl({world.issuing.cert.serial_number: utcnow()})
    world.responder.crl_override["root"] = crl_der(revoked_issuing)
    # a new environment means a cold container, so nothing cached hides the new root CRL
    assert invoke(client.cert_pem(), env={"REVOCATION_CACHE_SECONDS": "1"})[:2] == ("Deny", "REVOKED")


def test_ocsp_down_crl_up_allows_in_hard_fail(world: World, invoke: Invoke) -> None:
    world.server.faults["ocsp"] = "500"
    assert invoke(world.client().cert_pem())[:2] == ("Allow", None)


def test_v1_leaf_from_openssl_tutorial_is_accepted(world: World, invoke: Invoke, tmp_path) -> None:
    leaf = openssl_v1_client(world.issuing, tmp_path)
    assert x509.load_pem_x509_certificate(leaf).version is x509.Version.v1
    # no CDP and no OCSP in a v1 certificate: the stored CRL is its revocation source
    world.store_crl(world.issuing, {})
    env = {"CRL_STORE_URI": world.crl_store.as_uri() + "/"}
    assert invoke(leaf, env=env)[:2] == ("Allow", None)
    world.store_crl(world.issuing, {4242: utcnow()})
    assert invoke(leaf, env=env | {"CRL_STORE_REFRESH_SECONDS": "0"})[:2] == ("Deny", "REVOKED")


def test_server_auth_only_eku_is_wrong_key_usage(world: World, invoke: Invoke) -> None:
    client = world.client(eku=[ExtendedKeyUsageOID.SERVER_AUTH])
    assert invoke(client.cert_pem())[:2] == ("Deny", "WRONG_KEY_USAGE")


def test_subject_shapes_that_are_bad_identities(world: World, invoke: Invoke) -> None:
    two_cns = world.issuing.issue(name(UID="alice", CN=["node-1", "node-2"]))
    no_uid = world.issuing.issue(name(CN="node-1"))
    comma = world.issuing.issue(name(UID="alice", CN="node-1,admin"))
    header = world.issuing.issue(name(UID="alice", CN="node-1\r\nX-User-Id: root"))
    for cert in (two_cns, no_uid, comma, header):
        assert invoke(cert.cert_pem())[:2] == ("Deny", "BAD_IDENTITY"), cert.cert.subject


def test_garbage_and_missing_certificates(world: World, invoke: Invoke) -> None:
    assert invoke("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")[:2] == (
        "Deny",
        "MALFORMED_CERT",
    )
    assert invoke("hello")[:2] == ("Deny", "MALFORMED_CERT")
    assert invoke(None)[:2] == ("Deny", "NO_CLIENT_CERT")


def test_non_positive_serial_is_malformed(world: World, invoke: Invoke, tmp_path) -> None:
    # found by the fuzzer: cryptography still parses such certificates (with a deprecation warning)
    zero = openssl_v1_client(world.issuing, tmp_path, serial=0)
    assert invoke(zero, env={"REVOCATION_MODE": "off"})[:2] == ("Deny", "MALFORMED_CERT")


def test_truststore_missing_empty_or_garbage(world: World, invoke: Invoke, tmp_path) -> None:
    cert = world.client().cert_pem()
    empty = tmp_path / "empty.pem"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.pem"
    garbage.write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    leaf_only = tmp_path / "leaf-only.pem"
    leaf_only.write_bytes(cert)
    for path in (tmp_path / "missing.pem", empty, garbage, leaf_only):
        assert invoke(cert, env={"TRUSTSTORE_URI": path.as_uri()})[:2] == ("Deny", "TRUSTSTORE_UNAVAILABLE"), path


def test_unusable_truststore_entries_are_skipped_with_a_warning(
    world: World, invoke: Invoke, tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    cert = world.client().cert_pem()
    bundle = tmp_path / "mixed.pem"
    garbage = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    bundle.write_bytes(garbage + world.truststore.read_bytes() + cert)
    for _ in range(2):
        assert invoke(cert, env={"TRUSTSTORE_URI": bundle.as_uri()})[:2] == ("Allow", None)
    skipped = [r.entry for r in caplog.records if r.getMessage() == "truststore entry skipped"]
    assert len(skipped) == 2  # once per loaded truststore, not per request
    assert skipped[0].startswith("entry 1: does not parse")
    assert "is not a CA" in skipped[1]


def test_invalid_settings_deny_with_config_invalid(world: World, invoke: Invoke) -> None:
    cert = world.client().cert_pem()
    for env in (
        {"REVOCATION_MODE": "yolo"},
        {"FETCH_TIMEOUT_SECONDS": "soon"},
        {"TRUSTSTORE_URI": "http://x/y"},
        {"ID_PATTERN": "(["},
        {"USER_ID_ATTRIBUTE": "favouriteColour"},
        {"TRUSTSTORE_URI": "file:///tmp/%00x"},  # a NUL no path can hold: os calls raise ValueError on it
        {"ACCESS_POLICY_URI": "file:///tmp/a%00b.json"},
        {"CRL_STORE_URI": "file:///tmp/%00/"},
    ):
        assert invoke(cert, env=env)[:2] == ("Deny", "CONFIG_INVALID"), env


def test_weak_crypto(world: World, invoke: Invoke, tmp_path) -> None:
    small_rsa = world.client(key="rsa1024")
    sha1 = openssl_v1_client(world.issuing, tmp_path, digest="sha1")
    assert invoke(small_rsa.cert_pem())[:2] == ("Deny", "WEAK_CRYPTO")
    assert invoke(sha1)[:2] == ("Deny", "WEAK_CRYPTO")


def test_chain_constraints(world: World, invoke: Invoke, tmp_path) -> None:
    # an intermediate below a pathLen:0 intermediate breaks the path length
    deeper = world.issuing.sub_ca("too deep", path_length=None)
    leaf = deeper.issue(client_name("alice", "node-1"))
    world.truststore.write_bytes(pem(world.root.cert, world.issuing.cert, deeper.cert))
    assert invoke(leaf.cert_pem(), env={"REVOCATION_MODE": "off"})[:2] == ("Deny", "INVALID_CHAIN")
    # a leaf that is itself a CA is not a client certificate
    ca_leaf = world.issuing.issue(client_name("alice", "node-1"), ca=True, eku=None)
    assert invoke(ca_leaf.cert_pem(), env={"REVOCATION_MODE": "off"})[:2] == ("Deny", "WRONG_KEY_USAGE")


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """The authorizer's log handler, pointed at a buffer for the test (it binds its stream at import)."""
    buffer = io.StringIO()
    ours = [handler for handler in authorizer_logger.handlers if isinstance(handler.formatter, JsonFormatter)]
    previous = [handler.setStream(buffer) for handler in ours]  # type: ignore[attr-defined]
    level = authorizer_logger.level
    authorizer_logger.setLevel("INFO")
    yield buffer
    for handler, stream in zip(ours, previous, strict=True):
        handler.setStream(stream)
    authorizer_logger.setLevel(level)


def test_one_structured_log_line_and_metrics_per_decision(world: World, invoke: Invoke, capsys, log_stream) -> None:
    client = world.client(with_crl_url=False)
    world.server.faults["ocsp"] = "500"
    assert invoke(client.cert_pem(), env={"POWERTOOLS_METRICS_DISABLED": "false"})[:2] == (
        "Deny",
        "REVOCATION_UNAVAILABLE",
    )
    out = capsys.readouterr().out + log_stream.getvalue()
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    decisions = [line for line in lines if line.get("message") == "authorization decision"]
    assert len(decisions) == 1
    logged = decisions[0]
    assert logged["decision"] == "Deny"
    assert logged["reason"] == "REVOCATION_UNAVAILABLE"
    assert logged["clientCertSerial"] == format(client.cert.serial_number, "x")
    assert logged["clientCertSha256"] == client.cert.fingerprint(hashes.SHA256()).hex()
    assert logged["revocationSourceFailures"] == 1
    assert isinstance(logged["latencyMs"], float)
    emf = [line for line in lines if "_aws" in line]
    assert len(emf) == 1
    assert emf[0]["DenyRevocationUnavailable"] == [1.0] or emf[0]["DenyRevocationUnavailable"] == 1.0
    assert emf[0]["RevocationSourceFailure"] in (1.0, [1.0])
    assert emf[0]["Deny"] in (1.0, [1.0])  # every deny, whatever its reason (DenyRiseAlarm)
    allowed = world.client("bob", "node-2")
    world.server.faults.clear()
    invoke(allowed.cert_pem(), node="node-2")
    logged = json.loads(log_stream.getvalue().splitlines()[-1])
    assert (logged["decision"], logged["userId"], logged["nodeId"]) == ("Allow", "bob", "node-2")
