"""The local stack on one CPU.

The stack is one Python process: the edge, the authorizer, the node backend, the CRL/OCSP server and S3 are
threads that take turns under one interpreter lock, and a request passes from thread to thread over sockets
(client, edge, node, edge, client). When the kernel may run those threads on any CPU, each hand-off wakes the
next thread on the other, idle CPU: on a virtual machine that is an inter-processor interrupt and a cold cache,
paid several times per request, for no parallelism the lock would allow. On one CPU a hand-off is a context
switch. docs/decisions.md, decision 19, has the measurements.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


@contextlib.contextmanager
def one_cpu() -> Iterator[int | None]:
    """Run the calling thread, and every thread it starts while inside (Linux: a new thread inherits its creator's
    CPU set), on the lowest CPU it may use; yield that CPU, or None where the CPU set cannot be changed (not
    Linux, or the kernel refused), and then run as before. On exit the calling thread gets its own set back;
    threads started inside keep the one CPU."""
    if not hasattr(os, "sched_setaffinity"):
        yield None
        return
    allowed = os.sched_getaffinity(0)
    cpu = min(allowed)
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError:
        yield None
        return
    try:
        yield cpu
    finally:
        with contextlib.suppress(OSError):  # a CPU taken away meanwhile: keep what the kernel allows
            os.sched_setaffinity(0, allowed)
