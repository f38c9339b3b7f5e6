"""The truststore: trust anchors and intermediates parsed from a PEM bundle."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from cryptography import x509

from .certificates import is_ca, issued_by, load_pem_bundle

MAX_MEMO = 50_000
T = TypeVar("T")


class TruststoreError(ValueError):
    """The bundle is unreadable or holds no CA certificate."""


@dataclass(frozen=True)
class Truststore:
    """CA certificates indexed by subject; self-signed ones are anchors."""

    anchors: frozenset[x509.Certificate]
    by_subject: dict[bytes, tuple[x509.Certificate, ...]] = field(repr=False)
    memo: dict[Hashable, Any] = field(default_factory=dict, repr=False, compare=False)
    """Results that depend only on certificates (signature links, path structure), kept for this truststore."""

    def issuers_of(self, cert: x509.Certificate) -> tuple[x509.Certificate, ...]:
        """Every CA whose subject equals ``cert``'s issuer name (signatures are not checked here)."""
        return self.by_subject.get(cert.issuer.public_bytes(), ())

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


def parse_truststore(data: bytes) -> Truststore:
    """Parse a PEM bundle; only CA:TRUE certificates are kept, and at least one must be."""
    try:
        certs = load_pem_bundle(data)
    except ValueError as exc:
        raise TruststoreError(f"truststore is not a PEM certificate bundle: {exc}") from None
    by_subject: dict[bytes, list[x509.Certificate]] = defaultdict(list)
    anchors: set[x509.Certificate] = set()
    seen: set[x509.Certificate] = set()
    for cert in certs:
        if not is_ca(cert) or cert in seen:
            continue
        seen.add(cert)
        by_subject[cert.subject.public_bytes()].append(cert)
        if cert.subject == cert.issuer and issued_by(cert, cert):
            anchors.add(cert)
    if not anchors:
        raise TruststoreError(f"truststore holds {len(certs)} certificate(s) but no self-signed CA")
    return Truststore(
        anchors=frozenset(anchors),
        by_subject={key: tuple(value) for key, value in by_subject.items()},
    )
