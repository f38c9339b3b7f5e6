"""Fault matrix: every revocation and S3 source misbehaving on purpose, in every REVOCATION_MODE.

A faulty source is never an answer: the decision then rests on the mode (require/hard-fail deny,
soft-fail/off allow), and it is always made inside the time budget."""

from __future__ import annotations

import datetime as dt
import http.server
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import ocsp

from conftest import Invoke
from nodegate.local.stack import free_port
from nodegate.pki.authority import CertificateAuthority, client_name, crl_der, utcnow
from nodegate.pki.server import POLL_SECONDS, QuietServer
from nodegate_dev.world import World

MODES = {"require": "Deny", "hard-fail": "Deny", "soft-fail": "Allow", "off": "Allow"}
TIMEOUT = 0.5
BUDGET = 4 * TIMEOUT + 1.0  # parallel fetches, each bounded by the timeout, plus slack for a loaded CI machine
TRANSPORT = ("down", "slow", "hang", "drip", "500", "garbage", "oversized")
CONTENT = ("stale", "wrong-key", "other-cert")


def _ocsp_bytes(response: ocsp.OCSPResponse) -> bytes:
    return response.public_bytes(serialization.Encoding.DER)


def break_source(world: World, source: str, fault: str) -> None:
    """Make the issuing CA's CRL or OCSP source misbehave ('down' is a dead port, see leaf_with_only)."""
    if fault == "down":
        return
    if fault in TRANSPORT:
        world.server.faults[source] = fault
        world.server.slow_seconds = 3 * TIMEOUT * 4
        return
    impostor = CertificateAuthority.root("impostor")
    then = utcnow() - dt.timedelta(days=3)
    if source == "crl":
        crl = {
            "stale": lambda: world.issuing.crl({}, this_update=then, next_update=then + dt.timedelta(days=1)),
            "wrong-key": lambda: world.issuing.crl({}, signer=impostor.key),
            "other-cert": lambda: impostor.crl({}),
        }[fault]()
        world.responder.crl_override["issuing"] = crl_der(crl)
    else:
        good = ocsp.OCSPCertStatus.GOOD
        answer = {
            "stale": lambda ca, req: ca.ocsp_response(req, good, this_update=then, validity=dt.timedelta(hours=1)),
            "wrong-key": lambda ca, req: ca.ocsp_response(req, good, responder=impostor.ocsp_signer()),
            "other-cert": lambda ca, req: ca.ocsp_response(req, good, serial=req.serial_number + 1),
        }[fault]
        world.responder.ocsp_override["issuing"] = lambda ca, req: _ocsp_bytes(answer(ca, req))


def leaf_with_only(world: World, source: str, fault: str) -> bytes:
    """A client certificate whose only revocation source is ``source`` (pointing at a dead port when 'down')."""
    base = f"http://127.0.0.1:{free_port()}" if fault == "down" else world.server.url
    issuing = CertificateAuthority(
        world.issuing.cert,
        world.issuing.key,
        crl_url=f"{base}/crl/issuing.crl" if source == "crl" else None,
        ocsp_url=f"{base}/ocsp/issuing" if source == "ocsp" else None,
    )
    return issuing.issue(client_name("alice", "node-1")).cert_pem()


@pytest.mark.parametrize("fault", TRANSPORT + CONTENT)
@pytest.mark.parametrize("source", ["crl", "ocsp"])
def test_revocation_source_fault_in_every_mode(world: World, invoke: Invoke, source: str, fault: str) -> None:
    leaf = leaf_with_only(world, source, fault)
    break_source(world, source, fault)
    env = {"FETCH_TIMEOUT_SECONDS": str(TIMEOUT), "FETCH_MAX_BYTES": str(1024 * 1024)}
    for mode, expected in MODES.items():
        started = time.monotonic()
        effect, reason, _ = invoke(leaf, env=env | {"REVOCATION_MODE": mode})
        elapsed = time.monotonic() - started
        assert effect == expected, (mode, reason)
        if expected == "Deny":
            assert reason == "REVOCATION_UNAVAILABLE", mode
        assert elapsed < BUDGET, f"{mode}: {elapsed:.2f}s"


@pytest.mark.parametrize("source", ["crl", "ocsp"])
def test_healthy_source_allows_in_every_mode(world: World, invoke: Invoke, source: str) -> None:
    leaf = leaf_with_only(world, source, "none")
    for mode in MODES:
        assert invoke(leaf, env={"REVOCATION_MODE": mode})[:2] == ("Allow", None), mode


def test_revoked_answer_wins_over_a_faulty_source(world: World, invoke: Invoke) -> None:
    client = world.client()
    world.responder.revoked[client.cert.serial_number] = utcnow()
    world.server.faults["ocsp"] = "hang"
    world.server.slow_seconds = 2
    for mode in ("require", "hard-fail", "soft-fail"):
        assert invoke(client.cert_pem(), env={"REVOCATION_MODE": mode})[:2] == ("Deny", "REVOKED"), mode


class BrokenS3(http.server.BaseHTTPRequestHandler):
    """An S3 endpoint that fails: ``500`` answers InternalError at once, ``slow`` after 3 s, ``hang`` never."""

    mode = "500"

    def do_GET(self) -> None:
        if self.mode == "hang":
            time.sleep(30)
            return
        if self.mode == "slow":
            time.sleep(3)
        body = b"<Error><Code>InternalError</Code><Message>boom</Message></Error>"
        self.send_response(500)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def broken_s3() -> Iterator[Callable[[str], str]]:
    """Start a broken S3 endpoint in a given mode; returns its URL."""
    servers: list[QuietServer] = []

    def start(mode: str) -> str:
        handler = type("Handler", (BrokenS3,), {"mode": mode})
        server = QuietServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, args=(POLL_SECONDS,), daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


S3_FAULTS = ("down", "500", "slow", "hang", "garbage", "oversized", "missing")


@pytest.mark.parametrize("fault", S3_FAULTS)
@pytest.mark.parametrize("source", ["truststore", "crl-store", "policy"])
def test_s3_source_faults(
    world: World, invoke: Invoke, bucket, broken_s3, monkeypatch, source: str, fault: str
) -> None:
    s3, name = bucket
    s3.put_object(Bucket=name, Key="ts.pem", Body=world.truststore.read_bytes())
    s3.put_object(Bucket=name, Key="crls/issuing.crl", Body=crl_der(world.issuing.crl({})))
    s3.put_object(Bucket=name, Key="policy.json", Body=b'{"version": 1}')
    key = {"truststore": "ts.pem", "crl-store": "crls/issuing.crl", "policy": "policy.json"}[source]
    # only the source under test is in S3, so its fault is not hidden behind a truststore failure
    truststore = f"s3://{name}/ts.pem" if source == "truststore" else world.truststore.as_uri()
    env = {"TRUSTSTORE_URI": truststore, "FETCH_TIMEOUT_SECONDS": str(TIMEOUT), "FETCH_MAX_BYTES": str(1024 * 1024)}
    if source == "crl-store":
        env["CRL_STORE_URI"] = f"s3://{name}/crls/"
    if source == "policy":
        env["ACCESS_POLICY_URI"] = f"s3://{name}/policy.json"
    leaf = world.client(with_crl_url=False, with_ocsp_url=False).cert_pem()
    assert invoke(leaf, env=env | {"FETCH_TIMEOUT_SECONDS": "0.6"})[:2] == ("Allow", None)  # healthy first
    if fault == "garbage":
        s3.put_object(Bucket=name, Key=key, Body=b"\x00garbage" * 10)
    elif fault == "oversized":
        s3.put_object(Bucket=name, Key=key, Body=b"#" * (2 * 1024 * 1024))
    elif fault == "missing":
        s3.delete_object(Bucket=name, Key=key)
    else:
        endpoint = f"http://127.0.0.1:{free_port()}" if fault == "down" else broken_s3(fault)
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)
    expected = {
        "truststore": ("Deny", "TRUSTSTORE_UNAVAILABLE"),
        "crl-store": ("Deny", "REVOCATION_UNAVAILABLE"),  # no other source: hard-fail cannot allow
        "policy": ("Deny", "POLICY_UNAVAILABLE"),
    }[source]
    # crl-store "missing": the store is the leaf's only revocation source (no CDP, no OCSP URL), so a missing
    # stored CRL is no answer, not "no source" (issue 22): hard-fail denies
    started = time.monotonic()
    assert invoke(leaf, env=env)[:2] == expected  # a cold runtime (new settings): nothing cached to fall back on
    assert time.monotonic() - started < 4 * TIMEOUT * 2 + 2.0
    assert invoke(leaf, env=env | {"REVOCATION_MODE": "require"})[0] == "Deny"
    if source != "crl-store":
        assert invoke(leaf, env=env | {"REVOCATION_MODE": "soft-fail"})[:2] == expected  # not a revocation source


@pytest.mark.parametrize("fault", CONTENT)
def test_crl_store_content_faults(world: World, invoke: Invoke, bucket, fault: str) -> None:
    """A stored CRL that is stale, signed by the wrong key, or another CA's is never an answer."""
    s3, name = bucket
    impostor = CertificateAuthority.root("impostor")
    then = utcnow() - dt.timedelta(days=3)
    crl = {
        "stale": lambda: world.issuing.crl({}, this_update=then, next_update=then + dt.timedelta(days=1)),
        "wrong-key": lambda: world.issuing.crl({}, signer=impostor.key),
        "other-cert": lambda: impostor.crl({}),
    }[fault]()
    s3.put_object(Bucket=name, Key="crls/issuing.crl", Body=crl_der(crl))
    leaf = world.client(with_crl_url=False, with_ocsp_url=False).cert_pem()
    env = {"CRL_STORE_URI": f"s3://{name}/crls/"}
    # the store is this certificate's only source (no CDP, no OCSP URL): another CA's CRL leaves it without a
    # stored CRL, which is no answer (issue 22), and the other two are CRLs that fail
    assert invoke(leaf, env=env)[:2] == ("Deny", "REVOCATION_UNAVAILABLE")
    assert invoke(leaf, env=env | {"REVOCATION_MODE": "require"})[:2] == ("Deny", "REVOCATION_UNAVAILABLE")
    assert invoke(leaf, env=env | {"REVOCATION_MODE": "soft-fail"})[:2] == ("Allow", None)
