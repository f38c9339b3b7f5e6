"""Where a certificate's revocation status can be asked: typed sources, and the entries that cannot be used."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID

from ..certificates import extension, key_digest
from ..urls import http_url

MAX_PER_KIND = 4
"""CRL URLs and OCSP URLs asked per certificate at most; the others are named unusable (so one certificate
cannot take the fetch pool, and no source of the path goes unasked for another's sake)."""


class Source(NamedTuple):
    """One place to ask: a CRL URL, or an OCSP responder for one (issuer key, serial)."""

    kind: str
    url: str
    issuer_key: bytes
    serial: int | None = None

    def __str__(self) -> str:
        return f"{self.kind}:{self.url}"


class Plan(NamedTuple):
    """Sources for one certificate; ``unusable`` names entries we cannot ask (they answer nothing)."""

    crls: tuple[Source, ...]
    ocsp: tuple[Source, ...]
    unusable: tuple[str, ...]
    issuer_key: bytes = b""
    has_cdp: bool = False
    """The certificate carries a cRLDistributionPoints extension (usable or not)."""


def http_urls(names: Iterable[x509.GeneralName] | None) -> list[str]:
    """The usable http(s) URIs among ``names`` (``urls.http_url``: scheme compared case-insensitively, a host and
    a port in range); the others are no source."""
    return [
        name.value for name in names or () if isinstance(name, x509.UniformResourceIdentifier) and http_url(name.value)
    ]


def plan_sources(cert: x509.Certificate, issuer: x509.Certificate) -> Plan:
    """Every CRL distribution point (with reasons or cRLIssuer too), freshest-CRL and OCSP location of ``cert``."""
    key = key_digest(issuer)  # failure marks and OCSP answers are kept per issuer key
    unusable: list[str] = []
    crl_urls: list[str] = []
    for kind, points in (
        ("CRL distribution point", extension(cert, x509.CRLDistributionPoints)),
        ("freshest CRL", extension(cert, x509.FreshestCRL)),
    ):
        for point in points or ():
            urls = http_urls(point.full_name)
            if (not urls and kind == "freshest CRL") or (point.full_name and not urls):
                unusable.append(f"{kind} without an http(s) URL: {[str(n.value) for n in point.full_name or ()]}")
            crl_urls += urls
    access: list[x509.AccessDescription] = list(extension(cert, x509.AuthorityInformationAccess) or [])
    ocsp_names = [d.access_location for d in access if d.access_method == AuthorityInformationAccessOID.OCSP]
    ocsp_urls = http_urls(ocsp_names)
    unusable += [f"OCSP responder without an http(s) URL: {n.value}" for n in ocsp_names if n.value not in ocsp_urls]
    crl_urls, ocsp_urls = list(dict.fromkeys(crl_urls)), list(dict.fromkeys(ocsp_urls))
    unusable += [f"CRL URL beyond the first {MAX_PER_KIND}, not asked: {url}" for url in crl_urls[MAX_PER_KIND:]]
    unusable += [f"OCSP URL beyond the first {MAX_PER_KIND}, not asked: {url}" for url in ocsp_urls[MAX_PER_KIND:]]
    return Plan(
        crls=tuple(Source("crl", url, key) for url in crl_urls[:MAX_PER_KIND]),
        ocsp=tuple(Source("ocsp", url, key, cert.serial_number) for url in ocsp_urls[:MAX_PER_KIND]),
        unusable=tuple(unusable),
        issuer_key=key,
        has_cdp=extension(cert, x509.CRLDistributionPoints) is not None,
    )
