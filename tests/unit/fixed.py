"""A PKI at a fixed clock for unit tests: no servers, no sleeps, ``NOW`` everywhere."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence

from cryptography import x509

from nodegate.pki.authority import CertificateAuthority, Issued, client_name, crl_der
from nodegate_authorizer.chain import PathPolicy
from nodegate_authorizer.revocation.checker import RevocationChecker
from nodegate_authorizer.revocation.crl import CrlIndex, parse_crl
from nodegate_authorizer.revocation.store import EMPTY_STORE, CrlStore
from nodegate_authorizer.settings import Settings, load_settings

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


def root(common_name: str = "Fixed Root", **urls: str | None) -> CertificateAuthority:
    return CertificateAuthority.root(common_name, not_before=T0, **urls)


def sub(parent: CertificateAuthority, common_name: str = "Fixed Issuing", **kw: object) -> CertificateAuthority:
    return parent.sub_ca(common_name, not_before=T0, **kw)  # type: ignore[arg-type]


def client(ca: CertificateAuthority, user: str = "alice", node: str = "node-1", **kw: object) -> Issued:
    return ca.issue(client_name(user, node), not_before=T0, **kw)  # type: ignore[arg-type]


def crl_bytes(
    ca: CertificateAuthority,
    revoked: Sequence[int] = (),
    *,
    this_update: dt.datetime = NOW - HOUR,
    next_update: dt.datetime = NOW + 24 * HOUR,
    **kw: object,
) -> bytes:
    crl = ca.crl(dict.fromkeys(revoked, T0), this_update=this_update, next_update=next_update, **kw)  # type: ignore[arg-type]
    return crl_der(crl)


def crl_builder(issuer: x509.Name, number: int = 1) -> x509.CertificateRevocationListBuilder:
    """A CRL builder of ``issuer``, current at NOW for an hour each way, with its cRLNumber (RFC 5280 5.2.3)."""
    return (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer)
        .last_update(NOW - HOUR)
        .next_update(NOW + HOUR)
        .add_extension(x509.CRLNumber(number), critical=False)
    )


def crl(ca: CertificateAuthority, revoked: Sequence[int] = (), **kw: object) -> CrlIndex:
    return parse_crl(crl_bytes(ca, revoked, **kw))


def uri_point(url: str, **kw: object) -> x509.DistributionPoint:
    """A distribution point with one URI full name (reasons / crl_issuer through ``kw``)."""
    return x509.DistributionPoint([x509.UniformResourceIdentifier(url)], None, kw.get("reasons"), kw.get("crl_issuer"))  # type: ignore[arg-type]


def cdp(*points: x509.DistributionPoint) -> tuple[x509.CRLDistributionPoints, bool]:
    return x509.CRLDistributionPoints(list(points)), False


def idp(*urls: str, **flags: object) -> tuple[x509.IssuingDistributionPoint, bool]:
    """An issuingDistributionPoint extension (critical, as RFC 5280 requires)."""
    values = {
        "only_contains_user_certs": False,
        "only_contains_ca_certs": False,
        "only_some_reasons": None,
        "indirect_crl": False,
        "only_contains_attribute_certs": False,
    } | flags
    names = [x509.UniformResourceIdentifier(u) for u in urls] or None
    return x509.IssuingDistributionPoint(full_name=names, relative_name=None, **values), True  # type: ignore[arg-type]


class Web:
    """An in-memory network for the fetch adapter: URL -> bytes (or a function of the POSTed body)."""

    def __init__(self) -> None:
        self.pages: dict[str, bytes | Callable[[bytes | None], bytes]] = {}
        self.hits: Counter[str] = Counter()

    def __call__(self, url: str, body: bytes | None) -> bytes:
        self.hits[url] += 1
        page = self.pages.get(url)
        if page is None:
            raise OSError(f"connection refused: {url}")
        return page(body) if callable(page) else page


def settings(**env: str) -> Settings:
    return load_settings({"TRUSTSTORE_URI": "file:///unused", "REVOCATION_RETRY_SECONDS": "30"} | env)


def checker(web: Web, store: CrlStore = EMPTY_STORE, **env: str) -> RevocationChecker:
    return RevocationChecker(settings(**env), web, lambda: store, PathPolicy())
