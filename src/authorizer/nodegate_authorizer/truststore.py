"""The truststore: trust anchors, intermediates and CRL signers parsed from a PEM bundle."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from cryptography import x509

from .certificates import extension, is_ca, issued_by, load_certificate, pem_blocks
from .names import CanonicalName, canonical, is_self_issued

MAX_MEMO = 50_000
T = TypeVar("T")


class TruststoreError(ValueError):
    """The bundle is unreadable or holds no usable trust anchor."""


@dataclass(frozen=True)
class Truststore:
    """CA certificates indexed by subject (RFC 5280 7.1 form); self-signed ones are anchors.

    ``crl_signers`` are non-CA certificates whose key usage is cRLSign: they may sign CRLs, never certificates.
    ``skipped`` says which bundle entries were left out and why (API Gateway, too, ignores unusable entries)."""

    anchors: frozenset[x509.Certificate]
    by_subject: dict[CanonicalName, tuple[x509.Certificate, ...]] = field(repr=False)
    crl_signers: dict[CanonicalName, tuple[x509.Certificate, ...]] = field(default_factory=dict, repr=False)
    skipped: tuple[str, ...] = ()
    memo: dict[Hashable, Any] = field(default_factory=dict, repr=False, compare=False)
    """Results that depend only on certificates (signature links, path structure), kept for this truststore."""

    def issuers_of(self, cert: x509.Certificate) -> tuple[x509.Certificate, ...]:
        """Every CA whose subject matches ``cert``'s issuer name (signatures are not checked here)."""
        return self.by_subject.get(canonical(cert.issuer), ())

    def named(self, name: x509.Name) -> tuple[x509.Certificate, ...]:
        """Every CA or CRL signer whose subject matches ``name``."""
        key = canonical(name)
        return self.by_subject.get(key, ()) + self.crl_signers.get(key, ())

    def is_anchor(self, cert: x509.Certificate) -> bool:
        """True when ``cert`` is one of the self-signed anchors of this store."""
        return cert in self.anchors

    def remember(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, memoised (bounded) for the life of this truststore; only for time-independent facts."""
        if key not in self.memo:
            if len(self.memo) > MAX_MEMO:
                self.memo.clear()
            self.memo[key] = compute()
        return self.memo[key]  # type: ignore[no-any-return]

    def signed(self, child: x509.Certificate, issuer: x509.Certificate) -> bool:
        """``issued_by(child, issuer)``, memoised: a signature link never changes."""
        return self.remember(("signed", child, issuer), lambda: issued_by(child, issuer))


def _is_crl_signer(cert: x509.Certificate) -> bool:
    usage = extension(cert, x509.KeyUsage)
    return usage is not None and usage.crl_sign


def parse_truststore(data: bytes) -> Truststore:
    """Parse a PEM bundle. Entries that do not parse, or are neither CAs nor CRL signers, are skipped
    (and named in ``skipped``); at least one self-signed CA must remain."""
    blocks = pem_blocks(data)
    if not blocks:
        raise TruststoreError("truststore holds no PEM certificate block")
    by_subject: dict[CanonicalName, list[x509.Certificate]] = defaultdict(list)
    signers: dict[CanonicalName, list[x509.Certificate]] = defaultdict(list)
    anchors: set[x509.Certificate] = set()
    seen: set[x509.Certificate] = set()
    skipped: list[str] = []
    for number, block in enumerate(blocks, start=1):
        try:
            cert = load_certificate(block)
        except ValueError as exc:
            skipped.append(f"entry {number}: does not parse: {str(exc)[:200]}")
            continue
        if cert in seen:
            continue
        seen.add(cert)
        if not is_ca(cert):
            if _is_crl_signer(cert):
                signers[canonical(cert.subject)].append(cert)
            else:
                skipped.append(f"entry {number}: {cert.subject.rfc4514_string()[:200]} is not a CA")
            continue
        by_subject[canonical(cert.subject)].append(cert)
        if is_self_issued(cert) and issued_by(cert, cert):
            anchors.add(cert)
    if not anchors:
        raise TruststoreError(f"truststore holds {len(blocks)} certificate(s) but no usable self-signed CA")
    return Truststore(
        anchors=frozenset(anchors),
        by_subject={key: tuple(value) for key, value in by_subject.items()},
        crl_signers={key: tuple(value) for key, value in signers.items()},
        skipped=tuple(skipped),
    )
