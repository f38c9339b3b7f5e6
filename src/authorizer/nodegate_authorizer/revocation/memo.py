"""Memoised CRL evaluations: RFC 5280 6.3.3 runs again only when what it reads changes.

An evaluation depends on the certificate, the exact CRL objects in scope (their ``uid``: a new version is a
new key), the path's anchor and truststore, and on the clock only through each CRL's freshness (thisUpdate,
nextUpdate, ``CrlIndex.usable_problem``). The memo keeps that freshness with the result and gives the result
back only when the CRLs' freshness at the caller's ``now`` is the same, so an expired CRL is never reused.
It keeps no CRL alive (the CRLs used are reduced to their facts) and holds at most ``limit`` entries."""

from __future__ import annotations

import threading
from collections.abc import Hashable
from datetime import datetime
from typing import NamedTuple

from cryptography import x509

from ..names import CanonicalName
from .crl import CrlIndex, Entry
from .crl_validation import CrlVerdict

Scope = tuple[CanonicalName, x509.IssuingDistributionPoint | None, bool]
"""A CRL's scope for cRLNumber ordering: issuer, issuingDistributionPoint, and whether it is a delta."""
Freshness = tuple[str | None, ...]
"""``usable_problem(now)`` of each CRL in scope, in order: what of an evaluation the clock can change."""


def scope_of(index: CrlIndex) -> Scope:
    """The scope whose cRLNumbers must not go back (RFC 5280 5.2.3)."""
    return index.issuer, index.idp, index.delta_base is not None


class Used(NamedTuple):
    """What an answer and the rollback guard need of a CRL that was used."""

    uid: int
    label: str
    scope: Scope
    number: int | None
    this_update: datetime
    next_update: datetime | None


class Evaluation(NamedTuple):
    """A ``CrlVerdict`` whose CRLs are reduced to ``Used`` facts."""

    revoked: Entry | None
    good: bool
    problems: tuple[str, ...]
    used: tuple[Used, ...]

    @classmethod
    def of(cls, verdict: CrlVerdict) -> Evaluation:
        """The verdict's facts."""
        used = tuple(Used(i.uid, i.label, scope_of(i), i.number, i.this_update, i.next_update) for i in verdict.used)
        return cls(verdict.revoked, verdict.good, verdict.problems, used)


class EvaluationMemo:
    """Evaluations per key for one truststore, at most ``limit`` (the oldest entry goes first)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._entries: dict[Hashable, tuple[Freshness, Evaluation]] = {}
        self._owner: object = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, owner: object, key: Hashable, freshness: Freshness) -> Evaluation | None:
        """The evaluation kept for ``key`` under ``owner`` (the truststore) when ``freshness`` is unchanged."""
        if owner is not self._owner:
            return None
        kept = self._entries.get(key)
        return kept[1] if kept is not None and kept[0] == freshness else None

    def put(self, owner: object, key: Hashable, freshness: Freshness, evaluation: Evaluation) -> None:
        """Keep ``evaluation``; a new owner empties the memo, a full one drops its oldest entry."""
        with self._lock:
            if owner is not self._owner:
                self._entries.clear()
                self._owner = owner
            self._entries.pop(key, None)
            while len(self._entries) >= self.limit:
                del self._entries[next(iter(self._entries))]
            self._entries[key] = (freshness, evaluation)

    def clear(self) -> None:
        """Forget every evaluation (after a snapshot restore)."""
        with self._lock:
            self._entries.clear()
            self._owner = None
