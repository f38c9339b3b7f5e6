"""The revocation cache on its own, at a fixed clock: its two times, failure marks, and its bounds."""

from __future__ import annotations

import datetime as dt

from fixed import HOUR, NOW
from nodegate_authorizer.revocation.cache import SourceCache, cache_times
from nodegate_authorizer.revocation.plan import Source

A, B, C = (Source("crl", f"http://pki.example/{n}.crl", b"key") for n in "abc")
SECOND = dt.timedelta(seconds=1)


def test_value_is_served_until_valid_until_and_refetched_after_refresh_at() -> None:
    cache: SourceCache[str] = SourceCache(10)
    assert cache.get(A, NOW) is None
    assert cache.needs_fetch(A, NOW)
    cache.put(A, "crl", NOW + HOUR, NOW + 2 * HOUR, NOW)
    assert not cache.needs_fetch(A, NOW + HOUR - SECOND)
    assert cache.needs_fetch(A, NOW + HOUR)
    assert cache.get(A, NOW + 2 * HOUR) == "crl"
    assert cache.get(A, NOW + 2 * HOUR + SECOND) is None
    assert cache.needs_fetch(B, NOW)


def test_failure_marks_pause_fetching_until_their_time_and_a_new_value_clears_them() -> None:
    cache: SourceCache[str] = SourceCache(10)
    cache.mark_failed(A, NOW + 30 * SECOND, NOW)
    assert not cache.needs_fetch(A, NOW + 29 * SECOND)
    assert cache.needs_fetch(A, NOW + 30 * SECOND)
    assert cache.needs_fetch(B, NOW)  # per source
    cache.put(A, "crl", NOW, NOW + HOUR, NOW)  # refresh due at once, but no failure mark any more
    assert cache.needs_fetch(A, NOW)


def test_values_and_marks_stay_within_the_limit_dropping_expired_first() -> None:
    cache: SourceCache[str] = SourceCache(2)
    cache.put(A, "old", NOW, NOW + SECOND, NOW)
    cache.put(B, "live", NOW, NOW + HOUR, NOW)
    cache.put(C, "new", NOW, NOW + HOUR, NOW + 2 * SECOND)  # A expired: it goes, B stays
    assert (cache.get(A, NOW), cache.get(B, NOW), cache.get(C, NOW)) == (None, "live", "new")
    cache.put(A, "again", NOW, NOW + HOUR, NOW)  # nothing expired: the cache starts over
    assert (cache.get(B, NOW), cache.get(C, NOW), cache.get(A, NOW)) == (None, None, "again")
    cache.mark_failed(A, NOW + SECOND, NOW)
    cache.mark_failed(B, NOW + HOUR, NOW)
    cache.mark_failed(C, NOW + HOUR, NOW + 2 * SECOND)  # A's mark expired: dropped first
    assert cache.needs_fetch(A, NOW)
    assert not cache.needs_fetch(B, NOW + 2 * SECOND)
    cache.mark_failed(A, NOW + HOUR, NOW + 2 * SECOND)  # full and nothing expired: starts over
    assert cache.needs_fetch(B, NOW + 2 * SECOND)
    assert not cache.needs_fetch(A, NOW + 2 * SECOND)


def test_cache_times_take_the_earlier_end() -> None:
    assert cache_times(NOW, 300, NOW + HOUR) == (NOW + 300 * SECOND, NOW + HOUR)
    assert cache_times(NOW, 7200, NOW + HOUR) == (NOW + HOUR, NOW + HOUR)


def test_an_entry_expiring_exactly_now_is_expired_when_making_room() -> None:
    cache: SourceCache[str] = SourceCache(2)
    cache.put(A, "ends now", NOW, NOW, NOW - SECOND)
    cache.put(B, "live", NOW, NOW + HOUR, NOW)
    cache.put(C, "new", NOW, NOW + HOUR, NOW)  # A ends exactly now: it goes, B stays
    assert (cache.get(B, NOW), cache.get(C, NOW)) == ("live", "new")
    cache.mark_failed(A, NOW, NOW - SECOND)
    cache.mark_failed(B, NOW + HOUR, NOW)
    cache.mark_failed(C, NOW + HOUR, NOW)  # A's mark ends exactly now: it goes, B's stays
    assert not cache.needs_fetch(B, NOW)
