"""The `nodegate` command as a process, for the tests that run it: where it is, and how to run or serve it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NODEGATE = str(Path(sys.executable).parent / "nodegate")


def run(
    *args: str, cwd: Path = ROOT, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NODEGATE, *args], cwd=cwd, input=stdin, env=env, capture_output=True, text=True, timeout=60, check=False
    )


@contextlib.contextmanager
def serving(*args: str, cwd: Path = ROOT) -> Iterator[list[str]]:
    """`nodegate ARGS` running: yields the lines it printed up to its "Ctrl-C" line; then Ctrl-C, which must end
    it with exit 0."""
    with serving_process(*args, cwd=cwd) as (_, lines):
        yield lines


@contextlib.contextmanager
def serving_process(*args: str, cwd: Path = ROOT) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """``serving``, with the process too."""
    process = subprocess.Popen(
        [NODEGATE, *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        while "Ctrl-C" not in (lines[-1] if lines else ""):
            lines.append(process.stdout.readline())
            assert lines[-1], f"nodegate {' '.join(args)} ended before it was ready: {lines}"
        yield process, lines
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
