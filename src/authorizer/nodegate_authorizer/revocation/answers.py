"""Revocation answers and the pure rule that turns them into a verdict for a path."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from ..reasons import Denied, Reason
from ..settings import RevocationMode


class Status(StrEnum):
    """What one source said about one certificate."""

    GOOD = "good"
    REVOKED = "revoked"
    UNAVAILABLE = "unavailable"


class SourceInvalid(ValueError):
    """A CRL or OCSP answer that cannot be used: unreachable, malformed, stale or wrongly signed."""


@dataclass(frozen=True)
class Answer:
    """One source's answer; ``valid_until`` bounds how long it may be reused."""

    source: str
    status: Status
    detail: str = ""
    valid_until: datetime | None = None


@dataclass(frozen=True)
class CertificateRevocation:
    """Every answer gathered for one certificate of the path."""

    role: str
    serial: str
    answers: tuple[Answer, ...]


@dataclass(frozen=True)
class RevocationOutcome:
    """A path that passed: how many certificates were checked, and which sources failed softly."""

    checked: int
    unavailable: tuple[str, ...] = ()


def evaluate(results: Sequence[CertificateRevocation], mode: RevocationMode) -> RevocationOutcome:
    """Apply ``mode`` to the answers; raise Denied for a revoked or (when required) unanswered certificate."""
    for result in results:
        for answer in result.answers:
            if answer.status is Status.REVOKED:
                raise Denied(
                    Reason.REVOKED, f"{result.role} serial {result.serial} revoked per {answer.source}: {answer.detail}"
                )
    soft: list[str] = []
    for result in results:
        if any(answer.status is Status.GOOD for answer in result.answers):
            continue
        failed = [f"{a.source}: {a.detail}" for a in result.answers]
        if not result.answers and mode is not RevocationMode.REQUIRE:
            continue
        if mode is RevocationMode.SOFT_FAIL:
            soft.extend(failed)
            continue
        why = "; ".join(failed) or "no CRL distribution point, OCSP responder or stored CRL"
        raise Denied(Reason.REVOCATION_UNAVAILABLE, f"{result.role} serial {result.serial}: {why}")
    return RevocationOutcome(checked=len(results), unavailable=tuple(soft))
