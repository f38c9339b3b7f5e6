"""``nodegate.local.cpu.one_cpu``: the calling thread and the threads it starts run on one CPU; the caller's own
CPU set comes back on exit; where the kernel refuses, the stack runs as before (decision 19)."""

from __future__ import annotations

import os
import threading

import pytest

from nodegate.local import cpu

pytestmark = pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2, reason="Linux with 2+ CPUs to choose from"
)


def affinity_of_a_new_thread() -> set[int]:
    seen: list[set[int]] = []
    thread = threading.Thread(target=lambda: seen.append(os.sched_getaffinity(0)))
    thread.start()
    thread.join()
    return seen[0]


def test_threads_started_inside_run_on_the_lowest_allowed_cpu_and_the_caller_gets_its_set_back() -> None:
    before = os.sched_getaffinity(0)
    with cpu.one_cpu() as chosen:
        assert chosen == min(before)
        assert os.sched_getaffinity(0) == {chosen}
        assert affinity_of_a_new_thread() == {chosen}
        kept: list[set[int]] = []
        started = threading.Event()
        release = threading.Event()

        def long_lived() -> None:
            started.set()
            release.wait(10)
            kept.append(os.sched_getaffinity(0))

        thread = threading.Thread(target=long_lived)
        thread.start()
        started.wait(10)
    assert os.sched_getaffinity(0) == before
    assert affinity_of_a_new_thread() == before
    release.set()
    thread.join()
    assert kept == [{chosen}]  # a part started inside stays on its CPU after the caller left


def test_a_refused_cpu_set_leaves_the_caller_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    before = os.sched_getaffinity(0)

    def refuse(pid: int, mask: object) -> None:
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(os, "sched_setaffinity", refuse)
    with cpu.one_cpu() as chosen:
        assert chosen is None
        assert os.sched_getaffinity(0) == before
