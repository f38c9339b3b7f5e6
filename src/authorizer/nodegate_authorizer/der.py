"""Walking DER that ``cryptography`` has already parsed: where an element's content lies, and its children."""

from __future__ import annotations


def element(der: bytes, at: int) -> tuple[int, int]:
    """(start of content, end) of the DER element whose tag is at ``at``."""
    size, start = der[at + 1], at + 2
    if size & 0x80:
        width = size & 0x7F
        size, start = int.from_bytes(der[start : start + width], "big"), start + width
    return start, start + size


def children(der: bytes, at: int = 0) -> list[bytes]:
    """The encoded children of the constructed element at ``at``, in order."""
    out: list[bytes] = []
    start, end = element(der, at)
    while start < end:
        stop = element(der, start)[1]
        out.append(der[start:stop])
        start = stop
    return out
