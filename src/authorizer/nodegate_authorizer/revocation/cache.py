"""Revocation caches: fetched CRLs and OCSP answers with their times, and failure marks, under one lock."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Generic, NamedTuple, TypeVar

from .plan import Source

V = TypeVar("V")


class Cached(NamedTuple, Generic[V]):
    """A value and its two times: fetch again after ``refresh_at``; never use after ``valid_until``."""

    value: V
    refresh_at: datetime
    valid_until: datetime


class SourceCache(Generic[V]):
    """Values and failure marks per Source, bounded to ``limit`` each; expired entries are dropped first."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._values: dict[Source, Cached[V]] = {}
        self._failed_until: dict[Source, datetime] = {}
        self._lock = threading.Lock()

    def get(self, source: Source, now: datetime) -> V | None:
        """The value while ``now`` is within its validity, else None."""
        with self._lock:
            cached = self._values.get(source)
        return cached.value if cached is not None and now <= cached.valid_until else None

    def needs_fetch(self, source: Source, now: datetime) -> bool:
        """True when there is no fresh value and no recent failure mark."""
        with self._lock:
            cached = self._values.get(source)
            if cached is not None and now < cached.refresh_at:
                return False
            return self._failed_until.get(source, now) <= now

    def put(self, source: Source, value: V, refresh_at: datetime, valid_until: datetime, now: datetime) -> None:
        """Keep ``value`` and clear the source's failure mark."""
        with self._lock:
            if len(self._values) >= self._limit:
                self._values = {k: v for k, v in self._values.items() if v.valid_until > now}
                if len(self._values) >= self._limit:
                    self._values.clear()
            self._values[source] = Cached(value, refresh_at, valid_until)
            self._failed_until.pop(source, None)

    def mark_failed(self, source: Source, until: datetime, now: datetime) -> None:
        """Do not fetch ``source`` again before ``until``."""
        with self._lock:
            if len(self._failed_until) >= self._limit:
                self._failed_until = {k: v for k, v in self._failed_until.items() if v > now}
                if len(self._failed_until) >= self._limit:
                    self._failed_until.clear()
            self._failed_until[source] = until


def cache_times(now: datetime, cap_seconds: float, valid_until: datetime) -> tuple[datetime, datetime]:
    """(refresh_at, valid_until): refresh at the earlier of the cap and the value's own end."""
    return min(now + timedelta(seconds=cap_seconds), valid_until), valid_until
