"""The fetcher (pool, per-decision cap, batch deadline) and the plan (which sources a certificate names)."""

from __future__ import annotations

import threading
import time

from cryptography import x509
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fixed import cdp, client, root, sub, uri_point
from nodegate_authorizer.certificates import key_digest
from nodegate_authorizer.revocation.fetcher import Fetcher
from nodegate_authorizer.revocation.plan import Source, plan_sources
from nodegate_authorizer.urls import http_url


def test_fetcher_asks_every_source_and_holds_one_deadline() -> None:
    release = threading.Event()

    def fetch(url: str, body: bytes | None) -> bytes:
        if "slow" in url:
            release.wait(5)
        return url.encode() + (body or b"")

    fetcher = Fetcher(fetch, timeout=0.2, workers=4)
    jobs: dict[Source, bytes | None] = {
        Source("crl", "http://a/1", b"k"): None,
        Source("ocsp", "http://a/2", b"k", 7): b"+req",
        Source("crl", "http://a/slow", b"k"): None,
        Source("crl", "http://a/4", b"k"): None,
    }
    started = time.monotonic()
    deadline = fetcher.deadline()
    results = fetcher.fetch_all(jobs, deadline)
    assert fetcher.fetch_all({Source("crl", "http://a/slow2", b"k"): None}, deadline)  # same deadline, passed
    release.set()
    assert time.monotonic() - started < 0.6  # one timeout for both batches, not the slow source's 5 s
    values = [results[source] for source in jobs]
    assert values[0] == b"http://a/1"
    assert values[1] == b"http://a/2+req"
    assert isinstance(values[2], TimeoutError)
    assert values[3] == b"http://a/4"  # every source is asked: no per-decision cap
    assert fetcher.fetch_all({}, deadline) == {}


def test_fetch_errors_come_back_as_values() -> None:
    def fetch(url: str, body: bytes | None) -> bytes:
        raise OSError(f"refused {url}")

    (result,) = (
        Fetcher(fetch, timeout=1).fetch_all({Source("crl", "http://a/x", b"k"): None}, time.monotonic() + 1).values()
    )
    assert isinstance(result, OSError)
    assert str(result) == "refused http://a/x"


def test_plan_names_every_source_and_what_cannot_be_used() -> None:
    top = root()
    ca = sub(top, crl_url="http://pki.example/issuing.crl", ocsp_url="http://pki.example/ocsp")
    points = cdp(
        uri_point("http://pki.example/part.crl", reasons=frozenset({x509.ReasonFlags.key_compromise})),
        x509.DistributionPoint([x509.UniformResourceIdentifier("ldap://pki.example/cn=x")], None, None, None),
    )
    freshest = (x509.FreshestCRL([uri_point("http://pki.example/delta.crl")]), False)
    leaf = client(ca, with_crl_url=False, extensions=[points, freshest]).cert
    plan = plan_sources(leaf, ca.cert)
    key = key_digest(ca.cert)
    assert [s.url for s in plan.crls] == ["http://pki.example/part.crl", "http://pki.example/delta.crl"]
    assert all(s.kind == "crl" and s.issuer_key == key for s in plan.crls)
    assert plan.ocsp == (Source("ocsp", "http://pki.example/ocsp", key, leaf.serial_number),)
    assert len(plan.unusable) == 1
    assert plan.unusable[0].startswith("CRL distribution point without an http(s) URL")
    assert key_digest(top.cert) != key
    bare = plan_sources(client(ca, with_crl_url=False, with_ocsp_url=False).cert, ca.cert)
    assert (bare.crls, bare.ocsp, bare.unusable) == ((), (), ())


def test_freshest_crl_and_cdp_without_http_are_named_unusable_and_http_is_case_insensitive() -> None:
    ca = sub(root())
    ldap_freshest = (
        x509.FreshestCRL(
            [x509.DistributionPoint([x509.UniformResourceIdentifier("ldap://pki.example/delta")], None, None, None)]
        ),
        False,
    )
    upper = cdp(uri_point("HTTP://PKI.EXAMPLE/ISSUING.CRL"), uri_point("https://pki.example/issuing.crl"))
    leaf = client(ca, with_crl_url=False, with_ocsp_url=False, extensions=[upper, ldap_freshest]).cert
    plan = plan_sources(leaf, ca.cert)
    assert [s.url for s in plan.crls] == ["HTTP://PKI.EXAMPLE/ISSUING.CRL", "https://pki.example/issuing.crl"]
    assert len(plan.unusable) == 1
    assert plan.unusable[0].startswith("freshest CRL without an http(s) URL")


def test_the_plan_bounds_sources_per_certificate_and_names_the_rest() -> None:
    """The bound that keeps one certificate from taking the pool lives in the plan (per certificate), so no
    source of another certificate of the path goes unasked; the ones beyond it are named, never fetched."""
    from nodegate_authorizer.revocation.plan import MAX_PER_KIND

    ca = sub(root())
    crl_urls = [f"http://crl.example/{n}.crl" for n in range(MAX_PER_KIND + 2)]
    ocsp = [
        x509.AccessDescription(x509.AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(f"http://o/{n}"))
        for n in range(MAX_PER_KIND + 1)
    ]
    leaf = client(
        ca,
        with_crl_url=False,
        with_ocsp_url=False,
        extensions=[cdp(*(uri_point(u) for u in crl_urls)), (x509.AuthorityInformationAccess(ocsp), False)],
    ).cert
    plan = plan_sources(leaf, ca.cert)
    assert [s.url for s in plan.crls] == crl_urls[:MAX_PER_KIND]
    assert len(plan.ocsp) == MAX_PER_KIND
    assert len([u for u in plan.unusable if "not asked" in u]) == 3
    assert plan.issuer_key == key_digest(ca.cert)


CA = sub(root())
URL_TEXT = st.text(alphabet="hpst:/[]@%?#.-0123456789aAfF:x ", max_size=40)


@settings(max_examples=300, deadline=None)
@given(tail=URL_TEXT, scheme=st.sampled_from(["http://", "https://", "HTTP://", "ftp://", ""]))
@example(tail="[::1", scheme="http://")
@example(tail="h:99999/a.crl", scheme="http://")
@example(tail="h:-1/a.crl", scheme="https://")
def test_a_url_from_outside_is_usable_or_nothing_never_an_exception(tail: str, scheme: str) -> None:
    """``urls.http_url`` is the one parse of a certificate's or a setting's URL: it never raises, and what it
    accepts can be fetched (a host, a port in range); ``urlsplit`` itself raises ValueError on ``[::1`` and
    ``.port`` on a port out of range. A certificate naming such URLs plans only the usable ones."""
    text = scheme + tail
    parts = http_url(text)
    if parts is not None:
        assert parts.scheme in ("http", "https")
        assert parts.hostname
        assert parts.port is None or 0 <= parts.port <= 65535
    leaf = client(CA, with_crl_url=False, with_ocsp_url=False, extensions=[cdp(uri_point(text))]).cert
    plan = plan_sources(leaf, CA.cert)
    assert [source.url for source in plan.crls] == ([text] if parts is not None else [])
    assert len(plan.unusable) == (parts is None)
