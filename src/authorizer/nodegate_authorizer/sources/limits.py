"""The size limit on bytes read from outside (CRLs, OCSP answers, the truststore, the policy)."""

from __future__ import annotations

SETTING = "FETCH_MAX_BYTES"


class TooLarge(OSError):
    """An object over the size limit (the HTTP and blob errors for it are also of this kind)."""


def too_large(where: str, size: int, limit: int, *, at_least: bool = False) -> str:
    """One line that says what was refused, its size, the limit and the setting that changes it."""
    more = "more than " if at_least else ""
    return (
        f"{where} is {more}{size:,} bytes, over the {limit:,}-byte limit (raise {SETTING} to read it; "
        "a large CRL costs memory: see README 'Large CRLs')"
    )
