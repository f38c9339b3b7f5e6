"""Memoised CRL evaluations (issue 21) through the public handler at a fixed clock: a new CRL version, an
expired CRL or OCSP answer and a rolled-back CRL are seen on the very next decision, and the memo is bounded
and keeps no CRL alive.

Real certificates, real CRL files in a ``file://`` CRL store (re-listed on every decision), real OCSP answers
from a local responder; ``make_handler(build_runtime(load_settings(env)), clock)`` as the edge and the stack
build it."""

from __future__ import annotations

import datetime as dt
import gc
import os
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import ocsp

from fixed import HOUR, NOW, client, crl_bytes, root, sub
from nodegate.pki.authority import CertificateAuthority, pem
from nodegate.pki.server import RevocationServer
from nodegate_authorizer.handler import make_handler
from nodegate_authorizer.revocation import checker as checker_module
from nodegate_authorizer.runtime import Runtime, build_runtime
from nodegate_authorizer.settings import load_settings
from nodegate_dev.world import decision, event

SKEW = dt.timedelta(seconds=60)


@dataclass
class Stand:
    """A root -> issuing CA PKI whose CRLs live in a ``file://`` CRL store, and a handler at ``clock.now``."""

    top: CertificateAuthority
    ca: CertificateAuthority
    store: Path
    runtime: Runtime
    now: dt.datetime = NOW

    def decide(self, cert_pem: bytes) -> tuple[str, str | None]:
        response = make_handler(self.runtime, lambda: self.now)(event(cert_pem), None)
        return decision(response)

    def publish(self, name: str, data: bytes) -> None:
        """Write a CRL file with a new mtime, so the store's change tag moves even within one clock tick."""
        path = self.store / name
        stamp = path.stat().st_mtime_ns + 1_000_000 if path.exists() else None
        path.write_bytes(data)
        if stamp is not None:
            os.utime(path, ns=(stamp, stamp))


def stand(tmp_path: Path, mode: str = "hard-fail", **env: str) -> Stand:
    top = root()
    ca = sub(top)
    truststore = tmp_path / "truststore.pem"
    truststore.write_bytes(pem(top.cert, ca.cert))
    store = tmp_path / "crls"
    store.mkdir()
    (store / "root.crl").write_bytes(crl_bytes(top))
    (store / "issuing.crl").write_bytes(crl_bytes(ca))
    settings = load_settings(
        {
            "TRUSTSTORE_URI": truststore.as_uri(),
            "CRL_STORE_URI": store.as_uri() + "/",
            "CRL_STORE_REFRESH_SECONDS": "0",
            "REVOCATION_MODE": mode,
            "REVOCATION_CACHE_SECONDS": "3600",
            "FETCH_ALLOWED_NETWORKS": "127.0.0.0/8",
        }
        | env
    )
    return Stand(top, ca, store, build_runtime(settings))


def test_a_new_crl_version_that_revokes_is_seen_on_the_next_decision(tmp_path: Path) -> None:
    s = stand(tmp_path)
    leaf = client(s.ca)
    assert s.decide(leaf.cert_pem()) == ("Allow", None)
    assert s.decide(leaf.cert_pem()) == ("Allow", None)
    assert len(s.runtime.revocation.evaluations) == 2  # the leaf's and the issuing CA's evaluations are memoised
    s.publish("issuing.crl", crl_bytes(s.ca, [leaf.cert.serial_number], number=2))
    assert s.decide(leaf.cert_pem()) == ("Deny", "REVOKED")


def test_a_new_crl_version_with_the_same_number_is_a_new_evaluation(tmp_path: Path) -> None:
    """The memo is keyed by the parsed CRL object, not by its URL or cRLNumber: a reissued #1 that lists the
    certificate is read (RFC 5280 5.2.3 wants numbers to increase; nodegate does not rely on it to see a
    revocation)."""
    s = stand(tmp_path)
    leaf = client(s.ca)
    assert s.decide(leaf.cert_pem()) == ("Allow", None)
    s.publish("issuing.crl", crl_bytes(s.ca, [leaf.cert.serial_number]))
    assert s.decide(leaf.cert_pem()) == ("Deny", "REVOKED")


@pytest.mark.parametrize(("mode", "after"), [("hard-fail", "Deny"), ("require", "Deny"), ("soft-fail", "Allow")])
def test_an_expired_crl_is_not_used_on_the_next_decision(tmp_path: Path, mode: str, after: str) -> None:
    """A memoised evaluation is reused only while each CRL's freshness is unchanged: at nextUpdate + skew the
    CRL still answers, one microsecond later it does not (RFC 5280 6.3.3 (a)(2)), whatever the memo holds."""
    s = stand(tmp_path, mode)
    next_update = NOW + HOUR
    s.publish("issuing.crl", crl_bytes(s.ca, next_update=next_update))
    leaf = client(s.ca)
    assert s.decide(leaf.cert_pem()) == ("Allow", None)
    s.now = next_update + SKEW
    assert s.decide(leaf.cert_pem()) == ("Allow", None)
    s.now = next_update + SKEW + dt.timedelta(microseconds=1)
    effect, reason = s.decide(leaf.cert_pem())
    assert (effect, reason) == (after, None if after == "Allow" else "REVOCATION_UNAVAILABLE")


def test_a_crl_not_yet_current_is_used_once_its_this_update_comes(tmp_path: Path) -> None:
    """The other edge of freshness: an evaluation made while the only CRL was in the future is not reused once
    the CRL becomes current."""
    s = stand(tmp_path)
    s.publish("issuing.crl", crl_bytes(s.ca, this_update=NOW + HOUR, next_update=NOW + 5 * HOUR))
    leaf = client(s.ca)
    assert s.decide(leaf.cert_pem()) == ("Deny", "REVOCATION_UNAVAILABLE")
    s.now = NOW + HOUR - SKEW
    assert s.decide(leaf.cert_pem()) == ("Allow", None)


def test_a_rolled_back_crl_is_still_refused(tmp_path: Path) -> None:
    s = stand(tmp_path)
    leaf = client(s.ca)
    newer = crl_bytes(s.ca, number=2)
    s.publish("issuing.crl", newer)
    assert s.decide(leaf.cert_pem()) == ("Allow", None)
    s.publish("issuing.crl", crl_bytes(s.ca, number=1))  # older, still inside its nextUpdate
    assert s.decide(leaf.cert_pem()) == ("Deny", "REVOCATION_UNAVAILABLE")
    s.publish("issuing.crl", newer)  # the same bytes as the evaluation memoised before the rollback
    assert s.decide(leaf.cert_pem()) == ("Allow", None)


def test_the_memo_is_bounded_and_keeps_no_old_crl_alive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An attacker presenting many valid certificates grows the memo to MAX_EVALUATIONS entries and no further
    (FIFO); its entries hold facts of the CRLs used, so a superseded CRL version is freed."""
    assert checker_module.MAX_EVALUATIONS == 4096
    monkeypatch.setattr(checker_module, "MAX_EVALUATIONS", 16)
    s = stand(tmp_path)
    leaves = [client(s.ca, user=f"user{n}") for n in range(40)]
    for leaf in leaves:
        assert s.decide(leaf.cert_pem()) == ("Allow", None)
        assert len(s.runtime.revocation.evaluations) <= 16
    assert len(s.runtime.revocation.evaluations) == 16
    assert s.decide(leaves[0].cert_pem()) == ("Allow", None)  # evicted long ago: evaluated again
    assert s.runtime.crl_store is not None
    (old,) = (
        index
        for _, index in s.runtime.crl_store.get().entries.values()
        if index and index.issuer_name == s.ca.cert.subject
    )
    gone = weakref.ref(old.revoked)  # the parsed CRL and its DER: held by the CrlIndex, and only by it
    del old
    s.publish("issuing.crl", crl_bytes(s.ca, [leaves[1].cert.serial_number], number=2))
    assert s.decide(leaves[1].cert_pem()) == ("Deny", "REVOKED")
    gc.collect()
    assert gone() is None, "a superseded CRL is still referenced"


@pytest.fixture
def responder() -> Iterator[dict[str, Any]]:
    """A local OCSP responder whose answers the test sets (``answers["issuing"]``: a function of the request)."""
    answers: dict[str, Any] = {}

    class Responder:
        def crl(self, ca: str) -> bytes | None:
            return None

        def ocsp(self, ca: str, request: bytes) -> bytes | None:
            return answers[ca](ocsp.load_der_ocsp_request(request)) if ca in answers else None

    server = RevocationServer(Responder()).start()  # type: ignore[arg-type]
    answers["url"] = server.url
    yield answers
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("mode", "after"), [("hard-fail", "Deny"), ("soft-fail", "Allow")])
def test_an_expired_ocsp_answer_is_not_used_on_the_next_decision(
    tmp_path: Path, responder: dict[str, Any], mode: str, after: str
) -> None:
    """An OCSP answer (the leaf's only source) is used up to its nextUpdate + skew, re-fetched after it, and a
    responder that keeps serving the expired answer leaves the certificate unanswered."""
    top = root()
    ca = sub(top, ocsp_url=f"{responder['url']}/ocsp/issuing")
    leaf = client(ca)
    next_update = NOW + HOUR

    def answer(request: ocsp.OCSPRequest) -> bytes:
        response = ca.ocsp_response(request, ocsp.OCSPCertStatus.GOOD, this_update=NOW - HOUR, validity=2 * HOUR)
        return response.public_bytes(serialization.Encoding.DER)

    responder["issuing"] = answer
    truststore = tmp_path / "truststore.pem"
    truststore.write_bytes(pem(top.cert, ca.cert))
    settings = load_settings(
        {
            "TRUSTSTORE_URI": truststore.as_uri(),
            "REVOCATION_MODE": mode,
            "REVOCATION_CACHE_SECONDS": "3600",
            "FETCH_ALLOWED_NETWORKS": "127.0.0.0/8",
            "REVOCATION_RETRY_SECONDS": "0",
        }
    )
    clock = [NOW]
    handler = make_handler(build_runtime(settings), lambda: clock[0])
    assert decision(handler(event(leaf.cert_pem()), None)) == ("Allow", None)
    clock[0] = next_update + SKEW
    assert decision(handler(event(leaf.cert_pem()), None)) == ("Allow", None)
    clock[0] = next_update + SKEW + dt.timedelta(microseconds=1)
    response = handler(event(leaf.cert_pem()), None)
    assert decision(response) == (after, None if after == "Allow" else "REVOCATION_UNAVAILABLE")
