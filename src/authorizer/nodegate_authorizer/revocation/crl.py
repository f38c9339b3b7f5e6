"""CRLs: parse, index by serial (O(1) lookups), verify against the issuer, answer for a certificate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtensionOID

from ..certificates import extension, is_ca, serial_hex
from .answers import Answer, SourceInvalid, Status

KNOWN_CRL_EXTENSIONS = frozenset(
    {
        ExtensionOID.CRL_NUMBER,
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        ExtensionOID.ISSUING_DISTRIBUTION_POINT,
        ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
    }
)


@dataclass(frozen=True)
class CrlIndex:
    """A parsed CRL with its revoked serials in a set; ``digest`` identifies it for memoised checks."""

    crl: x509.CertificateRevocationList
    digest: bytes
    issuer_der: bytes
    revoked: frozenset[int]
    this_update: datetime
    next_update: datetime | None
    scope: str


def parse_crl(data: bytes) -> CrlIndex:
    """Parse a PEM or DER CRL into an index; raise SourceInvalid for anything unusable."""
    try:
        is_pem = data.lstrip().startswith(b"-----BEGIN")
        crl = x509.load_pem_x509_crl(data) if is_pem else x509.load_der_x509_crl(data)
        extensions = list(crl.extensions)
        revoked = frozenset(entry.serial_number for entry in crl)
    except ValueError as exc:
        raise SourceInvalid(f"malformed CRL: {exc}") from None
    scope = "all"
    for ext in extensions:
        if ext.oid == ExtensionOID.DELTA_CRL_INDICATOR:
            scope = "unsupported: delta CRL"
        elif ext.critical and ext.oid not in KNOWN_CRL_EXTENSIONS:
            scope = f"unsupported: critical extension {ext.oid.dotted_string}"
        elif isinstance(ext.value, x509.IssuingDistributionPoint):
            idp = ext.value
            if idp.indirect_crl or idp.only_some_reasons or idp.only_contains_attribute_certs:
                scope = "unsupported: indirect or partial CRL"
            elif idp.only_contains_user_certs:
                scope = "users"
            elif idp.only_contains_ca_certs:
                scope = "cas"
    digest = hashes.Hash(hashes.SHA256())
    digest.update(crl.tbs_certlist_bytes)
    return CrlIndex(
        crl=crl,
        digest=digest.finalize(),
        issuer_der=crl.issuer.public_bytes(),
        revoked=revoked,
        this_update=crl.last_update_utc,
        next_update=crl.next_update_utc,
        scope=scope,
    )


def verify_crl_signature(index: CrlIndex, issuer: x509.Certificate) -> None:
    """Check that ``issuer`` issued and signed the CRL; raise SourceInvalid otherwise."""
    if index.issuer_der != issuer.subject.public_bytes():
        raise SourceInvalid("CRL issuer name does not match the certificate issuer")
    usage = extension(issuer, x509.KeyUsage)
    if usage is not None and not usage.crl_sign:
        raise SourceInvalid("CRL issuer keyUsage lacks cRLSign")
    try:
        valid = index.crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise SourceInvalid(f"CRL signature cannot be checked: {exc}") from None
    if not valid:
        raise SourceInvalid("CRL signature is not valid for the issuer key")


def crl_answer(source: str, index: CrlIndex, cert: x509.Certificate, now: datetime, skew: timedelta) -> Answer:
    """Answer for ``cert`` from a CRL whose signature was already verified; raise SourceInvalid when unusable."""
    if index.scope.startswith("unsupported"):
        raise SourceInvalid(index.scope)
    if (index.scope == "users" and is_ca(cert)) or (index.scope == "cas" and not is_ca(cert)):
        raise SourceInvalid(f"CRL scope '{index.scope}' does not cover this certificate")
    if index.this_update > now + skew:
        raise SourceInvalid(f"CRL thisUpdate {index.this_update.isoformat()} is in the future")
    if index.next_update is None:
        raise SourceInvalid("CRL has no nextUpdate")
    if now > index.next_update + skew:
        raise SourceInvalid(f"CRL is stale: nextUpdate {index.next_update.isoformat()}")
    if cert.serial_number in index.revoked:
        entry = index.crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        when = entry.revocation_date_utc.isoformat() if entry else "unknown time"
        return Answer(source, Status.REVOKED, f"serial {serial_hex(cert)} revoked at {when}")
    return Answer(source, Status.GOOD, "not listed", index.next_update)
