"""Lambda SnapStart runtime hooks (``snapshot-restore-py``): what a snapshot holds is made current on restore.

Before the snapshot, the runtime is built and its sources read, so the imports, parsers and clients the first
decision needs are in the snapshot. After a restore (minutes or days later, in many environments at once),
every source is read again with no stale value to fall back on (truststore, CRL store and access policy may
have new versions; the monotonic clock cannot tell a value's age across a snapshot), the revocation caches
and memoised evaluations are emptied, S3 clients are dropped, the assertion key is dropped and ``random`` is
re-seeded from the kernel. A hook never raises: a source that cannot be read now is read again by the next
decision, which fails closed until it can."""

from __future__ import annotations

from . import handler
from .sources.blobs import forget_clients


def before_snapshot() -> None:
    """Build the runtime and read its sources (a failure is left for the first decision to report)."""
    try:
        handler.current_runtime().load()
    except Exception as exc:  # noqa: BLE001 - the snapshot is taken either way; decisions report the source
        handler.logger.warning("sources not loaded before the snapshot", extra={"error": repr(exc)[:500]})


def after_restore() -> None:
    """Re-seed ``random``, drop the snapshot's clients, keys, cached answers and source values, and read the sources
    again."""
    import random  # not needed by a decision: imported here, off the cold path

    random.seed()
    forget_clients()
    runtime = handler.kept_runtime()
    if runtime is None:
        return
    runtime.forget()
    try:
        runtime.load()
    except Exception as exc:  # noqa: BLE001 - the next decision reads again and fails closed meanwhile
        handler.logger.warning("sources not loaded after the restore", extra={"error": repr(exc)[:500]})


def register() -> bool:
    """Register both hooks with the runtime's ``snapshot_restore_py`` (in the Lambda python3.12+ managed runtimes);
    False where it is not installed (local runs: no snapshot is ever taken there)."""
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot  # type: ignore[import-untyped]
    except ImportError:
        return False
    register_before_snapshot(before_snapshot)
    register_after_restore(after_restore)
    return True
