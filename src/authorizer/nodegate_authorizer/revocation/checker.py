"""Gather revocation answers for a path: cached when fresh, fetched in parallel when not, then evaluated.

Per certificate, every CRL that may cover it (fetched from its distribution points, or from the CRL store)
goes through RFC 5280 6.3.3 as one answer; each OCSP responder gives its own answer."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from itertools import pairwise
from typing import NamedTuple, TypeVar

from cryptography import x509

from ..certificates import extension, serial_hex, signed_with, token
from ..chain import PathPolicy, Role, build_path
from ..names import CanonicalName, canonical
from ..reasons import Denied
from ..settings import RevocationFetch, RevocationMode, Settings
from ..sources.limits import TooLarge
from ..truststore import Truststore
from .answers import Answer, CertificateRevocation, RevocationOutcome, SourceInvalid, Status, evaluate
from .cache import SourceCache, cache_times
from .crl import CrlIndex, parse_crl
from .crl_validation import crl_status
from .fetcher import Fetch, Fetcher
from .memo import Evaluation, EvaluationMemo, Freshness, Scope, Used, scope_of
from .ocsp import ocsp_answer, ocsp_request
from .plan import MAX_PER_KIND, Plan, Source, http_urls, plan_sources
from .store import CrlStore, StoreSnapshot

MAX_PLANS = 50_000
MAX_CACHE = 100_000
"""Cached answers, failure marks and plans kept at most (per container); expired ones go first."""
V = TypeVar("V")
MAX_SIGNER_DEPTH = 2
MAX_EVALUATIONS = 4096
"""CRL evaluations memoised per container (one per certificate and set of CRLs in scope; FIFO beyond it)."""
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
        self._plans: dict[tuple[int, int], Plan] = {}
        self._newest: dict[Scope, int] = {}
        self.evaluations = EvaluationMemo(MAX_EVALUATIONS)
        self._lock = threading.Lock()
        self.source_failures = 0
        self.too_large = 0
        """Sources met over FETCH_MAX_BYTES (fetched, or files of the CRL store), for the metric."""

    def forget(self) -> None:
        """Empty what depends on the clock or the network (cached CRLs and OCSP answers, failure marks, memoised
        evaluations); keep what cannot change (signature checks, plans) and the cRLNumbers already used (the
        rollback guard only ever grows stricter)."""
        with self._lock:
            self._crls = SourceCache(MAX_CACHE)
            self._ocsp = SourceCache(MAX_CACHE)
        self.evaluations.clear()

    def check(self, path: Sequence[x509.Certificate], now: datetime, truststore: Truststore) -> RevocationOutcome:
        """Every answer for the path and what the mode makes of them (``refusal`` is set when it refuses)."""
        mode = self._settings.revocation_mode
        if mode is RevocationMode.OFF:
            return RevocationOutcome()
        context = _Context(now, truststore, self._crl_store(), path[-1])
        if context.store.oversized:
            with self._lock:
                self.too_large += 1
        return evaluate(self._path_answers(path, context), mode)

    def _path_answers(self, path: Sequence[x509.Certificate], context: _Context) -> list[CertificateRevocation]:
        """Fetch every source of the path in one batch under one deadline, then (second round, same deadline)
        the delta CRLs that the complete CRLs advertise themselves (freshestCRL, RFC 5280 5.2.6)."""
        now = context.now
        pairs = list(pairwise(path))
        plans = [self._plan(cert, issuer) for cert, issuer in pairs]
        jobs: dict[Source, bytes | None] = {}
        for (cert, issuer), plan in zip(pairs, plans, strict=True):
            jobs |= {s: None for s in plan.crls if self._crls.needs_fetch(s, now)}
            jobs |= {s: ocsp_request(cert, issuer) for s in plan.ocsp if self._ocsp.needs_fetch(s, now)}
        fetching = self._settings.revocation_fetch is RevocationFetch.ON
        deadline = self._fetcher.deadline()
        fetched = self._fetcher.fetch_all(jobs, deadline) if fetching else {}
        crls: dict[Source, tuple[CrlIndex | None, str | None]] = {}
        for (_, issuer), plan in zip(pairs, plans, strict=True):
            crls |= {s: self._crl_from(s, fetched, issuer, context) for s in plan.crls}
        advertised = [self._advertised(cert, plan, crls, context) for (cert, _), plan in zip(pairs, plans, strict=True)]
        plans = [p._replace(crls=(*p.crls, *more)) if more else p for p, more in zip(plans, advertised, strict=True)]
        later = {s: None for more in advertised for s in more if s not in crls and self._crls.needs_fetch(s, now)}
        if fetching and later:
            fetched |= self._fetcher.fetch_all(later, deadline)
        for (_, issuer), plan in zip(pairs, plans, strict=True):
            crls |= {s: self._crl_from(s, fetched, issuer, context) for s in plan.crls if s not in crls}
        return [
            CertificateRevocation(
                "leaf" if i == 0 else f"intermediate {i}",
                serial_hex(cert),
                self._answers(cert, issuer, plan, crls, fetched, context),
            )
            for i, ((cert, issuer), plan) in enumerate(zip(pairs, plans, strict=True))
        ]

    def _advertised(
        self,
        cert: x509.Certificate,
        plan: Plan,
        crls: dict[Source, tuple[CrlIndex | None, str | None]],
        context: _Context,
    ) -> tuple[Source, ...]:
        """Delta CRL sources named by the freshestCRL extension of a complete CRL that may cover ``cert``
        (fetched or stored), which the certificate's own plan does not name."""
        found = [crls[s][0] for s in plan.crls] + self._stored(cert, context)
        points = [p for index in found if index is not None and index.freshest for p in index.freshest]
        known = {s.url for s in plan.crls}
        urls = [url for url in http_urls(n for p in points for n in p.full_name or ()) if url not in known]
        return tuple(Source("crl", url, plan.issuer_key) for url in list(dict.fromkeys(urls))[:MAX_PER_KIND])

    def _plan(self, cert: x509.Certificate, issuer: x509.Certificate) -> Plan:
        key = (token(cert), token(issuer))
        plan = self._plans.get(key)
        if plan is None:
            plan = plan_sources(cert, issuer)
            with self._lock:
                if len(self._plans) > MAX_PLANS:
                    self._plans.clear()
                self._plans[key] = plan
        return plan

    def _answers(
        self,
        cert: x509.Certificate,
        issuer: x509.Certificate,
        plan: Plan,
        crls: dict[Source, tuple[CrlIndex | None, str | None]],
        fetched: dict[Source, bytes | Exception],
        context: _Context,
    ) -> tuple[Answer, ...]:
        answers: list[Answer] = []
        crl_answer = self._crl_answer(cert, issuer, plan, crls, context)
        if crl_answer is not None:
            answers.append(crl_answer)
        for source in plan.ocsp:
            answer = self._ocsp_answer(source, cert, issuer, fetched, context.now)
            answers.append(self._delegate_checked(answer, issuer, plan, crls, context))
        answers += [Answer("ocsp", Status.UNAVAILABLE, why) for why in plan.unusable if why.startswith("OCSP")]
        return tuple(answers)

    def _delegate_checked(
        self,
        answer: Answer,
        issuer: x509.Certificate,
        plan: Plan,
        crls: dict[Source, tuple[CrlIndex | None, str | None]],
        context: _Context,
    ) -> Answer:
        """RFC 6960 4.2.2.2.1: an answer signed by a delegate without id-pkix-ocsp-nocheck counts only when the
        issuing CA's CRLs (already gathered for this certificate, or stored) say the delegate is not revoked;
        otherwise it is no answer, and the CRL answer can still decide. CRLs never ask OCSP: no loop."""
        if answer.delegate is None:
            return answer
        sources = [*plan.crls, *plan_sources(answer.delegate, issuer).crls]
        found = [crls[s][0] for s in dict.fromkeys(sources) if s in crls] + self._stored(answer.delegate, context)
        verdict, rolled_back = self._verdict(
            answer.delegate, [index for index in found if index is not None], issuer, context
        )
        if verdict.good:
            return answer
        why = "revoked" if verdict.revoked else "; ".join([*verdict.problems, *rolled_back])
        return Answer(answer.source, Status.UNAVAILABLE, f"delegated OCSP responder's own status: {why}"[:1000])

    def _verdict(
        self, cert: x509.Certificate, crls: list[CrlIndex], issuer: x509.Certificate, context: _Context
    ) -> tuple[Evaluation, list[str]]:
        """6.3.3 over ``crls`` for ``cert``, after refusing rolled-back scopes, and the CRL numbers it used
        remembered; with why each rolled-back scope was refused. One sequence for certificates and delegates.

        The evaluation is memoised per (certificate, issuer, CRL objects, anchor, signer depth) for this truststore,
        and reused only while every CRL's freshness at ``now`` is what it was; an evaluation that asked a separate
        CRL signer's path (which depends on the clock in other ways) is not memoised."""
        current, rolled_back = self._not_rolled_back(crls)
        key = (
            token(cert),
            token(issuer),
            tuple(index.uid for index in current),
            token(context.anchor),
            context.depth,
            tuple(map(token, context.signers)),
        )
        freshness: Freshness = tuple(index.usable_problem(context.now, self._skew) for index in current)
        evaluation = self.evaluations.get(context.truststore, key, freshness)
        if evaluation is None:
            separate: list[CrlIndex] = []

            def signer_problem(index: CrlIndex) -> str | None:
                problem, asked_signer = self._signer_problem(index, issuer, context)
                if asked_signer:
                    separate.append(index)
                return problem

            evaluation = Evaluation.of(crl_status(cert, current, context.now, self._skew, signer_problem))
            if not separate:
                self.evaluations.put(context.truststore, key, freshness, evaluation)
        self._remember(evaluation.used)
        return evaluation, rolled_back

    def _crl_answer(
        self,
        cert: x509.Certificate,
        issuer: x509.Certificate,
        plan: Plan,
        crls: dict[Source, tuple[CrlIndex | None, str | None]],
        context: _Context,
    ) -> Answer | None:
        """The 6.3.3 answer over fetched and stored CRLs; None when the certificate has no CRL source at all."""
        failures = [why for why in plan.unusable if not why.startswith("OCSP")]
        candidates: list[CrlIndex] = []
        origins: dict[int, str] = {}
        for source in plan.crls:
            index, failure = crls[source]
            if index is not None:
                candidates.append(index)
                origins[index.uid] = source.url
            if failure:
                failures.append(f"{source}: {failure}")
        stored = self._stored(cert, context)
        origins |= {
            index.uid: uri for name in _issuer_names(cert) for uri, index in context.store.by_issuer.get(name, ())
        }
        if context.store.unavailable:
            failures.append(context.store.unavailable)
        if context.store.configured and not (plan.crls or plan.ocsp or plan.unusable or stored):
            return Answer(
                "crl", Status.UNAVAILABLE, f"the CRL store holds no CRL of {cert.issuer.rfc4514_string()[:120]}"
            )
        if not (candidates or stored or failures or plan.has_cdp):
            return None
        verdict, rolled_back = self._verdict(cert, candidates + stored, issuer, context)
        failures += rolled_back
        used = ", ".join(f"{u.label} from {origins.get(u.uid, 'the CRL store')}" for u in verdict.used)
        if verdict.revoked is not None:
            reason = verdict.revoked.reason.value if verdict.revoked.reason else "unspecified"
            when = verdict.revoked.revoked_at.isoformat()
            return Answer("crl", Status.REVOKED, f"revoked at {when} ({reason}) per {used}")
        if verdict.good:
            valid_until = min((i.next_update for i in verdict.used if i.next_update), default=None)
            produced = min((i.this_update for i in verdict.used), default=None)
            return Answer("crl", Status.GOOD, f"not listed on {used}", valid_until, produced)
        return Answer("crl", Status.UNAVAILABLE, "; ".join([*verdict.problems, *failures])[:1000])

    def _not_rolled_back(self, crls: list[CrlIndex]) -> tuple[list[CrlIndex], list[str]]:
        """The CRLs of every scope (issuer, issuingDistributionPoint, complete or delta) whose newest present
        cRLNumber is not below one already used: a rollback to an older CRL still inside its nextUpdate is
        refused (RFC 5280 5.2.3: cRLNumbers increase), the older CRLs beside a current one are still read."""
        groups: dict[Scope, list[CrlIndex]] = {}
        for index in crls:
            groups.setdefault(scope_of(index), []).append(index)
        kept: list[CrlIndex] = []
        problems: list[str] = []
        for scope, group in groups.items():
            newest = max((index.number for index in group if index.number is not None), default=None)
            problem = self._rollback(scope, newest)
            if problem:
                problems.append(problem)
            else:
                kept += group
        return kept, problems

    def _rollback(self, scope: Scope, number: int | None, cached: CrlIndex | None = None) -> str | None:
        """Why a CRL numbered ``number`` of ``scope`` goes back (RFC 5280 5.2.3): below the highest number used
        for the scope, or below the ``cached`` CRL of the same scope; None when it does not."""
        floors = [self._newest.get(scope), cached.number if cached and scope_of(cached) == scope else None]
        floor = max((n for n in floors if n is not None), default=None)
        if number is not None and floor is not None and number < floor:
            return f"CRL rollback: #{number} is below #{floor}, the newest of its scope used or cached (5.2.3)"
        return None

    def _remember(self, used: Sequence[Used]) -> None:
        """Keep the highest cRLNumber used per scope (only CRLs that passed 6.3.3, signature included)."""
        with self._lock:
            if len(self._newest) > MAX_CACHE:
                self._newest.clear()
            for crl in used:
                if crl.number is not None:
                    self._newest[crl.scope] = max(self._newest.get(crl.scope, crl.number), crl.number)

    def _stored(self, cert: x509.Certificate, context: _Context) -> list[CrlIndex]:
        """CRLs of the CRL store whose issuer may have issued a CRL for ``cert``."""
        return [index for name in _issuer_names(cert) for _, index in context.store.by_issuer.get(name, ())]

    def _refreshed(
        self,
        cache: SourceCache[V],
        source: Source,
        fetched: dict[Source, bytes | Exception],
        now: datetime,
        validate: Callable[[bytes], tuple[V, datetime]],
    ) -> tuple[V | None, str | None]:
        """One rule for CRLs and OCSP answers: a fetched value replaces the cached one only once ``validate``
        accepts it (signed, fresh; it returns the value and its end of validity); otherwise the cached value
        stays in use while valid, and the failure is reported and marked."""
        failure = None
        if source in fetched:
            result = fetched[source]
            try:
                if isinstance(result, Exception):
                    if isinstance(result, TooLarge):
                        with self._lock:
                            self.too_large += 1
                    raise SourceInvalid(f"fetch failed: {result}")
                value, valid_until = validate(result)
                refresh_at, _ = cache_times(now, self._settings.revocation_cache_seconds, valid_until)
                cache.put(source, value, refresh_at, valid_until, now)
                return value, None
            except SourceInvalid as exc:
                failure = str(exc)
                self._note_failure(source, now)
        cached = cache.get(source, now)
        if cached is None and failure is None:
            failure = "source failed recently; retry pending"
        return cached, failure

    def _crl_from(
        self, source: Source, fetched: dict[Source, bytes | Exception], issuer: x509.Certificate, context: _Context
    ) -> tuple[CrlIndex | None, str | None]:
        """A fetched CRL that parses, is current, is signed by its issuer and is no older than the newest of its
        scope already used or cached at the source (then cached until its nextUpdate), else the cached one while
        valid: a refresh that goes back in cRLNumber is a failed refresh (RFC 5280 5.2.3, 6.3.3)."""

        def validate(data: bytes) -> tuple[CrlIndex, datetime]:
            index = parse_crl(data)
            cached = self._crls.get(source, context.now)
            problem = (
                index.usable_problem(context.now, self._skew)
                or self._signer_problem(index, issuer, context)[0]
                or self._rollback(scope_of(index), index.number, cached)
            )
            if problem:
                raise SourceInvalid(problem)
            return index, index.next_update or context.now

        return self._refreshed(self._crls, source, fetched, context.now, validate)

    def _ocsp_answer(
        self,
        source: Source,
        cert: x509.Certificate,
        issuer: x509.Certificate,
        fetched: dict[Source, bytes | Exception],
        now: datetime,
    ) -> Answer:
        """A verified fresh OCSP answer no older (thisUpdate) than the cached one (then cached until its
        nextUpdate), else the cached one while valid: an older answer served after a newer one (a replay of a
        "good" captured before the revocation) is a failed refresh, as an older CRL is (RFC 6960 4.2.2.1)."""
        max_age = timedelta(seconds=self._settings.ocsp_max_age_seconds)

        def validate(data: bytes) -> tuple[Answer, datetime]:
            answer: Answer = ocsp_answer(str(source), data, cert, issuer, now, self._skew, max_age)
            cached = self._ocsp.get(source, now)
            if cached and cached.produced_at and answer.produced_at and answer.produced_at < cached.produced_at:
                raise SourceInvalid(
                    f"OCSP answer of {answer.produced_at.isoformat()} is older than the cached one of "
                    f"{cached.produced_at.isoformat()}"
                )
            return answer, answer.valid_until or now

        kept = self._refreshed(self._ocsp, source, fetched, now, validate)
        if kept[0] is not None:
            return kept[0]
        return Answer(str(source), Status.UNAVAILABLE, kept[1] or "")

    def _signer_problem(self, index: CrlIndex, issuer: x509.Certificate, context: _Context) -> tuple[str | None, bool]:
        """6.3.3 (f)-(g): find a certificate that signed the CRL, with a valid, unrevoked path to the same anchor;
        a weak or unsupported signature algorithm is refused as on certificates. Also says whether a separate
        CRL signer's path was asked (an answer that depends on the clock beyond the CRL's own freshness)."""
        if index.weakness and self._path_policy.refuse_weak_crypto:
            return f"CRL: {index.weakness}", False
        candidates = [issuer] if canonical(issuer.subject) == index.issuer else []
        candidates += [c for c in context.truststore.named(index.issuer_name) if c not in candidates]
        problems: list[str] = []
        asked = False
        for candidate in candidates:
            if not self._signed(index, candidate):
                continue
            usage = extension(candidate, x509.KeyUsage)
            if usage is not None and not usage.crl_sign:
                problems.append("CRL signer keyUsage lacks cRLSign")
                continue
            if candidate is issuer or candidate in context.signers or candidate == context.anchor:
                return None, asked  # the issuer, the path's own anchor (6.3.3 (f): a path of length zero), or a
                # CRL signer whose own status this CRL is being asked for
            asked = True
            problem = self._separate_signer_problem(candidate, context)
            if problem is None:
                return None, asked
            problems.append(problem)
        return "; ".join(problems) or "CRL signature is not valid for any certificate of its issuer", asked

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
            path, context._replace(depth=context.depth + 1, signers=(*context.signers, signer))
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


class _Context(NamedTuple):
    """What one decision's revocation step shares: time, truststore, CRL store, anchor, and the CRL signers
    whose paths are being checked (their depth is bounded)."""

    now: datetime
    truststore: Truststore
    store: CrlStore
    anchor: x509.Certificate
    depth: int = 0
    signers: tuple[x509.Certificate, ...] = ()


_names: dict[int, frozenset[CanonicalName]] = {}


def _issuer_names(cert: x509.Certificate) -> frozenset[CanonicalName]:
    """The certificate's issuer and every cRLIssuer directory name of its distribution points (memoised per
    certificate token, at most MAX_CACHE: it depends on the certificate alone)."""
    key = token(cert)
    names = _names.get(key)
    if names is None:
        points: list[x509.DistributionPoint] = list(extension(cert, x509.CRLDistributionPoints) or [])
        named = {canonical(n.value) for p in points for n in p.crl_issuer or () if isinstance(n, x509.DirectoryName)}
        names = frozenset({canonical(cert.issuer)} | named)
        if len(_names) >= MAX_CACHE:
            _names.clear()
        _names[key] = names
    return names
