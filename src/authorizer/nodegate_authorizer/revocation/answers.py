"""Revocation answers and the pure rule that turns them into a verdict for a path."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from cryptography import x509

from ..certificates import PARSE_ERRORS as PARSE_ERRORS
from ..reasons import Reason
from ..settings import RevocationMode


class Status(StrEnum):
    """What one source said about one certificate."""

    GOOD = "good"
    REVOKED = "revoked"
    UNAVAILABLE = "unavailable"


class SourceInvalid(ValueError):
    """A CRL or OCSP answer that cannot be used: unreachable, malformed, stale or wrongly signed."""


class Answer(NamedTuple):
    """One source's answer; ``valid_until`` bounds how long it may be reused, ``produced_at`` is the
    answer's own thisUpdate (its age); ``delegate`` is an OCSP responder certificate whose own revocation
    status must still be checked (no id-pkix-ocsp-nocheck)."""

    source: str
    status: Status
    detail: str = ""
    valid_until: datetime | None = None
    produced_at: datetime | None = None
    delegate: x509.Certificate | None = None


class CertificateRevocation(NamedTuple):
    """Every answer gathered for one certificate of the path."""

    role: str
    serial: str
    answers: tuple[Answer, ...]


class RevocationOutcome(NamedTuple):
    """The revocation step as a value: every answer, the refusal the mode makes of them (reason and detail,
    or None), and the sources that failed softly."""

    results: tuple[CertificateRevocation, ...] = ()
    refusal: tuple[Reason, str] | None = None
    unavailable: tuple[str, ...] = ()

    @property
    def checked(self) -> int:
        """How many certificates were checked."""
        return len(self.results)


def evaluate(results: Sequence[CertificateRevocation], mode: RevocationMode) -> RevocationOutcome:
    """Apply ``mode`` to the answers: a revoked answer always refuses; an unanswered certificate refuses
    unless the mode lets it pass (``soft-fail``, or ``hard-fail`` when it has no source at all)."""
    done = tuple(results)
    for result in done:
        for answer in result.answers:
            if answer.status is Status.REVOKED:
                why = f"{result.role} serial {result.serial} revoked per {answer.source}: {answer.detail}"
                return RevocationOutcome(done, (Reason.REVOKED, why))
    soft: list[str] = []
    for result in done:
        if any(answer.status is Status.GOOD for answer in result.answers):
            continue
        failed = [f"{a.source}: {a.detail}" for a in result.answers]
        if not result.answers and mode is not RevocationMode.REQUIRE:
            continue
        if mode is RevocationMode.SOFT_FAIL:
            soft.extend(failed)
            continue
        why = "; ".join(failed) or "no CRL distribution point, OCSP responder or stored CRL"
        return RevocationOutcome(done, (Reason.REVOCATION_UNAVAILABLE, f"{result.role} serial {result.serial}: {why}"))
    return RevocationOutcome(done, None, tuple(soft))
