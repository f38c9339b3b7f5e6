"""The authorizer's log lines are the lines the Powertools Logger would write for the same fields (a differential
against Powertools' own formatter), at the level Powertools takes from the same environment; the decision line
honours the logger's level and costs a fraction of a Logger call."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import time
import uuid
import warnings
from typing import Any
from unittest import mock

import pytest
from aws_lambda_powertools import Logger
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from nodegate_authorizer.log_line import log_level, make_logger, timestamp, write_info

FIELDS = {
    "decision": "Deny",
    "reason": "REVOKED",
    "detail": 'leaf serial 1f revoked per crl: \u00e9 "quoted"',
    "revocation": ["leaf 1f: crl=revoked"],
    "latencyMs": 0.25,
    "correlation_id": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
    "when": time,  # not JSON: both fall back to str()
}
TRACE = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
LEVELS = st.none() | st.sampled_from(["DEBUG", "info", "Warning", "ERROR", "CRITICAL"])
ALC = st.none() | st.sampled_from(["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "bogus"])


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"  # a logger of its own: Powertools configures one per name once


@pytest.fixture
def loggers() -> tuple[Logger, logging.Logger, io.StringIO]:
    buffer = io.StringIO()
    service = unique("log-line-test")
    theirs = Logger(service=service, stream=buffer, level="INFO")
    return theirs, make_logger(unique("ours"), buffer, {"POWERTOOLS_LOG_LEVEL": "INFO"}), buffer


def same_but(ours: dict[str, Any], theirs: dict[str, Any], *keys: str) -> None:
    assert [k for k in ours if k not in keys] == [k for k in theirs if k not in keys]
    assert {k: v for k, v in ours.items() if k not in keys} == {k: v for k, v in theirs.items() if k not in keys}


def lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_the_decision_line_is_the_one_powertools_writes(
    loggers: tuple[Logger, logging.Logger, io.StringIO], monkeypatch: pytest.MonkeyPatch
) -> None:
    theirs, ours, buffer = loggers
    monkeypatch.setenv("_X_AMZN_TRACE_ID", TRACE)
    theirs.info("authorization decision", extra=FIELDS)
    write_info(ours, "authorization decision", FIELDS)
    their_line, our_line = lines(buffer)
    same_but(our_line, their_line | {"service": ours.name}, "location", "timestamp")
    pattern = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}[+-]\d{4}"
    assert re.fullmatch(pattern, our_line["timestamp"])
    assert re.fullmatch(pattern, their_line["timestamp"])
    assert our_line["xray_trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"


def test_warning_and_exception_lines_are_the_ones_powertools_writes(
    loggers: tuple[Logger, logging.Logger, io.StringIO], monkeypatch: pytest.MonkeyPatch
) -> None:
    theirs, ours, buffer = loggers
    monkeypatch.setenv("_X_AMZN_TRACE_ID", TRACE)
    for logger in (theirs, ours):
        logger.warning("truststore entry skipped", extra={"entry": "entry 3: not a CA", "none": None})
    try:
        raise ValueError("boom")
    except ValueError:
        for logger in (theirs, ours):
            logger.exception("unexpected error; denying")
    their_warning, our_warning, their_error, our_error = lines(buffer)
    same_but(our_warning, their_warning | {"service": ours.name}, "timestamp")
    same_but(our_error, their_error | {"service": ours.name}, "timestamp", "stack_trace", "exception")
    assert our_error["exception"].splitlines()[-1] == their_error["exception"].splitlines()[-1] == "ValueError: boom"
    assert our_warning["location"].startswith("test_warning_and_exception_lines_are_the_ones_powertools_writes:")


@settings(max_examples=60)
@given(alc=ALC, level=LEVELS, legacy=LEVELS)
def test_the_level_is_the_one_powertools_takes_from_the_environment(
    alc: str | None, level: str | None, legacy: str | None
) -> None:
    env = {"AWS_LAMBDA_LOG_LEVEL": alc, "POWERTOOLS_LOG_LEVEL": level, "LOG_LEVEL": legacy}
    env = {k: v for k, v in env.items() if v is not None}
    with mock.patch.dict(os.environ, env, clear=True), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Powertools warns when the two levels disagree
        try:
            theirs = Logger(service=unique("level-test"), stream=io.StringIO())
        except TypeError:  # Powertools compares "NOTSET" (TRACE) with a level name and fails: no oracle here
            assume(False)
    assert make_logger(unique("ours"), io.StringIO(), env).level == theirs.log_level


def test_the_logger_level_is_honoured(loggers: tuple[Logger, logging.Logger, io.StringIO]) -> None:
    _, ours, buffer = loggers
    ours.setLevel("WARNING")
    write_info(ours, "authorization decision", FIELDS)
    assert buffer.getvalue() == ""


def test_another_handler_gets_a_record() -> None:
    ours = make_logger(unique("ours"), io.StringIO(), {})
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    ours.addHandler(handler)
    write_info(ours, "authorization decision", {"decision": "Allow"})
    assert [(r.getMessage(), r.decision) for r in records] == [("authorization decision", "Allow")]  # type: ignore[attr-defined]


def test_timestamp_is_utc_with_milliseconds() -> None:
    assert timestamp(1_764_613_534.887_9) == "2025-12-01 18:25:34,887+0000"


def test_the_line_costs_a_fraction_of_a_logger_call() -> None:
    # made here, not in a fixture: pytest attaches its capture handlers to the non-propagating loggers that exist
    # when a test starts, and a second handler would be timed too
    theirs = Logger(service=unique("log-line-test"), stream=io.StringIO(), level="INFO")
    ours = make_logger(unique("ours"), io.StringIO(), {})

    def per_call(write: object) -> float:
        started = time.perf_counter()
        for _ in range(2000):
            write()  # type: ignore[operator]
        return time.perf_counter() - started

    fields = {k: v for k, v in FIELDS.items() if k != "when"}
    their_time = min(per_call(lambda: theirs.info("authorization decision", extra=fields)) for _ in range(3))
    our_time = min(per_call(lambda: write_info(ours, "authorization decision", fields)) for _ in range(3))
    assert our_time < their_time / 2, (our_time, their_time)


@pytest.mark.parametrize("value", ["TRACE", " info", "verbose", "", "warning "])
def test_an_unknown_log_level_falls_back_instead_of_stopping_the_function(value: str) -> None:
    """Review rev-D: `TRACE` (a Lambda name) or a typo in POWERTOOLS_LOG_LEVEL raised at import, so every
    invocation failed to start; a level Python does not know is INFO, a known one with spaces is read."""
    level = log_level({"POWERTOOLS_LOG_LEVEL": value})
    assert level == ("WARNING" if value.strip().upper() == "WARNING" else "INFO")
    logging.getLogger("nodegate-test-level").setLevel(level)
