"""The ``nodegate`` console script's entry: Ctrl-C is quiet from nodegate's first line on, while the CLI imports."""

from __future__ import annotations

import signal
import sys


def _quiet_exit(signum: int, frame: object) -> None:
    """Ctrl-C before the CLI runs: exit 130 without a traceback (SystemExit unwinds any import in progress)."""
    sys.exit(130)


if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not when started with SIGINT ignored (`cmd &`)
    signal.signal(signal.SIGINT, _quiet_exit)


def main() -> None:
    """Import the CLI under the quiet handler, then give Ctrl-C back to it (it stops servers cleanly)."""
    from nodegate.cli import main as run

    if signal.getsignal(signal.SIGINT) is _quiet_exit:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    run()
