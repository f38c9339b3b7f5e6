"""The decision log line is the line the Powertools Logger would write for the same fields (a differential
against Powertools' own formatter), honours the logger's level, and costs a fraction of a Logger call."""

from __future__ import annotations

import io
import json
import re
import time
import uuid

import pytest
from aws_lambda_powertools import Logger

from nodegate_authorizer.log_line import timestamp, write_info

FIELDS = {
    "decision": "Deny",
    "reason": "REVOKED",
    "detail": 'leaf serial 1f revoked per crl: \u00e9 "quoted"',
    "revocation": ["leaf 1f: crl=revoked"],
    "latencyMs": 0.25,
    "correlation_id": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
    "when": time,  # not JSON: both fall back to str()
}


@pytest.fixture
def logger() -> tuple[Logger, io.StringIO]:
    buffer = io.StringIO()
    service = f"log-line-test-{uuid.uuid4().hex[:8]}"  # a logger of its own: Powertools configures one per name once
    return Logger(service=service, stream=buffer, level="INFO"), buffer


def test_the_line_is_the_one_powertools_writes(
    logger: tuple[Logger, io.StringIO], monkeypatch: pytest.MonkeyPatch
) -> None:
    log, buffer = logger
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
    log.info("authorization decision", extra=FIELDS)
    write_info(log, "authorization decision", FIELDS)
    theirs, ours = (json.loads(line) for line in buffer.getvalue().splitlines())
    assert list(ours) == list(theirs)
    assert {k: v for k, v in ours.items() if k not in ("location", "timestamp")} == {
        k: v for k, v in theirs.items() if k not in ("location", "timestamp")
    }
    pattern = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}[+-]\d{4}"
    assert re.fullmatch(pattern, ours["timestamp"])
    assert re.fullmatch(pattern, theirs["timestamp"])
    assert ours["xray_trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"


def test_the_logger_level_is_honoured(logger: tuple[Logger, io.StringIO]) -> None:
    log, buffer = logger
    log.setLevel("WARNING")
    write_info(log, "authorization decision", FIELDS)
    assert buffer.getvalue() == ""


def test_timestamp_is_utc_with_milliseconds() -> None:
    assert timestamp(1_764_613_534.887_9) == "2025-12-01 18:25:34,887+0000"


def test_the_line_costs_a_fraction_of_a_logger_call(logger: tuple[Logger, io.StringIO]) -> None:
    log, _ = logger

    def per_call(write: object) -> float:
        started = time.perf_counter()
        for _ in range(2000):
            write()  # type: ignore[operator]
        return time.perf_counter() - started

    fields = {k: v for k, v in FIELDS.items() if k != "when"}
    theirs = min(per_call(lambda: log.info("authorization decision", extra=fields)) for _ in range(3))
    ours = min(per_call(lambda: write_info(log, "authorization decision", fields)) for _ in range(3))
    assert ours < theirs / 2, (ours, theirs)
