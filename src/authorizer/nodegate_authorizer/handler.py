"""The Lambda adapter: event in, decision, one log line and metrics, authorizer response out. It never raises.

``lambda_handler`` (the Lambda entry point) builds its runtime from the environment; ``make_handler`` binds a
handler to a runtime built elsewhere (the local edge, the stack, tests), with an injectable clock."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .assertion import Claims
from .decision import Allowed, Refused, decide
from .emf import Metrics
from .event import AuthRequest, parse_event
from .log_line import make_logger, write_info
from .reasons import Denied, Reason
from .response import allow_response, deny_response
from .revocation.answers import RevocationOutcome
from .runtime import Runtime, build_runtime
from .settings import ConfigError, Settings, load_settings
from .truststore import Truststore

logger = make_logger("nodegate-authorizer")
metrics = Metrics(namespace="nodegate", service="authorizer")
_settings: list[Settings] = []
_runtime: list[Runtime] = []
Handler = Callable[[dict[str, Any], object], dict[str, Any]]
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The wall clock, timezone-aware."""
    return datetime.now(UTC)


def settings_from_environment() -> Settings:
    """Settings from os.environ, read once per process: a function's environment does not change while its
    runtime lives (a ConfigError is not kept; the next call reads again). ``reset`` forgets them."""
    if not _settings:
        _settings.append(load_settings(os.environ))
    return _settings[0]


def runtime_for(settings: Settings) -> Runtime:
    """The runtime for these settings, kept across invocations of a warm container."""
    if not _runtime or _runtime[0].settings != settings:
        _runtime[:] = [build_runtime(settings)]
    return _runtime[0]


def current_runtime() -> Runtime:
    """The kept runtime, built from the environment on the first invocation."""
    return _runtime[0] if _runtime else runtime_for(settings_from_environment())


def kept_runtime() -> Runtime | None:
    """The runtime kept by earlier invocations (or a SnapStart init), if any."""
    return _runtime[0] if _runtime else None


def reset() -> None:
    """Forget the settings, the runtime and the truststore report: the next invocation reads the environment and
    builds again (for callers that change the environment: tests, the bench)."""
    _settings.clear()
    _runtime.clear()
    _reported.clear()


def lambda_handler(event: dict[str, Any], context: object = None) -> dict[str, Any]:
    """API Gateway REST REQUEST authorizer entry point: settings from the environment."""
    return handle(event, current_runtime, utc_now)


def make_handler(runtime: Runtime, clock: Clock = utc_now) -> Handler:
    """A handler bound to ``runtime`` (and ``clock``), for callers that build the runtime from settings."""

    def handler(event: dict[str, Any], context: object = None) -> dict[str, Any]:
        return handle(event, lambda: runtime, clock)

    return handler


def handle(event: dict[str, Any], get_runtime: Callable[[], Runtime], clock: Clock) -> dict[str, Any]:
    """Decide one event; every failure becomes a Deny with a reason code."""
    started = time.perf_counter()
    request: AuthRequest | None = None
    runtime: Runtime | None = None
    failures_before = too_large_before = 0
    assertion: str | None = None
    try:
        request = parse_event(event)
        runtime = get_runtime()
        failures_before = runtime.revocation.source_failures
        too_large_before = runtime.revocation.too_large
        inputs = runtime.inputs()
        _report_skipped(inputs.truststore)
        now = clock()
        decision: Allowed | Refused = decide(request, inputs, now)
        if isinstance(decision, Allowed) and runtime.signer is not None:
            assertion = runtime.signer.sign(claims(request, decision, _request_id(event)), now.timestamp())
    except Denied as denied:
        decision = Refused(denied.reason, denied.detail)
    except ConfigError as exc:
        decision = Refused(Reason.CONFIG_INVALID, str(exc))
    except Exception as exc:
        decision = Refused(Reason.INTERNAL_ERROR, repr(exc)[:500])
        logger.exception("unexpected error; denying")
    response = respond(decision, request, assertion)
    if isinstance(decision, Allowed):
        fields: dict[str, Any] = {
            "decision": "Allow",
            "userId": decision.identity.user_id,
            "nodeId": decision.grant.node_id,
            "identityRule": decision.identity.rule,
        }
        if decision.revocation.unavailable:
            fields["softFailed"] = list(decision.revocation.unavailable)
            metrics.add("RevocationSoftFail")
    else:
        fields = {"decision": "Deny", "reason": decision.reason.value, "detail": decision.detail}
    if decision.revocation is not None and decision.revocation.results:
        fields["revocation"] = revocation_summary(decision.revocation)
    fields |= decision.certificate
    fields["latencyMs"] = round((time.perf_counter() - started) * 1000, 3)
    fields["correlation_id"] = _request_id(event)
    if request is not None:
        fields |= {"method": request.method, "pathNodeId": request.node_id[:80]}
    failed = runtime.revocation.source_failures - failures_before if runtime else 0
    if failed:
        fields["revocationSourceFailures"] = failed
    too_large = runtime.revocation.too_large - too_large_before if runtime else 0
    if too_large:
        fields["revocationSourcesTooLarge"] = too_large
    write_info(logger, "authorization decision", fields)
    _count(fields, failed, too_large)
    return response


def respond(decision: Allowed | Refused, request: AuthRequest | None, assertion: str | None = None) -> dict[str, Any]:
    """The authorizer response for a decision: node-scoped Allow (with the node's assertion), or Deny."""
    route = request.route if request else None
    if isinstance(decision, Refused):
        return deny_response(decision.reason, route)
    if route is None:  # an Allow always comes from a parsed request; never allow without its route
        return deny_response(Reason.INTERNAL_ERROR, None)
    return allow_response(route, decision.identity, decision.grant, decision.certificate, assertion)


def claims(request: AuthRequest, decision: Allowed, request_id: str | None) -> Claims:
    """What the node's assertion says: this request (API Gateway's id, method, path) and who may make it."""
    if not request_id:
        raise Denied(Reason.ASSERTION_UNAVAILABLE, "the event has no requestContext.requestId to bind")
    return Claims(
        request_id=request_id,
        method=request.method,
        path="/" + request.route.resource,
        node_id=decision.grant.node_id,
        user_id=decision.identity.user_id,
        subject=decision.identity.subject,
        rule=decision.identity.rule,
    )


def revocation_summary(outcome: RevocationOutcome) -> list[str]:
    """One compact line per checked certificate: each source and its status (for the decision log line)."""
    return [
        f"{result.role} {result.serial}: "
        + (", ".join(f"{a.source}={a.status}" for a in result.answers) or "no source")
        for result in outcome.results
    ]


def _request_id(event: object) -> str | None:
    """API Gateway's request id (Powertools' correlation id path for REST APIs: requestContext.requestId)."""
    context = event.get("requestContext") if isinstance(event, dict) else None
    value = context.get("requestId") if isinstance(context, dict) else None
    return value[:128] if isinstance(value, str) else None


_reported: list[Truststore] = []


def _report_skipped(truststore: Truststore) -> None:
    """Log and count, once per loaded truststore, the bundle entries it left out."""
    if _reported and _reported[0] is truststore:
        return
    _reported[:] = [truststore]
    for entry in truststore.skipped:
        logger.warning("truststore entry skipped", extra={"entry": entry})
    if truststore.skipped:
        metrics.add("TruststoreEntrySkipped", len(truststore.skipped))


DENY_METRIC = "Deny"


def decision_metric(reason: Reason | None) -> str:
    """The metric a decision counts in: ``Allow``, or ``Deny`` and the reason in CamelCase (``DenyRevoked``)."""
    return "Allow" if reason is None else f"Deny{reason.value.title().replace('_', '')}"


def _count(fields: dict[str, Any], source_failures: int, too_large: int) -> None:
    try:
        reason = None if fields["decision"] == "Allow" else Reason(fields["reason"])
        metrics.add(decision_metric(reason))
        if reason is not None:  # every deny also counts in one metric: DenyRiseAlarm watches it
            metrics.add(DENY_METRIC)
        if source_failures:
            metrics.add("RevocationSourceFailure", source_failures)
        if too_large:
            metrics.add("RevocationSourceTooLarge", too_large)
        metrics.flush()
    except Exception:  # noqa: BLE001 - metrics must never change a decision
        logger.warning("metrics flush failed")
