"""The CRL mirror's Lambda adapter: settings from the environment, one run, one log line per URL, and per
issuer metrics (EMF, namespace nodegate, service crl-mirror). It never raises."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from .mirror import Action, MirrorReport, mirror_urls_setting, run_mirror
from .settings import ConfigError, load_settings

NAMESPACE = "nodegate"
SERVICE = "crl-mirror"
logger = Logger(service=SERVICE, stream=sys.stderr)


def metric_values(report: MirrorReport) -> list[tuple[str, float, dict[str, str]]]:
    """(name, value, extra dimensions) of every metric a run publishes: per issuer CrlAgeSeconds and
    CrlSecondsToNextUpdate, the smallest CrlSecondsToNextUpdate over all issuers (the alarm's metric), and
    how many URLs kept their last good copy. A run that could not start publishes only CrlMirrorFailed."""
    if report.error:
        return [("CrlMirrorFailed", 1.0, {})]
    values: list[tuple[str, float, dict[str, str]]] = []
    for item in report.freshness:
        issuer = {"Issuer": item.issuer[:250]}
        values += [("CrlAgeSeconds", item.age_seconds, issuer)]
        values += [("CrlSecondsToNextUpdate", item.seconds_to_next_update, issuer)]
    if report.freshness:
        values.append(("CrlSecondsToNextUpdateMin", min(f.seconds_to_next_update for f in report.freshness), {}))
    kept = sum(1 for result in report.results if result.action == Action.KEPT)
    values.append(("CrlMirrorKeptLastGood", float(kept), {}))
    return values


def _publish(report: MirrorReport) -> None:
    if os.environ.get("POWERTOOLS_METRICS_DISABLED", "").lower() == "true":
        return
    for name, value, dimensions in metric_values(report):
        unit = MetricUnit.Seconds if name.startswith("CrlAge") or "NextUpdate" in name else MetricUnit.Count
        with single_metric(name=name, unit=unit, value=value, namespace=NAMESPACE) as metric:
            metric.add_dimension(name="service", value=SERVICE)
            for key, dimension in dimensions.items():
                metric.add_dimension(name=key, value=dimension)


def run_from_environment(env: Mapping[str, str], now: datetime, *, dry_run: bool = False) -> MirrorReport:
    """Settings from ``env`` (the authorizer's, plus CRL_MIRROR_URLS), then one run; a bad setting is a
    report with an error, never an exception."""
    try:
        settings = load_settings(env)
        extra = mirror_urls_setting(env)
    except ConfigError as exc:
        return MirrorReport(error=f"configuration: {exc}")
    return run_mirror(settings, extra, now, dry_run=dry_run)


def lambda_handler(event: dict[str, Any] | None = None, context: object = None) -> dict[str, Any]:
    """EventBridge scheduled entry point: returns the run's summary."""
    report = run_from_environment(os.environ, datetime.now(UTC))
    for line in report.lines():
        logger.info(line)
    _publish(report)
    return {
        "error": report.error,
        "results": [result._asdict() for result in report.results],
        "freshness": [item._asdict() for item in report.freshness],
    }
