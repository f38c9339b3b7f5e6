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
from collections.abc import Callable, Mapping, Sequence
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


def object_name(url: str) -> str:
    """The store object a URL's CRL is kept in: readable, flat (one folder) and unique per URL."""
    parts = urlsplit(url)
    readable = _UNSAFE.sub("_", f"{parts.hostname}{parts.path}").strip("_")[:80]
    return f"{KEY_PREFIX}{readable}-{hashlib.sha256(url.encode()).hexdigest()[:12]}.crl"


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
    stored: bytes | None,
    truststore: Truststore,
    now: datetime,
    skew: timedelta,
    policy: PathPolicy,
) -> tuple[bool, str]:
    """(write?, why not) for a fetched CRL against the stored copy: write only a CRL that parses, is usable at
    ``now`` (thisUpdate not in the future, nextUpdate present and not passed), is signed by a truststore
    certificate with a valid path, carries a cRLNumber (RFC 5280 5.2.3) and is newer than the stored copy.
    ``why`` is empty when the fetched bytes are the stored ones (verified when they were written; their
    freshness is what the metrics report)."""
    if stored == fetched:
        return False, ""
    try:
        index = parse_crl(fetched)
    except SourceInvalid as exc:
        return False, str(exc)
    problem = index.usable_problem(now, skew) or signer_problem(index, truststore, now, policy)
    if problem:
        return False, problem
    if index.number is None:
        return False, "CRL has no cRLNumber (RFC 5280 5.2.3), so a rollback could not be told apart"
    previous = _parsed(stored)
    if previous is not None and previous.issuer == index.issuer and previous.number is not None:
        if index.number < previous.number:
            return False, f"rollback: cRLNumber {index.number} is lower than the stored {previous.number}"
        if index.number == previous.number:
            return False, f"cRLNumber {index.number} is the stored one's, with other content (RFC 5280 5.2.3)"
    return True, ""


def _parsed(data: bytes | None) -> CrlIndex | None:
    if data is None:
        return None
    try:
        return parse_crl(data)
    except SourceInvalid:
        return None


def freshness(stored: Sequence[bytes], now: datetime) -> tuple[Freshness, ...]:
    """Per issuer over the stored CRLs: age of the newest (by thisUpdate) and the least time to a nextUpdate."""
    by_issuer: dict[str, list[CrlIndex]] = {}
    for data in stored:
        index = _parsed(data)
        if index is not None and index.next_update is not None:
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

    def one(url: str) -> tuple[UrlResult, bytes | None]:
        target = _child(settings.crl_store_uri or "", object_name(url))
        try:
            stored = read_blob(target, timeout=timeout, max_bytes=cap).data if target in listing else None
        except BlobError as exc:
            return UrlResult(url, target, Action.KEPT, f"stored copy unreadable: {exc}"), None
        none_yet = "" if stored is not None else " (nothing stored yet)"
        try:
            fetched = fetch(url)
        except OSError as exc:
            return UrlResult(url, target, Action.KEPT, f"fetch failed: {exc}{none_yet}"), stored
        write_it, why = judge(fetched, stored, truststore, now, skew, policy)
        if not write_it:
            return UrlResult(url, target, Action.KEPT if why else Action.UNCHANGED, why + (why and none_yet)), stored
        if dry_run:
            return UrlResult(url, target, Action.WOULD_WRITE), stored
        try:
            write_blob(target, fetched)
        except (OSError, ValueError) as exc:
            return UrlResult(url, target, Action.KEPT, f"write failed: {exc}"), stored
        return UrlResult(url, target, Action.WRITTEN), fetched

    urls = published_urls(truststore, extra_urls)
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        done = list(pool.map(one, urls))
    kept = [data for _, data in done if data is not None]
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
