"""Distinguished names compared as RFC 5280 7.1 says: per attribute, strings prepared (RFC 4518) before matching."""

from __future__ import annotations

import unicodedata
from collections import Counter
from functools import lru_cache

from cryptography import x509

CanonicalRdn = frozenset[tuple[tuple[str, str | bytes], int]]
"""An RDN as a multiset of (type, prepared value): RFC 5280 7.1 matches RDNs with the same number of attributes
and a match for each, in any order, so ``CN=a+CN=A`` is not ``CN=a``."""
CanonicalName = tuple[CanonicalRdn, ...]


TO_SPACE = frozenset("\t\n\x0b\x0c\r\x85")
"""RFC 4518 2.2: these controls map to SPACE; every other control (Cc) and format (Cf) code point, and the
ones named there (soft hyphen, ZERO WIDTH SPACE, variation selectors, ...), map to nothing."""
TO_NOTHING = frozenset("\u00ad\u1806\u034f\u180b\u180c\u180d\ufffc\u200b") | frozenset(map(chr, range(0xFE00, 0xFE10)))


def _mapped(char: str) -> str:
    """RFC 4518 2.2 (Map) for one code point."""
    if char in TO_SPACE:
        return " "
    if char in TO_NOTHING or unicodedata.category(char) in ("Cc", "Cf"):
        return ""
    return " " if unicodedata.category(char) in ("Zs", "Zl", "Zp") else char


def prepare(value: str) -> str:
    """RFC 4518 string preparation as used for caseIgnoreMatch: mapped (2.2), NFKC, case folded, insignificant
    spaces removed."""
    mapped = value if value.isascii() and value.isprintable() else "".join(map(_mapped, value))
    folded = unicodedata.normalize("NFKC", mapped).casefold()
    return " ".join(folded.split())


MAX_CACHED_NAME = 1024
"""Characters of attribute text up to which a name's canonical form is cached: CA names, and any ordinary subject.
A larger one (a client can present a 64 KiB subject) is prepared each time, so the cache stays small in bytes."""


def _canonical(name: x509.Name) -> CanonicalName:
    return tuple(
        frozenset(
            Counter(
                (
                    attribute.oid.dotted_string,
                    prepare(attribute.value) if isinstance(attribute.value, str) else attribute.value,
                )
                for attribute in rdn
            ).items()
        )
        for rdn in name.rdns
    )


MAX_CACHED_NAMES = 4096
"""Names whose canonical form is kept: every CA of a large truststore, and leaves up to the bound of the other
certificate-keyed memos (``make bench``'s many-leaves row shows memory level off past it)."""
_cached = lru_cache(maxsize=MAX_CACHED_NAMES)(_canonical)


def canonical(name: x509.Name) -> CanonicalName:
    """A hashable form of ``name`` in which two names are equal exactly when RFC 5280 7.1 says they match."""
    if sum(len(attribute.value) for attribute in name) > MAX_CACHED_NAME:
        return _canonical(name)
    return _cached(name)


def same_name(a: x509.Name, b: x509.Name) -> bool:
    """True when the two names match under RFC 5280 7.1."""
    return canonical(a) == canonical(b)


def within(name: x509.Name, subtree: x509.Name) -> bool:
    """True when ``name`` lies in the directory subtree rooted at ``subtree`` (its RDNs start with the subtree's)."""
    whole, base = canonical(name), canonical(subtree)
    return whole[: len(base)] == base


def is_self_issued(cert: x509.Certificate) -> bool:
    """Subject and issuer match (RFC 5280 6.1: self-issued; the key may differ from the issuer's)."""
    return same_name(cert.subject, cert.issuer)
