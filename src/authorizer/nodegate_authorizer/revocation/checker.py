"""Gather revocation answers for a path: cached when fresh, fetched in parallel when not, then evaluated."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID

from ..certificates import extension, serial_hex, sha256_hex
from ..settings import RevocationMode, Settings
from .answers import Answer, CertificateRevocation, RevocationOutcome, SourceInvalid, Status, evaluate
from .crl import CrlIndex, crl_answer, parse_crl, verify_crl_signature
from .ocsp import ocsp_answer, ocsp_request
from .store import CrlStore

Fetch = Callable[[str, bytes | None], bytes]
"""Fetch a URL (POSTing the body when given); raise OSError on failure."""

MAX_PLANS = 50_000
MAX_CACHE = 100_000
"""Cached answers and failure marks kept at most (per container); expired ones go first."""
_pool: list[Any] = []


def _executor() -> Any:
    """The fetch thread pool, created (and concurrent.futures imported) on the first fetch."""
    if not _pool:
        from concurrent.futures import ThreadPoolExecutor

        _pool.append(ThreadPoolExecutor(max_workers=8, thread_name_prefix="revocation-fetch"))
    return _pool[0]


def _uris(names: Sequence[x509.GeneralName]) -> list[str]:
    return [
        name.value
        for name in names
        if isinstance(name, x509.UniformResourceIdentifier) and name.value.lower().startswith(("http://", "https://"))
    ]


def crl_urls(cert: x509.Certificate) -> list[str]:
    """HTTP(S) CRL distribution points of ``cert`` (indirect and partial points are ignored)."""
    points = extension(cert, x509.CRLDistributionPoints) or []
    return [url for p in points if p.full_name and not p.crl_issuer and not p.reasons for url in _uris(p.full_name)]


def ocsp_urls(cert: x509.Certificate) -> list[str]:
    """HTTP(S) OCSP responders named in ``cert``'s authorityInfoAccess."""
    access = extension(cert, x509.AuthorityInformationAccess) or []
    return _uris([d.access_location for d in access if d.access_method == AuthorityInformationAccessOID.OCSP])


@dataclass
class _Cached:
    value: CrlIndex | Answer
    refresh_at: datetime
    valid_until: datetime


class RevocationChecker:
    """Checks every non-anchor certificate of a path, with in-memory caches that live as long as the container."""

    def __init__(self, settings: Settings, fetch: Fetch, crl_store: Callable[[], CrlStore]) -> None:
        self._settings = settings
        self._fetch = fetch
        self._crl_store = crl_store
        self._skew = timedelta(seconds=settings.clock_skew_seconds)
        self._cache: dict[str, _Cached] = {}
        self._failed_until: dict[str, datetime] = {}
        self._verified: set[tuple[bytes, x509.Certificate]] = set()
        self._plans: dict[tuple[x509.Certificate, x509.Certificate], list[str]] = {}
        self._lock = threading.Lock()
        self.source_failures = 0

    def check(self, path: Sequence[x509.Certificate], now: datetime) -> RevocationOutcome:
        """Raise Denied when a certificate is revoked or, per the mode, unanswered; else return the outcome."""
        mode = self._settings.revocation_mode
        if mode is RevocationMode.OFF:
            return RevocationOutcome(checked=0)
        store = self._crl_store()
        plans = [self._plan(cert, path[i + 1], store) for i, cert in enumerate(path[:-1])]
        jobs = {
            key: (cert, path[i + 1])
            for i, (cert, plan) in enumerate(zip(path[:-1], plans, strict=True))
            for key in plan
            if self._needs_fetch(key, now)
        }
        fetched = self._fetch_all(jobs)
        results = []
        for i, (cert, plan) in enumerate(zip(path[:-1], plans, strict=True)):
            answers = tuple(self._answer(key, cert, path[i + 1], now, fetched, store) for key in plan)
            if store.unavailable:
                answers += (Answer("store", Status.UNAVAILABLE, store.unavailable),)
            results.append(CertificateRevocation("leaf" if i == 0 else f"intermediate {i}", serial_hex(cert), answers))
        return evaluate(results, mode)

    def _plan(self, cert: x509.Certificate, issuer: x509.Certificate, store: CrlStore) -> list[str]:
        """Source keys for one certificate: ``crl:URL``, ``store:URI`` and ``ocsp:URL|issuer|serial``."""
        declared = self._plans.get((cert, issuer))
        if declared is None:
            declared = [f"crl:{url}" for url in crl_urls(cert)]
            declared += [f"ocsp:{url}|{sha256_hex(issuer)}|{serial_hex(cert)}" for url in ocsp_urls(cert)]
            if len(self._plans) > MAX_PLANS:
                self._plans.clear()
            self._plans[(cert, issuer)] = declared
        return declared + [f"store:{uri}" for uri, _ in store.by_issuer.get(cert.issuer.public_bytes(), ())]

    def _needs_fetch(self, key: str, now: datetime) -> bool:
        if key.startswith("store:"):
            return False
        cached = self._cache.get(key)
        if cached is not None and now < cached.refresh_at:
            return False
        return self._failed_until.get(key, now) <= now

    def _fetch_all(self, jobs: dict[str, tuple[x509.Certificate, x509.Certificate]]) -> dict[str, bytes | Exception]:
        """Fetch every job in parallel (OCSP requests are POSTed); each fetch is bounded by the fetch timeout."""
        if not jobs:
            return {}
        from concurrent.futures import wait

        pool = _executor()
        futures = {
            key: pool.submit(
                self._fetch,
                key.split(":", 1)[1].split("|")[0],
                ocsp_request(cert, issuer) if key.startswith("ocsp:") else None,
            )
            for key, (cert, issuer) in jobs.items()
        }
        wait(futures.values(), timeout=self._settings.fetch_timeout_seconds * 2)
        results: dict[str, bytes | Exception] = {}
        for key, future in futures.items():
            if not future.done():
                results[key] = TimeoutError("fetch did not finish in time")
                continue
            error = future.exception()
            results[key] = error if isinstance(error, Exception) else future.result()
        return results

    def _answer(
        self,
        key: str,
        cert: x509.Certificate,
        issuer: x509.Certificate,
        now: datetime,
        fetched: dict[str, bytes | Exception],
        store: CrlStore,
    ) -> Answer:
        """One source's answer: from a fresh fetch, else the cache while still valid, else unavailable."""
        kind, _, location = key.partition(":")
        source = f"{kind}:{location.split('|')[0]}"
        try:
            if kind == "store":
                entry = store.entries[location][1]
                if entry is None:
                    raise SourceInvalid("malformed CRL")
                return self._from_crl(source, entry, cert, issuer, now)
            if key in fetched:
                result = fetched[key]
                if isinstance(result, Exception):
                    raise SourceInvalid(f"fetch failed: {result}")
                return self._store(key, source, result, cert, issuer, now)
            cached = self._cache.get(key)
            if cached is not None and now <= cached.valid_until:
                if isinstance(cached.value, CrlIndex):
                    return self._from_crl(source, cached.value, cert, issuer, now)
                return cached.value
            raise SourceInvalid("source failed recently; retry pending")
        except SourceInvalid as exc:
            if key in fetched:
                self._note_failure(key, now)
                cached = self._cache.get(key)
                if cached is not None and now <= cached.valid_until:
                    return self._answer(key, cert, issuer, now, {}, store)
            return Answer(source, Status.UNAVAILABLE, str(exc))

    def _store(
        self, key: str, source: str, data: bytes, cert: x509.Certificate, issuer: x509.Certificate, now: datetime
    ) -> Answer:
        """Verify freshly fetched bytes and cache them until the earlier of nextUpdate and the cache cap
        (a revoked OCSP answer too: it stays revoked, and the responder is not asked again meanwhile)."""
        cap = now + timedelta(seconds=self._settings.revocation_cache_seconds)
        if key.startswith("crl:"):
            index = parse_crl(data)
            answer = self._from_crl(source, index, cert, issuer, now)
            valid_until = index.next_update or now
            value: CrlIndex | Answer = index
        else:
            max_age = timedelta(seconds=self._settings.ocsp_max_age_seconds)
            answer = ocsp_answer(source, data, cert, issuer, now, self._skew, max_age)
            valid_until = answer.valid_until or now
            value = answer
        with self._lock:
            if len(self._cache) >= MAX_CACHE:
                self._cache = {k: v for k, v in self._cache.items() if v.valid_until > now}
                if len(self._cache) >= MAX_CACHE:
                    self._cache.clear()
            self._cache[key] = _Cached(value, min(cap, valid_until), valid_until)
            self._failed_until.pop(key, None)
        return answer

    def _from_crl(
        self, source: str, index: CrlIndex, cert: x509.Certificate, issuer: x509.Certificate, now: datetime
    ) -> Answer:
        memo = (index.digest, issuer)
        if memo not in self._verified:
            verify_crl_signature(index, issuer)
            with self._lock:
                self._verified.add(memo)
        return crl_answer(source, index, cert, now, self._skew)

    def _note_failure(self, key: str, now: datetime) -> None:
        with self._lock:
            self.source_failures += 1
            if len(self._failed_until) >= MAX_CACHE:
                self._failed_until.clear()
            self._failed_until[key] = now + timedelta(seconds=self._settings.revocation_retry_seconds)
