"""The truststore: trust anchors and intermediates parsed from a PEM bundle."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from cryptography import x509

from .certificates import is_ca, issued_by, load_pem_bundle

MAX_LINKS = 50_000


class TruststoreError(ValueError):
    """The bundle is unreadable or holds no CA certificate."""


@dataclass(frozen=True)
class Truststore:
    """CA certificates indexed by subject; self-signed ones are anchors."""

    anchors: frozenset[x509.Certificate]
    by_subject: dict[bytes, tuple[x509.Certificate, ...]] = field(repr=False)
    size: int = 0
    links: dict[tuple[x509.Certificate, x509.Certificate], bool] = field(
        default_factory=dict, repr=False, compare=False
    )
    """Memo of signature checks (child, issuer) -> issued; signatures never change, so it is safe to keep."""

    def issuers_of(self, cert: x509.Certificate) -> tuple[x509.Certificate, ...]:
        """Every CA whose subject equals ``cert``'s issuer name (signatures are not checked here)."""
        return self.by_subject.get(cert.issuer.public_bytes(), ())

    def is_anchor(self, cert: x509.Certificate) -> bool:
        """True when ``cert`` is one of the self-signed anchors of this store."""
        return cert in self.anchors

    def signed(self, child: x509.Certificate, issuer: x509.Certificate) -> bool:
        """``issued_by(child, issuer)``, memoised (bounded) for the life of this truststore."""
        key = (child, issuer)
        if key not in self.links:
            if len(self.links) > MAX_LINKS:
                self.links.clear()
            self.links[key] = issued_by(child, issuer)
        return self.links[key]


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
        size=len(seen),
    )
