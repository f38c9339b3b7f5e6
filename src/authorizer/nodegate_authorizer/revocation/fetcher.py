"""Fetch revocation sources in parallel: one thread pool, one deadline for the whole decision."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from .plan import Source

Fetch = Callable[[str, bytes | None], bytes]
"""Fetch a URL (POSTing the body when given); raise OSError on failure."""


WORKERS = 16


class Fetcher:
    """Owns the pool (created on first use) and the decision's deadline: ``timeout`` seconds from the first
    batch, covering every batch of the decision and each fetch whole (name resolution included: a fetch not
    done by then gets TimeoutError, whatever it is waiting for)."""

    def __init__(self, fetch: Fetch, timeout: float, workers: int = WORKERS) -> None:
        self._fetch = fetch
        self._timeout = timeout
        self._workers = workers
        self._pool: Any = None

    def deadline(self) -> float:
        """The monotonic time a decision starting now must have its answers by."""
        return time.monotonic() + self._timeout

    def fetch_all(self, jobs: Mapping[Source, bytes | None], deadline: float) -> dict[Source, bytes | Exception]:
        """Fetch every source at once (POSTing its body when given); one not done by ``deadline`` gets
        TimeoutError. Every job is asked: there is no cap here (the plan bounds sources per certificate)."""
        if not jobs:
            return {}
        from concurrent.futures import ThreadPoolExecutor, wait

        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="revocation-fetch")
        futures = {source: self._pool.submit(self._fetch, source.url, body) for source, body in jobs.items()}
        wait(futures.values(), timeout=max(0.0, deadline - time.monotonic()))
        results: dict[Source, bytes | Exception] = {}
        for source, future in futures.items():
            if not future.done():
                future.cancel()
                results[source] = TimeoutError("fetch did not finish in time")
                continue
            error = future.exception()
            results[source] = error if isinstance(error, Exception) else future.result()
        return results
