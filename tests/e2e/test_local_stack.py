"""A local stack that runs for days: CRLs re-signed at start and before they expire (real stack, real CRLs), and
no traceback when a client of the CRL/OCSP server hangs up."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import socket
import ssl
import struct
import time
from pathlib import Path

import pytest
from cryptography import x509

from nodegate.local.stack import Stack, free_port, running_stack
from nodegate.pki.authority import utcnow
from nodegate.pki.directory import DevPki, init_pki, resign_due
from nodegate.pki.server import RevocationServer


def whoami(stack: Stack) -> tuple[int, dict[str, str]]:
    context = ssl.create_default_context(cafile=str(stack.pki.root / "root-ca.pem"))
    stem = stack.pki.root / "clients" / "alice-node-1"
    context.load_cert_chain(f"{stem}.pem", f"{stem}.key")
    connection = http.client.HTTPSConnection("127.0.0.1", stack.edge.server_address[1], context=context, timeout=15)
    try:
        connection.request("GET", "/nodes/node-1/whoami")
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def next_updates(pki: DevPki) -> list[dt.datetime]:
    crls = [x509.load_der_x509_crl((pki.root / "crl" / f"{ca}.crl").read_bytes()) for ca in ("root", "issuing")]
    return [crl.next_update_utc for crl in crls if crl.next_update_utc is not None]


def expired_pki(directory: Path) -> DevPki:
    """A PKI whose published CRLs have expired, as after a night with the stack stopped."""
    pki = init_pki(directory, f"http://127.0.0.1:{free_port()}")
    pki.issue("alice", "node-1")
    pki.publish_crls(next_update=dt.timedelta(seconds=1))
    deadline = time.monotonic() + 10
    while not all(when < utcnow() for when in next_updates(pki)):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    return pki


def test_the_stack_re_signs_expired_crls_at_start(tmp_path: Path) -> None:
    expired_pki(tmp_path / "pki")
    with running_stack(tmp_path / "pki") as stack:
        assert all(when > utcnow() + dt.timedelta(minutes=30) for when in next_updates(stack.pki))
        assert whoami(stack)[0] == 200


def test_the_stack_re_signs_crls_before_they_expire(tmp_path: Path) -> None:
    with running_stack(tmp_path / "pki") as stack:
        stack.pki.issue("alice", "node-1")
        assert whoami(stack)[0] == 200
        stack.pki.publish_crls(next_update=dt.timedelta(seconds=4))  # as if most of the hour had passed
        expiry = max(next_updates(stack.pki))
        while utcnow() <= expiry + dt.timedelta(seconds=1):  # past their nextUpdate: re-signed meanwhile?
            time.sleep(0.2)
        assert all(when > utcnow() + dt.timedelta(minutes=30) for when in next_updates(stack.pki))
        deadline = time.monotonic() + 15  # the edge's CRL store re-reads S3 every 5 s
        while whoami(stack)[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.5)
        status, body = whoami(stack)
        assert (status, body.get("userId")) == (200, "alice"), body


def test_re_signing_is_due_at_half_the_validity() -> None:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    hour = dt.timedelta(hours=1)
    assert not resign_due(start, start + hour, start + hour / 2 - dt.timedelta(seconds=1))
    assert resign_due(start, start + hour, start + hour / 2)
    assert resign_due(start, start + hour, start + 2 * hour)
    assert resign_due(start, None, start)


class SlowResponder:
    """Answers a large CRL after the client has given up."""

    def crl(self, ca: str) -> bytes | None:
        time.sleep(0.5)
        return b"x" * (4 * 1024 * 1024)

    def ocsp(self, ca: str, request: bytes) -> bytes | None:
        return None


def test_a_client_that_hangs_up_is_no_traceback(capfd: pytest.CaptureFixture[str]) -> None:
    """A fetcher past its timeout closes the connection; the CRL/OCSP server writes into it: no traceback."""
    server = RevocationServer(SlowResponder()).start()
    try:
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", server.server_address[1])) as client:
                client.sendall(b"GET /crl/root.crl HTTP/1.1\r\nHost: x\r\n\r\n")
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with RST
        time.sleep(1.5)  # the server answers into the closed connections meanwhile
    finally:
        server.shutdown()
        server.server_close()
    assert "Traceback" not in capfd.readouterr().err
