"""Gather revocation answers for a path: cached when fresh, fetched in parallel when not, then evaluated.

Per certificate, every CRL that may cover it (fetched from its distribution points, or from the CRL store)
goes through RFC 5280 6.3.3 as one answer; each OCSP responder gives its own answer."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from itertools import pairwise

from cryptography import x509

from ..certificates import extension, serial_hex, signed_with
from ..chain import PathPolicy, Role, build_path
from ..names import CanonicalName, canonical
from ..reasons import Denied
from ..settings import RevocationFetch, RevocationMode, Settings
from ..truststore import Truststore
from .answers import Answer, CertificateRevocation, RevocationOutcome, SourceInvalid, Status, evaluate
from .cache import SourceCache, cache_times
from .crl import CrlIndex, parse_crl
from .crl_validation import crl_status
from .fetcher import Fetch, Fetcher
from .ocsp import ocsp_answer, ocsp_request
from .plan import Plan, Source, plan_sources
from .store import CrlStore, StoreSnapshot

MAX_PLANS = 50_000
MAX_CACHE = 100_000
"""Cached answers, failure marks and plans kept at most (per container); expired ones go first."""
MAX_SIGNER_DEPTH = 2
"""How many CRL-signer paths deep revocation checking goes before the answer counts as unavailable."""


class RevocationChecker:
    """Checks every non-anchor certificate of a path, with in-memory caches that live as long as the container."""

    def __init__(self, settings: Settings, fetch: Fetch, crl_store: StoreSnapshot, path_policy: PathPolicy) -> None:
        self._settings = settings
        self._fetcher = Fetcher(fetch, settings.fetch_timeout_seconds)
        self._crl_store = crl_store
        self._path_policy = path_policy
        self._skew = timedelta(seconds=settings.clock_skew_seconds)
        self._retry = timedelta(seconds=settings.revocation_retry_seconds)
        self._crls: SourceCache[CrlIndex] = SourceCache(MAX_CACHE)
        self._ocsp: SourceCache[Answer] = SourceCache(MAX_CACHE)
        self._signatures: dict[tuple[bytes, x509.Certificate], bool] = {}
        self._plans: dict[tuple[x509.Certificate, x509.Certificate], Plan] = {}
        self._lock = threading.Lock()
        self.source_failures = 0

    def check(self, path: Sequence[x509.Certificate], now: datetime, truststore: Truststore) -> RevocationOutcome:
        """Every answer for the path and what the mode makes of them (``refusal`` is set when it refuses)."""
        mode = self._settings.revocation_mode
        if mode is RevocationMode.OFF:
            return RevocationOutcome()
        return evaluate(self._path_answers(path, _Context(now, truststore, self._crl_store(), path[-1])), mode)

    def _path_answers(self, path: Sequence[x509.Certificate], context: _Context) -> list[CertificateRevocation]:
        now = context.now
        pairs = list(pairwise(path))
        plans = [self._plan(cert, issuer) for cert, issuer in pairs]
        jobs: dict[Source, bytes | None] = {}
        for (cert, issuer), plan in zip(pairs, plans, strict=True):
            jobs |= {s: None for s in plan.crls if self._crls.needs_fetch(s, now)}
            jobs |= {s: ocsp_request(cert, issuer) for s in plan.ocsp if self._ocsp.needs_fetch(s, now)}
        fetched = self._fetcher.fetch_all(jobs) if self._settings.revocation_fetch is RevocationFetch.ON else {}
        return [
            CertificateRevocation(
                "leaf" if i == 0 else f"intermediate {i}",
                serial_hex(cert),
                self._answers(cert, issuer, plan, fetched, context),
            )
            for i, ((cert, issuer), plan) in enumerate(zip(pairs, plans, strict=True))
        ]

    def _plan(self, cert: x509.Certificate, issuer: x509.Certificate) -> Plan:
        plan = self._plans.get((cert, issuer))
        if plan is None:
            plan = plan_sources(cert, issuer)
            with self._lock:
                if len(self._plans) > MAX_PLANS:
                    self._plans.clear()
                self._plans[(cert, issuer)] = plan
        return plan

    def _answers(
        self,
        cert: x509.Certificate,
        issuer: x509.Certificate,
        plan: Plan,
        fetched: dict[Source, bytes | Exception],
        context: _Context,
    ) -> tuple[Answer, ...]:
        answers: list[Answer] = []
        crl_answer = self._crl_answer(cert, issuer, plan, fetched, context)
        if crl_answer is not None:
            answers.append(crl_answer)
        answers += [self._ocsp_answer(source, cert, issuer, fetched, context.now) for source in plan.ocsp]
        answers += [Answer("ocsp", Status.UNAVAILABLE, why) for why in plan.unusable if why.startswith("OCSP")]
        return tuple(answers)

    def _crl_answer(
        self,
        cert: x509.Certificate,
        issuer: x509.Certificate,
        plan: Plan,
        fetched: dict[Source, bytes | Exception],
        context: _Context,
    ) -> Answer | None:
        """The 6.3.3 answer over fetched and stored CRLs; None when the certificate has no CRL source at all."""
        now = context.now
        failures = [why for why in plan.unusable if not why.startswith("OCSP")]
        candidates: list[CrlIndex] = []
        origins: dict[int, str] = {}
        for source in plan.crls:
            index, failure = self._fetched_crl(source, fetched, now)
            if index is not None:
                candidates.append(index)
                origins[id(index)] = source.url
            if failure:
                failures.append(f"{source}: {failure}")
        issuers = {canonical(cert.issuer)} | _crl_issuer_names(cert)
        stored = [index for name in issuers for _, index in context.store.by_issuer.get(name, ())]
        origins |= {id(index): uri for name in issuers for uri, index in context.store.by_issuer.get(name, ())}
        if context.store.unavailable:
            failures.append(context.store.unavailable)
        if not (candidates or stored or failures or extension(cert, x509.CRLDistributionPoints)):
            return None
        verdict = crl_status(
            cert, candidates + stored, now, self._skew, lambda index: self._signer_problem(index, issuer, context)
        )
        used = ", ".join(f"{_describe(index)} from {origins.get(id(index), 'the CRL store')}" for index in verdict.used)
        if verdict.revoked is not None:
            reason = verdict.revoked.reason.value if verdict.revoked.reason else "unspecified"
            when = verdict.revoked.revoked_at.isoformat()
            return Answer("crl", Status.REVOKED, f"revoked at {when} ({reason}) per {used}")
        if verdict.good:
            valid_until = min((i.next_update for i in verdict.used if i.next_update), default=None)
            produced = min((i.this_update for i in verdict.used), default=None)
            return Answer("crl", Status.GOOD, f"not listed on {used}", valid_until, produced)
        return Answer("crl", Status.UNAVAILABLE, "; ".join([*verdict.problems, *failures])[:1000])

    def _fetched_crl(
        self, source: Source, fetched: dict[Source, bytes | Exception], now: datetime
    ) -> tuple[CrlIndex | None, str | None]:
        """A freshly fetched CRL (then cached until nextUpdate), else the cached one while valid."""
        failure = None
        if source in fetched:
            result = fetched[source]
            try:
                if isinstance(result, Exception):
                    raise SourceInvalid(f"fetch failed: {result}")
                index = parse_crl(result)
                refresh_at, valid_until = cache_times(
                    now, self._settings.revocation_cache_seconds, index.next_update or now
                )
                self._crls.put(source, index, refresh_at, valid_until, now)
                return index, None
            except SourceInvalid as exc:
                failure = str(exc)
                self._note_failure(source, now)
        cached = self._crls.get(source, now)
        if cached is None and failure is None:
            failure = "source failed recently; retry pending"
        return cached, failure

    def _ocsp_answer(
        self,
        source: Source,
        cert: x509.Certificate,
        issuer: x509.Certificate,
        fetched: dict[Source, bytes | Exception],
        now: datetime,
    ) -> Answer:
        """A verified fresh OCSP answer (cached until its nextUpdate), else the cached one while valid."""
        failure = "source failed recently; retry pending"
        if source in fetched:
            result = fetched[source]
            try:
                if isinstance(result, Exception):
                    raise SourceInvalid(f"fetch failed: {result}")
                max_age = timedelta(seconds=self._settings.ocsp_max_age_seconds)
                answer = ocsp_answer(str(source), result, cert, issuer, now, self._skew, max_age)
                valid_until = answer.valid_until or now
                refresh_at, _ = cache_times(now, self._settings.revocation_cache_seconds, valid_until)
                self._ocsp.put(source, answer, refresh_at, valid_until, now)
                return answer
            except SourceInvalid as exc:
                failure = str(exc)
                self._note_failure(source, now)
        cached = self._ocsp.get(source, now)
        return cached if cached is not None else Answer(str(source), Status.UNAVAILABLE, failure)

    def _signer_problem(self, index: CrlIndex, issuer: x509.Certificate, context: _Context) -> str | None:
        """6.3.3 (f)-(g): find a certificate that signed the CRL, with a valid, unrevoked path to the same anchor."""
        candidates = [issuer] if canonical(issuer.subject) == index.issuer else []
        candidates += [c for c in context.truststore.named(index.issuer_name) if c not in candidates]
        problems: list[str] = []
        for candidate in candidates:
            if not self._signed(index, candidate):
                continue
            usage = extension(candidate, x509.KeyUsage)
            if usage is not None and not usage.crl_sign:
                problems.append("CRL signer keyUsage lacks cRLSign")
                continue
            if candidate is issuer or candidate in context.signers:
                return None  # the issuer, or a CRL signer whose own status this CRL is being asked for
            problem = self._separate_signer_problem(candidate, context)
            if problem is None:
                return None
            problems.append(problem)
        return "; ".join(problems) or "CRL signature is not valid for any certificate of its issuer"

    def _separate_signer_problem(self, signer: x509.Certificate, context: _Context) -> str | None:
        """A CRL signer other than the certificate's issuer: its own path and revocation status."""
        if context.depth >= MAX_SIGNER_DEPTH:
            return "CRL signer chain is too deep to check"
        try:
            path = build_path(signer, context.truststore, context.now, self._path_policy, Role.CRL_SIGNER)
        except Denied as denied:
            return f"CRL signer path: {denied.detail}"
        if path[-1] != context.anchor:
            return "CRL signer chains to another trust anchor"
        results = self._path_answers(
            path, replace(context, depth=context.depth + 1, signers=(*context.signers, signer))
        )
        refusal = evaluate(results, self._settings.revocation_mode).refusal
        return f"CRL signer: {refusal[1]}" if refusal else None

    def _signed(self, index: CrlIndex, candidate: x509.Certificate) -> bool:
        key = (index.digest, candidate)
        if key not in self._signatures:
            valid = signed_with(index.crl, candidate.public_key())
            with self._lock:
                if len(self._signatures) > MAX_CACHE:
                    self._signatures.clear()
                self._signatures[key] = valid
        return self._signatures[key]

    def _note_failure(self, source: Source, now: datetime) -> None:
        with self._lock:
            self.source_failures += 1
        target = self._crls if source.kind == "crl" else self._ocsp
        target.mark_failed(source, now + self._retry, now)


@dataclass(frozen=True)
class _Context:
    """What one decision's revocation step shares: time, truststore, CRL store, anchor, and the CRL signers
    whose paths are being checked (their depth is bounded)."""

    now: datetime
    truststore: Truststore
    store: CrlStore
    anchor: x509.Certificate
    depth: int = 0
    signers: tuple[x509.Certificate, ...] = ()


def _crl_issuer_names(cert: x509.Certificate) -> set[CanonicalName]:
    points: list[x509.DistributionPoint] = list(extension(cert, x509.CRLDistributionPoints) or [])
    return {canonical(n.value) for p in points for n in p.crl_issuer or () if isinstance(n, x509.DirectoryName)}


def _describe(index: CrlIndex) -> str:
    number = f" #{index.number}" if index.number is not None else ""
    return f"CRL of {index.issuer_name.rfc4514_string()[:120]}{number}"
