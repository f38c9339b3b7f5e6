"""A local stack that runs for days: CRLs re-signed at start and before they expire (real stack, real CRLs)."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import ssl
import time
from pathlib import Path

from cryptography import x509

from nodegate.devpki import DevPki, init_pki, resign_due
from nodegate.pki import utcnow
from nodegate.stack import Stack, free_port, running_stack


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
