"""CRLs: parse once into an index of entries by (certificate issuer, serial), with scope and freshness facts.

Parsing is the boundary for CRL bytes: every field ``cryptography`` parses lazily (extensions of the CRL and
of each entry, names, times, signature algorithm and its parameters) is read here, so any error becomes a
SourceInvalid and nothing raises later."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import count
from typing import NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives._serialization import Encoding  # see certificates.py
from cryptography.x509.oid import ExtensionOID

from ..certificates import signature_weakness
from ..names import CanonicalName, canonical
from .answers import PARSE_ERRORS, SourceInvalid
from .revoked import Entry, RevokedEntries

__all__ = ["CrlIndex", "Entry", "parse_crl"]

_UIDS = count()
KNOWN_CRL_EXTENSIONS = frozenset(
    {
        ExtensionOID.CRL_NUMBER,
        ExtensionOID.DELTA_CRL_INDICATOR,
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        ExtensionOID.ISSUING_DISTRIBUTION_POINT,
        ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
        ExtensionOID.FRESHEST_CRL,
    }
)


class CrlIndex(NamedTuple):
    """A parsed CRL; ``digest`` identifies it for memoised signature checks.

    ``revoked`` finds an entry by (certificate issuer, serial): on an indirect CRL the certificateIssuer entry
    extension sets the issuer for that entry and the ones after it, every directory name it holds counting
    (RFC 5280 5.3.3). ``freshest`` is the CRL's own freshestCRL extension (5.2.6); ``weakness`` says why its
    signature algorithm is weak or unsupported. ``uid`` names this parsed object for the life of the process
    (never reused, unlike ``id()``): memoised evaluations are keyed by it, so a new CRL version, even with the same
    URL or cRLNumber, is a new key. ``label`` (``CRL of <issuer>[ #number]``) names it in answers and logs."""

    crl: x509.CertificateRevocationList
    digest: bytes
    issuer: CanonicalName
    issuer_name: x509.Name
    revoked: RevokedEntries
    this_update: datetime
    next_update: datetime | None
    number: int | None
    delta_base: int | None
    idp: x509.IssuingDistributionPoint | None
    unsupported: str | None
    freshest: x509.FreshestCRL | None
    weakness: str | None
    uid: int
    label: str

    def usable_problem(self, now: datetime, skew: timedelta) -> str | None:
        """Why this CRL cannot be used at ``now``, or None."""
        if self.unsupported:
            return self.unsupported
        if self.this_update > now + skew:
            return f"CRL thisUpdate {self.this_update.isoformat()} is in the future"
        if self.next_update is None:
            return "CRL has no nextUpdate"
        if now - skew > self.next_update:
            return f"CRL is stale: nextUpdate {self.next_update.isoformat()}"
        return None


def _value(crl: x509.CertificateRevocationList, kind: type[x509.ExtensionType]) -> x509.ExtensionType | None:
    try:
        return crl.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _unsupported(crl: x509.CertificateRevocationList) -> str | None:
    for ext in crl.extensions:
        if ext.critical and ext.oid not in KNOWN_CRL_EXTENSIONS:
            return f"unsupported critical CRL extension {ext.oid.dotted_string}"
    number = [ext for ext in crl.extensions if ext.oid == ExtensionOID.CRL_NUMBER]
    if not number:
        return "CRL has no cRLNumber (RFC 5280 5.2.3)"
    if number[0].critical:
        return "CRL marks cRLNumber critical (RFC 5280 5.2.3)"
    idp = _value(crl, x509.IssuingDistributionPoint)
    if isinstance(idp, x509.IssuingDistributionPoint) and idp.only_contains_attribute_certs:
        return "CRL covers attribute certificates only"
    return None


def _index(crl: x509.CertificateRevocationList, der: bytes) -> CrlIndex:
    """Read every field of ``crl`` (the lazily parsed ones raise here, inside the boundary; the entries of a
    direct CRL are read when looked up, see ``revoked``)."""
    idp = _value(crl, x509.IssuingDistributionPoint)
    idp = idp if isinstance(idp, x509.IssuingDistributionPoint) else None
    revoked = RevokedEntries.read(crl, der, bool(idp and idp.indirect_crl))
    number = _value(crl, x509.CRLNumber)
    serial = number.crl_number if isinstance(number, x509.CRLNumber) else None
    delta = _value(crl, x509.DeltaCRLIndicator)
    freshest = _value(crl, x509.FreshestCRL)
    _ = crl.signature_algorithm_parameters, crl.signature, crl.signature_algorithm_oid
    digest = hashes.Hash(hashes.SHA256())
    digest.update(der)  # the whole CRL: a broken signature over a real TBS is another CRL, not the CA's
    return CrlIndex(
        crl=crl,
        digest=digest.finalize(),
        issuer=canonical(crl.issuer),
        issuer_name=crl.issuer,
        revoked=revoked,
        this_update=crl.last_update_utc,
        next_update=crl.next_update_utc,
        number=serial,
        delta_base=delta.crl_number if isinstance(delta, x509.DeltaCRLIndicator) else None,
        idp=idp,
        unsupported=_unsupported(crl) or revoked.problem,
        freshest=freshest if isinstance(freshest, x509.FreshestCRL) else None,
        weakness=signature_weakness(crl),  # type: ignore[arg-type]  # reads only the signature algorithm
        uid=next(_UIDS),
        label=f"CRL of {crl.issuer.rfc4514_string()[:120]}{'' if serial is None else f' #{serial}'}",
    )


def parse_crl(data: bytes) -> CrlIndex:
    """Parse a PEM or DER CRL into an index; raise SourceInvalid for anything that does not parse."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            crl = x509.load_pem_x509_crl(data)
            return _index(crl, crl.public_bytes(Encoding.DER))
        return _index(x509.load_der_x509_crl(data), data)
    except PARSE_ERRORS as exc:
        raise SourceInvalid(f"malformed CRL: {exc.__class__.__name__}: {exc}") from None
