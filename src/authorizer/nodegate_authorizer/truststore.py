"""The truststore: trust anchors and intermediates parsed from a PEM bundle."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from cryptography import x509

from .certificates import is_ca, issued_by, load_pem_bundle, sha256_hex


class TruststoreError(ValueError):
    """The bundle is unreadable or holds no CA certificate."""


@dataclass(frozen=True)
class Truststore:
    """CA certificates indexed by subject; self-signed ones are anchors."""

    anchors: frozenset[bytes]
    by_subject: dict[bytes, tuple[x509.Certificate, ...]] = field(repr=False)
    size: int = 0

    def issuers_of(self, cert: x509.Certificate) -> tuple[x509.Certificate, ...]:
        """Every CA whose subject equals ``cert``'s issuer name (signatures are not checked here)."""
        return self.by_subject.get(cert.issuer.public_bytes(), ())

    def is_anchor(self, cert: x509.Certificate) -> bool:
        """True when ``cert`` is one of the self-signed anchors of this store."""
        return sha256_hex(cert).encode() in self.anchors


def parse_truststore(data: bytes) -> Truststore:
    """Parse a PEM bundle; only CA:TRUE certificates are kept, and at least one must be."""
    try:
        certs = load_pem_bundle(data)
    except ValueError as exc:
        raise TruststoreError(f"truststore is not a PEM certificate bundle: {exc}") from None
    by_subject: dict[bytes, list[x509.Certificate]] = defaultdict(list)
    anchors: set[bytes] = set()
    seen: set[bytes] = set()
    for cert in certs:
        fingerprint = sha256_hex(cert).encode()
        if not is_ca(cert) or fingerprint in seen:
            continue
        seen.add(fingerprint)
        by_subject[cert.subject.public_bytes()].append(cert)
        if cert.subject == cert.issuer and issued_by(cert, cert):
            anchors.add(fingerprint)
    if not anchors:
        raise TruststoreError(f"truststore holds {len(certs)} certificate(s) but no self-signed CA")
    return Truststore(
        anchors=frozenset(anchors),
        by_subject={key: tuple(value) for key, value in by_subject.items()},
        size=len(seen),
    )
