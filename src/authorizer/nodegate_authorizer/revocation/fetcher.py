"""Parallel fetching of revocation sources: one thread pool, one deadline for the whole batch."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .plan import Source

Fetch = Callable[[str, bytes | None], bytes]
"""Fetch a URL (POSTing the body when given); raise OSError on failure."""


class Fetcher:
    """Owns the pool (created on first use) and the batch deadline of ``2 x timeout``."""

    def __init__(self, fetch: Fetch, timeout: float, workers: int = 8) -> None:
        self._fetch = fetch
        self._timeout = timeout
        self._workers = workers
        self._pool: Any = None

    def fetch_all(self, jobs: Mapping[Source, bytes | None]) -> dict[Source, bytes | Exception]:
        """Fetch every source (POSTing its body when given); a source not done by the deadline gets TimeoutError."""
        if not jobs:
            return {}
        from concurrent.futures import ThreadPoolExecutor, wait

        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="revocation-fetch")
        futures = {source: self._pool.submit(self._fetch, source.url, body) for source, body in jobs.items()}
        wait(futures.values(), timeout=self._timeout * 2)
        results: dict[Source, bytes | Exception] = {}
        for source, future in futures.items():
            if not future.done():
                future.cancel()
                results[source] = TimeoutError("fetch did not finish in time")
                continue
            error = future.exception()
            results[source] = error if isinstance(error, Exception) else future.result()
        return results
