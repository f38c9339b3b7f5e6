"""A CRL's revoked certificates, looked up by (certificate issuer, serial) at a cost that grows gently.

A direct CRL is not indexed: a lookup searches the DER of its revokedCertificates for the serial's exact DER
encoding followed by a revocationDate (C speed, no Python object per entry), and only a hit is confirmed and
read by ``cryptography``; answers are memoised per serial. This is exact: the CRL parsed as DER, so the entry
of serial *s* holds ``02 <len> <s>`` followed by a UTCTime or GeneralizedTime tag (RFC 5280 5.1.2.6), and a
hit is confirmed by ``get_revoked_certificate_by_serial_number``. Indirect CRLs (certificateIssuer changes the
issuer of the entries after it, RFC 5280 5.3.3) and CRLs that may hold a critical entry extension (an
Extension's ``critical TRUE`` is always ``01 01 ff 04`` in DER) are read entry by entry once, as before.
Measured alternatives are in docs/decisions.md."""

from __future__ import annotations

from datetime import datetime
from functools import reduce
from typing import NamedTuple

from cryptography import x509
from cryptography.x509.oid import CRLEntryExtensionOID

from ..der import element
from ..names import CanonicalName, canonical
from .answers import PARSE_ERRORS

KNOWN_ENTRY_EXTENSIONS = frozenset(
    {CRLEntryExtensionOID.CRL_REASON, CRLEntryExtensionOID.CERTIFICATE_ISSUER, CRLEntryExtensionOID.INVALIDITY_DATE}
)
CRITICAL = b"\x01\x01\xff\x04"
"""``critical BOOLEAN TRUE`` and the extnValue tag that follows it, as every critical Extension encodes them."""
TIME_TAGS = (0x17, 0x18)
MAX_MEMO = 100_000
"""Serial answers kept per CRL (cleared when full)."""


class EntryError(ValueError):
    """A CRL entry that cannot be read: the CRL answers nothing."""


class Entry(NamedTuple):
    """One revoked certificate: when, and why (``None`` when no reason code is given)."""

    revoked_at: datetime
    reason: x509.ReasonFlags | None


def revoked_span(der: bytes) -> tuple[int, int]:
    """Where the content of revokedCertificates lies in a DER CRL ((0, 0) when it has none).

    tbsCertList is version?, signature, issuer, thisUpdate, nextUpdate?, revokedCertificates?, [0] extensions?
    (RFC 5280 5.1); the CRL has already parsed, so the walk meets well-formed elements only."""
    tbs, _ = element(der, 0)
    at, end = element(der, tbs)
    sequences = 0
    while at < end:
        tag = der[at]
        start, stop = element(der, at)
        if tag == 0x30:
            sequences += 1
            if sequences == 3:  # after the signature algorithm and the issuer name
                return start, stop
        at = stop
    return 0, 0


def serial_tlv(serial: int) -> bytes:
    """The DER INTEGER encoding of ``serial`` (minimal two's complement)."""
    value = serial.to_bytes((serial if serial >= 0 else ~serial).bit_length() // 8 + 1, "big", signed=True)
    size = len(value)
    if size < 0x80:
        return bytes((0x02, size)) + value
    width = (size.bit_length() + 7) // 8
    return bytes((0x02, 0x80 | width)) + size.to_bytes(width, "big") + value


def _entry(revoked: x509.RevokedCertificate) -> tuple[Entry, list[CanonicalName] | None, str | None]:
    """An entry's facts, the issuer names its certificateIssuer sets (None: none) and an unusable extension."""
    reason, issuers, problem = None, None, None
    for ext in revoked.extensions:
        if isinstance(ext.value, x509.CRLReason):
            reason = ext.value.reason
        elif isinstance(ext.value, x509.CertificateIssuer):
            issuers = [canonical(n.value) for n in ext.value if isinstance(n, x509.DirectoryName)]
            if not issuers:
                problem = "certificateIssuer entry without a directory name"
        elif ext.critical and ext.oid not in KNOWN_ENTRY_EXTENSIONS:
            problem = f"unsupported critical CRL entry extension {ext.oid.dotted_string}"
    return Entry(revoked.revocation_date_utc, reason), issuers, problem


class RevokedEntries:
    """The entries of one CRL. ``indexed`` holds every entry of a CRL read entry by entry (None: searched on
    demand); ``problem`` says why the CRL cannot be used, when an entry forbids it; ``memo`` keeps the entries
    found by serial on demand."""

    def __init__(
        self,
        crl: x509.CertificateRevocationList,
        issuer: CanonicalName,
        der: bytes,
        span: tuple[int, int],
        indexed: dict[tuple[CanonicalName, int], Entry] | None,
        problem: str | None = None,
    ) -> None:
        self.crl = crl
        self.issuer = issuer
        self.der = der
        self.span = span
        self.indexed = indexed
        self.problem = problem
        self.memo: dict[int, Entry | None] = {}

    @classmethod
    def read(cls, crl: x509.CertificateRevocationList, der: bytes, indirect: bool) -> RevokedEntries:
        """Search ``der`` on demand, or index every entry now (indirect CRLs, possible critical entry
        extensions); an entry that cannot be read raises here, inside the parsing boundary."""
        issuer = canonical(crl.issuer)
        span = revoked_span(der)
        if not indirect and der.find(CRITICAL, *span) < 0:
            return cls(crl, issuer, der, span, None)
        issuers = [issuer]
        indexed: dict[tuple[CanonicalName, int], Entry] = {}
        problem = None
        for revoked in crl:
            entry, named, trouble = _entry(revoked)
            problem = problem or trouble
            if indirect and named:
                issuers = named
            for name in issuers:
                key = (name, revoked.serial_number)
                indexed[key] = _stronger(indexed[key], entry) if key in indexed else entry
        return cls(crl, issuer, der, span, indexed, problem)

    def get(self, issuer: CanonicalName, serial: int) -> Entry | None:
        """The entry for the certificate ``serial`` of ``issuer``, or None; raise EntryError when the matching
        entry cannot be read."""
        if self.indexed is not None:
            return self.indexed.get((issuer, serial))
        if issuer != self.issuer:
            return None
        if serial not in self.memo:
            if len(self.memo) >= MAX_MEMO:
                self.memo.clear()
            self.memo[serial] = self._search(serial)
        return self.memo[serial]

    def _search(self, serial: int) -> Entry | None:
        """The entry of ``serial``: the DER is searched for it; a CRL that lists it twice (rare) is read entry by
        entry for it, and any entry that is not removeFromCRL wins, as in the indexed path."""
        needle = serial_tlv(serial)
        start, end = self.span
        hits = 0
        at = self.der.find(needle, start, end)
        while at >= 0 and hits < 2:
            after = at + len(needle)
            hits += after < end and self.der[after] in TIME_TAGS
            at = self.der.find(needle, at + 1, end)
        if not hits:
            return None
        try:
            if hits == 1:
                found = self.crl.get_revoked_certificate_by_serial_number(serial)
                listed = [found] if found is not None else []
            else:
                listed = [revoked for revoked in self.crl if revoked.serial_number == serial]
        except PARSE_ERRORS as exc:
            raise EntryError(f"malformed CRL entry for serial {serial:x}: {exc.__class__.__name__}: {exc}") from None
        entries = [self._listed(revoked) for revoked in listed]
        return reduce(_stronger, entries) if entries else None

    def _listed(self, revoked: x509.RevokedCertificate) -> Entry:
        """The entry; one whose extensions cannot be read still lists its certificate: revoked, reason unknown
        (fail closed: it cannot be read as removeFromCRL either)."""
        try:
            entry, _, problem = _entry(revoked)
        except PARSE_ERRORS:
            return Entry(self._date(revoked), None)
        if problem:
            raise EntryError(problem)
        return entry

    def _date(self, revoked: x509.RevokedCertificate) -> datetime:
        try:
            return revoked.revocation_date_utc
        except PARSE_ERRORS:
            return self.crl.last_update_utc


def _stronger(first: Entry, second: Entry) -> Entry:
    """Of two entries for one certificate, the one that revokes: removeFromCRL only when both say it."""
    return second if first.reason is x509.ReasonFlags.remove_from_crl else first
