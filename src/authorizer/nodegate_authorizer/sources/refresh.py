"""A value read from a source and re-read on an interval, failing closed on bad content."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from .blobs import BlobError, read_blob

T = TypeVar("T")
Loader = Callable[[tuple[str, T] | None], tuple[str, T]]


def blob_loader(
    uri: str, parse: Callable[[bytes], T], *, version: str | None = None, timeout: float, max_bytes: int
) -> Loader[T]:
    """A loader that reads ``uri`` and parses it only when its change tag differs from the previous one."""

    def load(previous: tuple[str, T] | None) -> tuple[str, T]:
        blob = read_blob(uri, version=version, timeout=timeout, max_bytes=max_bytes)
        if previous is not None and previous[0] == blob.tag:
            return previous
        return blob.tag, parse(blob.data)

    return load


class Refreshing(Generic[T]):
    """Holds ``(tag, value)`` from ``load`` and reloads it every ``interval`` seconds.

    A transient failure (network, throttling, 5xx) keeps serving the last good value for up to ``max_stale``
    seconds, so one S3 hiccup does not lock every operator out. A definitive one (object gone, access
    denied) or bad content drops the value: the next call retries and, until one succeeds, every call raises.
    """

    def __init__(
        self, load: Loader[T], interval: float, max_stale: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._load = load
        self._interval = interval
        self._max_stale = max_stale
        self._clock = clock
        self._lock = threading.Lock()
        self._current: tuple[str, T] | None = None
        self._loaded_at = 0.0
        self._next_refresh = 0.0
        self.last_error: str | None = None

    def forget(self) -> None:
        """Drop the value: the next ``get`` reads the source again, with no older value to fall back on (after a
        SnapStart restore, when the monotonic clock cannot say how old the value is)."""
        with self._lock:
            self._current = None
            self._next_refresh = 0.0

    def get(self) -> T:
        """Return the current value, reloading it when due; raise the loader's error when none is usable."""
        with self._lock:
            now = self._clock()
            if self._current is not None and now < self._next_refresh:
                return self._current[1]
            try:
                self._current = self._load(self._current)
            except BlobError as exc:
                self.last_error = str(exc)
                if exc.transient and self._current is not None and now - self._loaded_at <= self._max_stale:
                    self._next_refresh = now + min(self._interval, 5.0)
                    return self._current[1]
                self._current = None
                raise
            except Exception as exc:
                self.last_error = str(exc)
                self._current = None
                raise
            self.last_error = None
            self._loaded_at = now
            self._next_refresh = now + self._interval
            return self._current[1]
