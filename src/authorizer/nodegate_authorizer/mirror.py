"""The CRL mirror: fetch the CRLs the truststore's CAs publish, verify them as the authorizer does, and keep
the newest good copy of each in the CRL store.

``judge`` is the pure decision for one URL; ``run_mirror`` is the thin adapter around it (truststore and store
reads, HTTP fetches, writes). Nothing written here is trusted by the authorizer beyond the CA's own signature:
it verifies every stored CRL again (docs/threat-model.md)."""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

from cryptography import x509

from .certificates import extension, signed_with
from .chain import PathPolicy, Role, build_path
from .reasons import Denied
from .revocation.answers import SourceInvalid
from .revocation.crl import CrlIndex, parse_crl
from .revocation.memo import Scope, scope_of
from .revocation.plan import plan_sources
from .settings import ConfigError, Settings
from .sources.blobs import BlobError, list_blobs, read_blob
from .truststore import Truststore, parse_truststore
from .urls import http_url

WORKERS = 8
"""URLs fetched in parallel."""
KEY_PREFIX = "mirror-"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class Action:
    """What the mirror did with one URL."""

    WRITTEN = "written"
    WOULD_WRITE = "would-write"
    UNCHANGED = "unchanged"
    KEPT = "kept-last-good"


class UrlResult(NamedTuple):
    """One URL's outcome: the store object it maps to, the action, and why (for kept-last-good)."""

    url: str
    object_uri: str
    action: str
    why: str = ""


class Freshness(NamedTuple):
    """Per CRL issuer: age of its newest stored CRL, and the least time left before a stored CRL's nextUpdate."""

    issuer: str
    age_seconds: float
    seconds_to_next_update: float


class MirrorReport(NamedTuple):
    """Everything one run did; ``error`` is set when the run could not start (truststore or store unreadable)."""

    results: tuple[UrlResult, ...] = ()
    freshness: tuple[Freshness, ...] = ()
    error: str | None = None

    def lines(self) -> list[str]:
        """One human-readable line per URL and per issuer."""
        if self.error:
            return [f"error: {self.error}"]
        out = [f"{r.action:15} {r.url} -> {r.object_uri}" + (f" ({r.why})" if r.why else "") for r in self.results]
        out += [
            f"issuer {f.issuer}: newest CRL {f.age_seconds:.0f}s old, nextUpdate in {f.seconds_to_next_update:.0f}s"
            for f in self.freshness
        ]
        return out


def mirror_urls_setting(env: Mapping[str, str]) -> tuple[str, ...]:
    """CRL_MIRROR_URLS: comma-separated http(s) URLs; raise ConfigError for anything else."""
    urls = [item.strip() for item in env.get("CRL_MIRROR_URLS", "").split(",") if item.strip()]
    for url in urls:
        if http_url(url) is None:
            raise ConfigError(f"CRL_MIRROR_URLS entry {url!r} is not an http(s) URL with a host and a valid port")
    return tuple(urls)


def published_urls(truststore: Truststore, extra: Sequence[str]) -> tuple[str, ...]:
    """The http(s) CRL distribution point and freshestCRL URLs of every CA and CRL signer, then ``extra``."""
    certs = [c for group in (truststore.by_subject, truststore.crl_signers) for v in group.values() for c in v]
    urls = [source.url for cert in certs for source in plan_sources(cert, cert).crls]
    return tuple(dict.fromkeys([*urls, *extra]))


def object_prefix(url: str) -> str:
    """What the names of a URL's store objects start with: readable, flat (one folder) and unique per URL.
    ``<prefix>.crl`` alone is the one object per URL that earlier versions wrote; it is still read."""
    parts = urlsplit(url)
    readable = _UNSAFE.sub("_", f"{parts.hostname}{parts.path}").strip("_")[:80]
    return f"{KEY_PREFIX}{readable}-{hashlib.sha256(url.encode()).hexdigest()[:12]}"


def scope_key(index: CrlIndex) -> str:
    """A stable digest of the CRL's scope (issuer as RFC 5280 7.1 compares it, issuingDistributionPoint,
    complete or delta): the unit in which cRLNumbers increase (5.2.3)."""
    issuer, idp, delta = scope_of(index)
    rdns = [sorted(repr(attribute) for attribute in rdn) for rdn in issuer]
    scope = repr((rdns, idp.public_bytes().hex() if idp else None, delta))
    return hashlib.sha256(scope.encode()).hexdigest()[:12]


def object_name(url: str, index: CrlIndex) -> str:
    """The store object a URL's CRL of one scope is kept in. One object per URL and scope, so a CRL of another
    issuer or scope served at the URL never overwrites the newest one of a scope (that newest copy would be
    lost, and an older one of its scope could then be written: a rollback)."""
    return f"{object_prefix(url)}-{scope_key(index)}.crl"


def url_objects(url: str, listing: Iterable[str]) -> list[str]:
    """The listed object URIs that hold the URL's CRLs (every scope, and the pre-scope object)."""
    prefix = object_prefix(url)
    names = {f"{prefix}.crl"}
    return [uri for uri in listing if (name := uri.rsplit("/", 1)[-1]) in names or name.startswith(f"{prefix}-")]


def signer_problem(index: CrlIndex, truststore: Truststore, now: datetime, policy: PathPolicy) -> str | None:
    """RFC 5280 6.3.3 (f): a truststore CA or CRL signer named as the CRL's issuer signed it, may sign CRLs,
    and has a valid path at ``now`` (an anchor is its own path). The signer's revocation status is left to
    the authorizer, which checks it on every use."""
    problems: list[str] = []
    for candidate in truststore.named(index.issuer_name):
        if not signed_with(index.crl, candidate.public_key()):
            continue
        usage = extension(candidate, x509.KeyUsage)
        if usage is not None and not usage.crl_sign:
            problems.append("CRL signer keyUsage lacks cRLSign")
            continue
        if truststore.is_anchor(candidate):
            if candidate.not_valid_before_utc <= now <= candidate.not_valid_after_utc:
                return None
            problems.append("the anchor that signed it is outside its validity")
            continue
        try:
            build_path(candidate, truststore, now, policy, Role.CRL_SIGNER)
        except Denied as denied:
            problems.append(f"CRL signer path: {denied.detail}")
            continue
        return None
    return "; ".join(problems) or "CRL signature is not valid for any truststore certificate of its issuer"


def judge(
    fetched: bytes,
    stored: Sequence[bytes],
    truststore: Truststore,
    now: datetime,
    skew: timedelta,
    policy: PathPolicy,
) -> tuple[CrlIndex | None, str]:
    """(the CRL to write or None, why not) for a fetched CRL against the URL's stored copies: write only a CRL
    that parses, is usable at ``now`` (thisUpdate not in the future, nextUpdate present and not passed), is
    signed by a truststore certificate with a valid path, carries a cRLNumber (RFC 5280 5.2.3) and is newer
    than every stored copy of its scope, whatever other issuers' CRLs are stored beside them. ``why`` is empty
    when the fetched bytes are stored already (verified when they were written; their freshness is what the
    metrics report)."""
    if fetched in stored:
        return None, ""
    try:
        index = parse_crl(fetched)
    except SourceInvalid as exc:
        return None, str(exc)
    problem = index.usable_problem(now, skew) or signer_problem(index, truststore, now, policy)
    if problem:
        return None, problem
    if index.number is None:
        return None, "CRL has no cRLNumber (RFC 5280 5.2.3), so a rollback could not be told apart"
    scope = scope_of(index)
    numbers = [
        p.number for p in map(_parsed, stored) if p is not None and p.number is not None and scope_of(p) == scope
    ]
    highest = max(numbers, default=None)
    if highest is not None and index.number < highest:
        return None, f"rollback: cRLNumber {index.number} is lower than the stored {highest}"
    if highest is not None and index.number == highest:
        return None, f"cRLNumber {index.number} is the stored one's, with other content (RFC 5280 5.2.3)"
    return index, ""


def _parsed(data: bytes | None) -> CrlIndex | None:
    if data is None:
        return None
    try:
        return parse_crl(data)
    except SourceInvalid:
        return None


def freshness(stored: Sequence[bytes], now: datetime) -> tuple[Freshness, ...]:
    """Per issuer over the newest stored CRL of each scope (older ones are superseded, RFC 5280 5.2.3): age of
    the newest (by thisUpdate) and the least time to a nextUpdate."""
    newest: dict[Scope, CrlIndex] = {}
    for data in stored:
        index = _parsed(data)
        if index is not None and index.next_update is not None:
            current = newest.get(scope_of(index))
            if current is None or (index.number or 0) > (current.number or 0):
                newest[scope_of(index)] = index
    by_issuer: dict[str, list[CrlIndex]] = {}
    for index in newest.values():
        by_issuer.setdefault(index.issuer_name.rfc4514_string(), []).append(index)
    return tuple(
        Freshness(
            issuer,
            (now - max(i.this_update for i in indexes)).total_seconds(),
            min((i.next_update - now).total_seconds() for i in indexes if i.next_update is not None),
        )
        for issuer, indexes in sorted(by_issuer.items())
    )


Fetch = Callable[[str], bytes]


def run_mirror(
    settings: Settings,
    extra_urls: Sequence[str],
    now: datetime,
    *,
    dry_run: bool = False,
) -> MirrorReport:
    """One mirror run against the configured truststore and CRL store; never raises for bad input."""
    if settings.crl_store_uri is None:
        return MirrorReport(error="CRL_STORE_URI is not set: the mirror has nowhere to write")
    timeout, cap = settings.fetch_timeout_seconds, settings.fetch_max_bytes
    try:
        blob = read_blob(settings.truststore_uri, version=settings.truststore_version, timeout=timeout, max_bytes=cap)
        truststore = parse_truststore(blob.data)
        listing = list_blobs(settings.crl_store_uri, timeout=timeout)
    except (BlobError, ValueError) as exc:
        return MirrorReport(error=str(exc)[:1000])
    fetch = _http_fetch(settings)
    skew = timedelta(seconds=settings.clock_skew_seconds)
    policy = PathPolicy()

    def one(url: str) -> tuple[UrlResult, list[bytes]]:
        objects = url_objects(url, listing)
        pending = _child(settings.crl_store_uri or "", f"{object_prefix(url)}-*.crl")
        try:
            stored = [read_blob(uri, timeout=timeout, max_bytes=cap).data for uri in objects]
        except BlobError as exc:
            return UrlResult(url, pending, Action.KEPT, f"stored copy unreadable: {exc}"), []
        none_yet = "" if stored else " (nothing stored yet)"
        try:
            fetched = fetch(url)
        except OSError as exc:
            return UrlResult(url, pending, Action.KEPT, f"fetch failed: {exc}{none_yet}"), stored
        index, why = judge(fetched, stored, truststore, now, skew, policy)
        if index is None:
            target = objects[stored.index(fetched)] if fetched in stored else pending
            return UrlResult(url, target, Action.KEPT if why else Action.UNCHANGED, why + (why and none_yet)), stored
        target = _child(settings.crl_store_uri or "", object_name(url, index))
        if dry_run:
            return UrlResult(url, target, Action.WOULD_WRITE), stored
        try:
            write_blob(target, fetched)
        except (OSError, ValueError) as exc:
            return UrlResult(url, target, Action.KEPT, f"write failed: {exc}"), stored
        return UrlResult(url, target, Action.WRITTEN), [*stored, fetched]

    urls = published_urls(truststore, extra_urls)
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        done = list(pool.map(one, urls))
    kept = [data for _, stored in done for data in stored]
    return MirrorReport(tuple(result for result, _ in done), freshness(kept, now))


def _child(prefix_uri: str, name: str) -> str:
    """The URI of object ``name`` under the store prefix, spelled as ``list_blobs`` spells it."""
    parts = urlsplit(prefix_uri)
    if parts.scheme == "file":
        return (Path(unquote(parts.path)) / name).as_uri()
    return prefix_uri + name if prefix_uri.endswith("/") else f"{prefix_uri}/{name}"


def _http_fetch(settings: Settings) -> Fetch:
    from .sources.http import fetch_url

    allowed = tuple(ipaddress.ip_network(network) for network in settings.fetch_allowed_networks)

    def fetch(url: str) -> bytes:
        return fetch_url(
            url, timeout=settings.fetch_timeout_seconds, max_bytes=settings.fetch_max_bytes, allowed_networks=allowed
        )

    return fetch


def write_blob(uri: str, data: bytes) -> None:
    """Write one object: an S3 PutObject, or a file replaced atomically (a reader never sees half a CRL)."""
    parts = urlsplit(uri)
    if parts.scheme == "file":
        path = Path(unquote(parts.path))
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temporary.write_bytes(data)
        temporary.replace(path)
        return
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        boto3.client("s3").put_object(Bucket=parts.netloc, Key=parts.path.lstrip("/"), Body=data)
    except (BotoCoreError, ClientError) as exc:
        raise BlobError(f"{uri}: {exc}") from None
