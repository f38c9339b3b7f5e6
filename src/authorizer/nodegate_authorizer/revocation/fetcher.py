"""Parallel fetching of revocation sources: one thread pool, one deadline for the whole batch."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .plan import Source

Fetch = Callable[[str, bytes | None], bytes]
"""Fetch a URL (POSTing the body when given); raise OSError on failure."""


MAX_PER_DECISION = 4
"""Sources one decision may fetch at once; the others get no answer, so one certificate cannot take the pool."""
WORKERS = 16


class Fetcher:
    """Owns the pool (created on first use), the per-decision cap and the batch deadline of ``2 x timeout``
    (each fetch also holds its own deadline of ``timeout``)."""

    def __init__(
        self, fetch: Fetch, timeout: float, workers: int = WORKERS, per_decision: int = MAX_PER_DECISION
    ) -> None:
        self._fetch = fetch
        self._timeout = timeout
        self._workers = workers
        self._per_decision = per_decision
        self._pool: Any = None

    def fetch_all(self, jobs: Mapping[Source, bytes | None]) -> dict[Source, bytes | Exception]:
        """Fetch every source (POSTing its body when given); a source not done by the deadline gets TimeoutError."""
        if not jobs:
            return {}
        from concurrent.futures import ThreadPoolExecutor, wait

        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="revocation-fetch")
        taken = dict(list(jobs.items())[: self._per_decision])
        futures = {source: self._pool.submit(self._fetch, source.url, body) for source, body in taken.items()}
        wait(futures.values(), timeout=self._timeout * 2)
        results: dict[Source, bytes | Exception] = {
            source: OSError(f"not fetched: more than {self._per_decision} sources in one decision")
            for source in jobs
            if source not in taken
        }
        for source, future in futures.items():
            if not future.done():
                future.cancel()
                results[source] = TimeoutError("fetch did not finish in time")
                continue
            error = future.exception()
            results[source] = error if isinstance(error, Exception) else future.result()
        return results
