"""The CRL store: CRLs published under ``CRL_STORE_URI``, indexed by issuer name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import NamedTuple

from ..names import CanonicalName
from ..sources.blobs import BlobError, list_blobs, read_blob
from ..sources.limits import TooLarge
from .answers import SourceInvalid
from .crl import CrlIndex, parse_crl


class CrlStore(NamedTuple):
    """Stored CRLs by issuer name (RFC 5280 7.1 form); ``entries`` keeps each file's tag, so unchanged files
    are not parsed again. ``configured`` is True for a store loaded from CRL_STORE_URI: it is then the
    revocation source of every certificate that names none of its own."""

    by_issuer: Mapping[CanonicalName, tuple[tuple[str, CrlIndex], ...]] = MappingProxyType({})
    entries: Mapping[str, tuple[str, CrlIndex | None]] = MappingProxyType({})
    errors: tuple[str, ...] = ()
    unavailable: str | None = None
    configured: bool = False
    oversized: frozenset[str] = frozenset()
    """Files refused for their size (FETCH_MAX_BYTES), counted by the RevocationSourceTooLarge metric."""


EMPTY_STORE = CrlStore()
READERS = 8
"""Objects read in parallel when the store is (re)loaded."""
StoreSnapshot = Callable[[], CrlStore]
"""The CRL store as it is now (refreshed behind the call)."""


def load_crl_store(prefix_uri: str, previous: CrlStore | None, *, timeout: float, max_bytes: int) -> CrlStore:
    """List the prefix and parse new or changed CRL files.

    A file that cannot be used (malformed, oversized, gone between listing and reading) cannot be tied to
    an issuer, so it marks the whole store unavailable: certificates that have no good answer elsewhere are
    then unanswered (denied in hard-fail), and the log names the file. Transient read errors raise.
    """
    old = previous.entries if previous else {}
    listing = list_blobs(prefix_uri, timeout=timeout)
    entries: dict[str, tuple[str, CrlIndex | None]] = {}
    errors: list[str] = []
    large: list[str] = []
    changed = [uri for uri, tag in listing.items() if uri not in old or old[uri][0] != tag]

    def read(uri: str) -> tuple[CrlIndex | None, str | None]:
        try:
            return parse_crl(read_blob(uri, timeout=timeout, max_bytes=max_bytes).data), None
        except BlobError as exc:
            if exc.transient:
                raise
            if isinstance(exc, TooLarge):
                large.append(uri)
            return None, str(exc)
        except SourceInvalid as exc:
            return None, f"{uri}: {exc}"

    fresh: dict[str, tuple[CrlIndex | None, str | None]] = {}
    if changed:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(READERS, len(changed))) as pool:
            fresh = dict(zip(changed, pool.map(read, changed), strict=True))
    for uri, tag in listing.items():
        if uri in fresh:
            index, error = fresh[uri]
            entries[uri] = (tag, index)
        else:
            entries[uri] = old[uri]
            error = f"{uri}: unusable CRL file" if old[uri][1] is None else None
        if error:
            errors.append(error)
    grouped: dict[CanonicalName, list[tuple[str, CrlIndex]]] = {}
    for uri, (_, index) in entries.items():
        if index is not None:
            grouped.setdefault(index.issuer, []).append((uri, index))
    unavailable = f"CRL store has unusable files: {'; '.join(errors)}"[:1000] if errors else None
    kept = {uri for uri in (previous.oversized if previous else ()) if uri in entries and uri not in fresh}
    return CrlStore(
        {key: tuple(value) for key, value in grouped.items()},
        entries,
        tuple(errors),
        unavailable,
        True,
        frozenset(large) | kept,
    )
