"""Structure-aware mutation fuzzing of the DER the authorizer reads from outside (issue 23, item 3).

Five input kinds, each delivered through the public handler (``make_handler(build_runtime(...))``) with a
file:// truststore and CRL store and a live CRL/OCSP server on 127.0.0.1: the client certificate, a truststore
entry (root or intermediate), a CRL (served from a CDP, and in the CRL store), an OCSP answer, and the OCSP
delegate certificate inside an answer. tests/fuzz/mutate.py changes each one's DER tree; half of the mutants
are signed again with the right key so they get past the signature check.

Invariants: (a) a well-formed response and never INTERNAL_ERROR; (b)-(d) an Allow must be one the rules
permit (tests/fuzz/rules.py). Crash classes in code other helpers own are listed in KNOWN_OPEN with their
finding, tolerated here, and pinned by the regression seeds of tests/fuzz/seeds.py (strict xfail until fixed).

Inputs are replayable: mutant ``i`` of kind ``k`` comes from ``random.Random(f"{SEED}:{k}:{i}")``. ``make test``
runs NODEGATE_DER_FUZZ_EXAMPLES (default 500) per kind, ``make fuzz`` 10,000; NODEGATE_FUZZ_SEED picks the seed
and NODEGATE_FUZZ_OUT keeps the inputs that broke an invariant."""

from __future__ import annotations

import json
import logging
import os
import traceback
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pytest
from fuzz.der import encode, parse
from fuzz.response import well_formed
from fuzz.rules import pyca_refusal, stages, wrong_allow
from fuzz.seeds import SEEDS, Seed
from fuzz.targets import KINDS, Mutant, Pki, Target, resign

from nodegate_authorizer import handler as authorizer

pytestmark = pytest.mark.filterwarnings("ignore:Attribute's length must be")  # fuzzed names: expected
EXAMPLES = int(os.environ.get("NODEGATE_DER_FUZZ_EXAMPLES", "500"))
SEED = os.environ.get("NODEGATE_FUZZ_SEED", "20261201")
OUT = os.environ.get("NODEGATE_FUZZ_OUT")
REACH: dict[str, Counter[str]] = {kind: Counter() for kind in KINDS}
"""Per kind: generated, resigned, der, signature, each decision reason, each crash class (printed at the end)."""
KNOWN_OPEN: dict[str, str] = {}
"""Open crash classes (exception in module:function), each with its finding and a seed in tests/fuzz/seeds.py; empty:
every class the fuzzer has found is fixed and its seed must pass."""
KNOWN_WRONG_ALLOW: dict[str, str] = {}
"""Allows the rules forbid, in code other helpers are fixing (matched in the broken rule's text)."""


class Crashes(logging.Handler):
    """Keeps the exception the handler logged when it turned a crash into INTERNAL_ERROR."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.last: tuple[type[BaseException], BaseException, TracebackType | None] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[0] is not None:
            self.last = record.exc_info  # type: ignore[assignment]

    def take(self) -> tuple[str, str]:
        """(crash class, innermost frames) of the last logged exception, and forget it."""
        if self.last is None:
            return "no exception logged", ""
        kind, value, tb = self.last
        self.last = None
        frames = traceback.extract_tb(tb)
        ours = [f for f in frames if "nodegate_authorizer" in f.filename and not f.name.startswith("<")] or frames
        where = ours[-1]
        module = where.filename.split("nodegate_authorizer/")[-1]
        crash = f"{kind.__name__} in {module}:{where.name} `{where.line}`"
        stack = " <- ".join(f"{Path(f.filename).name}:{f.lineno}:{f.name}" for f in reversed(frames[-6:]))
        return crash, f"{value!r}"[:300] + f" at {stack}"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pki]:
    built = Pki.build(tmp_path_factory.mktemp("der-fuzz"))
    crashes = Crashes()
    logger = authorizer.logger
    level, handlers, propagate = logger.level, list(logger.handlers), logger.propagate
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
        logger.handlers[:] = [crashes]  # tens of thousands of decision lines are not needed; crashes are
        logger.setLevel(logging.ERROR)
        logger.propagate = False  # nor pytest's log capture, which would keep every crash's record
        built.settings["crashes"] = crashes
        try:
            yield built
        finally:
            logger.handlers[:] = handlers
            logger.setLevel(level)
            logger.propagate = propagate
            built.close()


def run(target: Target, mutant: Mutant, pki: Pki) -> tuple[str, str | None, str | None]:
    """Decide one mutant; return (outcome label, broken invariant or None, detail)."""
    counts = REACH[mutant.kind]
    counts["generated"] += 1
    counts["resigned"] += mutant.resign
    for stage in stages(mutant, pki):
        counts[stage] += 1
    response = target.decide(mutant)
    try:
        effect = well_formed(response)
    except (AssertionError, KeyError, TypeError) as exc:
        return "malformed response", "(a) the response is not well-formed", repr(exc)
    reason = response.get("context", {}).get("reason") if effect == "Deny" else None
    if reason == "INTERNAL_ERROR":
        crash, detail = pki.settings["crashes"].take()
        counts[f"crash: {crash}"] += 1
        if crash.split(" `")[0] in KNOWN_OPEN:
            return crash, None, detail
        return crash, "(a) INTERNAL_ERROR", detail
    counts[reason or "Allow"] += 1
    if effect == "Allow":
        broken = wrong_allow(mutant, pki)
        if broken:
            counts[f"wrong Allow: {broken}"] += 1
            known = any(pattern in broken for pattern in KNOWN_WRONG_ALLOW)
            return "Allow", None if known else broken, None
        if mutant.part in ("leaf", "root", "intermediate") and mutant.data != mutant.original:
            refusal = pyca_refusal(mutant, pki)
            counts["Allow, pyca refuses" if refusal else "Allow, pyca agrees"] += 1
            if refusal:
                keep(mutant, f"pyca refuses: {refusal}", None)
    return reason or "Allow", None, None


def keep(mutant: Mutant, broken: str, detail: str | None) -> None:
    """Write a breaking input (and what it broke) under NODEGATE_FUZZ_OUT, for a seed file or a bug report."""
    if not OUT:
        return
    folder = Path(OUT) / mutant.kind
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{mutant.part}--{'resigned' if mutant.resign else 'plain'}--{mutant.index}"
    (folder / f"{stem}.der").write_bytes(mutant.data)
    facts = {"broken": broken, "detail": detail, "labels": mutant.labels, "seed": SEED, "index": mutant.index}
    (folder / f"{stem}.json").write_text(json.dumps(facts, indent=1))


CONTROL = {"leaf": "Allow", "truststore": "Allow", "ocsp-delegate": "Allow"}
"""What the unchanged input gets: Allow, or REVOKED for the kinds whose source revokes the leaf."""


def control(target: Target) -> str:
    """The decision on the kind's unchanged input (its reason, or Allow)."""
    part = {"truststore": "root", "crl-fetched": "crl", "crl-store": "crl"}.get(target.kind, target.kind)
    part = {"ocsp-delegate": "delegate"}.get(part, part)
    original = target.original(part)
    response = target.decide(Mutant(target.kind, -1, False, [], original, original, part))
    return response.get("context", {}).get("reason") or "Allow"


@pytest.mark.parametrize("kind", KINDS)
def test_mutated_der_never_crashes_or_allows_wrongly(pki: Pki, kind: str) -> None:
    target = Target(pki, kind)
    assert control(target) == CONTROL.get(kind, "REVOKED"), "the unchanged input is not decided as it should be"
    failures: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for index in range(EXAMPLES):
        mutant = target.generate(SEED, index)
        outcome, broken, detail = run(target, mutant, pki)
        if broken:
            key = f"{broken}: {outcome}"
            failures[key] += 1
            examples.setdefault(key, f"index {index} ({', '.join(mutant.labels)}) {detail or ''}")
            keep(mutant, key, detail)
    assert control(target) == CONTROL.get(kind, "REVOKED"), "the harness drifted: the unchanged input changed"
    summary = "; ".join(f"{n} x {key} - first: {examples[key]}" for key, n in failures.most_common())
    assert not failures, f"seed {SEED}, kind {kind}: {summary}"


def _seed_params() -> list[object]:
    """Seeds of open findings are strict xfails: once the owner's fix lands they pass, and the xfail must go."""
    params = []
    for seed in SEEDS:
        marks = [pytest.mark.xfail(strict=True, raises=AssertionError, reason=seed.finding)] if seed.finding else []
        params.append(pytest.param(seed, id=seed.name, marks=marks))
    return params


@pytest.mark.parametrize("seed", _seed_params())
def test_regression_seeds(pki: Pki, seed: Seed) -> None:
    """Each crash class the fuzzer found, as one input built by code: decided, never INTERNAL_ERROR, never a
    wrong Allow."""
    mutant = seed.build(pki)
    response = Target(pki, seed.kind).decide(mutant)
    effect = well_formed(response)
    reason = response.get("context", {}).get("reason")
    crash = pki.settings["crashes"].take() if reason == "INTERNAL_ERROR" else None
    assert reason != "INTERNAL_ERROR", crash
    assert effect == "Deny" or wrong_allow(mutant, pki) is None


@pytest.mark.parametrize("version", [1, 3, 5, 127, 255, -1])
def test_a_client_certificate_of_any_version_is_decided(pki: Pki, version: int) -> None:
    """X.509 knows v1-v3 (RFC 5280 4.1.2.1); cryptography raises InvalidVersion (not a ValueError) for the rest,
    and the parse boundary must make it MALFORMED_CERT, signed by the issuing CA or not."""
    target = Target(pki, "leaf")
    tree = parse(target.original("leaf"))
    tbs = tree.children[0]  # type: ignore[index]
    tbs.children[0].children[0].content = version.to_bytes((version.bit_length() + 8) // 8, "big", signed=True)  # type: ignore[index]
    resign(tree, pki.issuing.key)
    mutant = Mutant("leaf", 0, True, ["version"], encode(tree), target.original("leaf"), "leaf")
    response = target.decide(mutant)
    assert well_formed(response) == "Deny"
    assert response["context"]["reason"] == "MALFORMED_CERT"
