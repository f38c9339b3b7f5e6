"""The Lambda adapter: event in, decision, one log line and metrics, authorizer response out. It never raises."""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from .decision import decide
from .event import AuthRequest, parse_event
from .reasons import Denied, Reason
from .response import allow_response, deny_response
from .runtime import Runtime, build_runtime
from .settings import SETTING_NAMES, ConfigError, Settings, load_settings
from .truststore import Truststore

logger = Logger(service="nodegate-authorizer", stream=sys.stderr)
metrics = Metrics(namespace="nodegate", service="authorizer")
_runtimes: dict[Settings, Runtime] = {}


@lru_cache(maxsize=8)
def _settings(values: tuple[tuple[str, str], ...]) -> Settings:
    return load_settings(dict(values))


def settings_from_environment() -> Settings:
    """Settings from os.environ, parsed once per distinct set of values (a ConfigError is not cached)."""
    environ = os.environ
    return _settings(tuple((name, value) for name in SETTING_NAMES if (value := environ.get(name)) is not None))


def runtime_for(settings: Settings) -> Runtime:
    """The runtime for these settings, kept across invocations of a warm container."""
    if settings not in _runtimes:
        _runtimes.clear()
        _runtimes[settings] = build_runtime(settings)
    return _runtimes[settings]


def lambda_handler(event: dict[str, Any], context: object = None) -> dict[str, Any]:
    """API Gateway REST REQUEST authorizer entry point."""
    started = time.perf_counter()
    request: AuthRequest | None = None
    runtime: Runtime | None = None
    failures_before = 0
    fields: dict[str, Any] = {}
    try:
        request = parse_event(event)
        runtime = runtime_for(settings_from_environment())
        failures_before = runtime.revocation.source_failures
        inputs = runtime.inputs()
        _report_skipped(inputs.truststore)
        allowed = decide(request, inputs, datetime.now(UTC))
        response = allow_response(request.route, allowed.identity, allowed.grant, allowed.certificate)
        fields = {"decision": "Allow", "userId": allowed.identity.user_id, "nodeId": allowed.grant.node_id}
        fields |= allowed.certificate
        if allowed.revocation.unavailable:
            fields["softFailed"] = list(allowed.revocation.unavailable)
            metrics.add_metric(name="RevocationSoftFail", unit=MetricUnit.Count, value=1)
    except Denied as denied:
        response = _deny(denied.reason, request)
        fields = {"decision": "Deny", "reason": denied.reason.value, "detail": denied.detail} | denied.certificate
    except ConfigError as exc:
        response = _deny(Reason.CONFIG_INVALID, request)
        fields = {"decision": "Deny", "reason": Reason.CONFIG_INVALID.value, "detail": str(exc)}
    except Exception as exc:
        response = _deny(Reason.INTERNAL_ERROR, request)
        fields = {"decision": "Deny", "reason": Reason.INTERNAL_ERROR.value, "detail": repr(exc)[:500]}
        logger.exception("unexpected error; denying")
    fields["latencyMs"] = round((time.perf_counter() - started) * 1000, 3)
    if request is not None:
        fields |= {"method": request.method, "pathNodeId": request.node_id[:80]}
    failed = runtime.revocation.source_failures - failures_before if runtime else 0
    if failed:
        fields["revocationSourceFailures"] = failed
    logger.info("authorization decision", extra=fields)
    _count(fields, failed)
    return response


_reported: list[Truststore] = []


def _report_skipped(truststore: Truststore) -> None:
    """Log and count, once per loaded truststore, the bundle entries it left out."""
    if _reported and _reported[0] is truststore:
        return
    _reported[:] = [truststore]
    for entry in truststore.skipped:
        logger.warning("truststore entry skipped", extra={"entry": entry})
    if truststore.skipped:
        metrics.add_metric(name="TruststoreEntrySkipped", unit=MetricUnit.Count, value=len(truststore.skipped))


def _deny(reason: Reason, request: AuthRequest | None) -> dict[str, Any]:
    return deny_response(reason, request.route if request else None)


def _count(fields: dict[str, Any], source_failures: int) -> None:
    try:
        name = "Allow" if fields["decision"] == "Allow" else f"Deny{fields['reason'].title().replace('_', '')}"
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
        if source_failures:
            metrics.add_metric(name="RevocationSourceFailure", unit=MetricUnit.Count, value=source_failures)
        metrics.flush_metrics()
        # flush_metrics keeps the set when POWERTOOLS_METRICS_DISABLED is true, and add_metric then prints it
        # anyway once it holds 100 values: clear it every time.
        metrics.clear_metrics()
    except Exception:  # noqa: BLE001 - metrics must never change a decision
        logger.warning("metrics flush failed")
