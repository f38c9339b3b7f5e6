"""The authorizer's log lines: one JSON object per line on stderr, in the shape the Powertools Logger writes
(level, location, message, timestamp, service, then the fields, xray_trace_id; exception and exception_name for
an error), at Powertools' level: ``AWS_LAMBDA_LOG_LEVEL`` (Lambda's advanced logging controls), else
``POWERTOOLS_LOG_LEVEL`` (or the legacy ``LOG_LEVEL``), else INFO.

Written with the standard library, not Powertools: importing Powertools costs ~15 ms of a cold start, and its
formatter ~70 µs a line where the decision line, written on every request, costs ~10 µs serialised directly
(docs/decisions.md, decisions 14 and 16). ``tests/unit/test_log_line.py`` compares the lines and the level with
Powertools Logger's own."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Mapping
from typing import IO, Any

XRAY_TRACE_ID = "_X_AMZN_TRACE_ID"
ALC_LEVELS = {
    "TRACE": "NOTSET",
    "DEBUG": "DEBUG",
    "INFO": "INFO",
    "WARN": "WARNING",
    "ERROR": "ERROR",
    "FATAL": "CRITICAL",
}
"""Lambda's advanced logging control levels, as Powertools maps them to Python's."""
LEVELS = frozenset({"NOTSET", "DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL", "FATAL"})
"""The level names Python's logging accepts; any other falls back to INFO."""
_RECORD_KEYS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


def timestamp(seconds: float) -> str:
    """Powertools' default timestamp, in UTC: ``2026-12-01 18:25:34,887+0000``."""
    return f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(seconds))},{int(seconds % 1 * 1000):03d}+0000"


def log_level(env: Mapping[str, str]) -> str:
    """The level Powertools' Logger takes from the environment."""
    alc = ALC_LEVELS.get(env.get("AWS_LAMBDA_LOG_LEVEL", ""))
    if alc:
        return alc
    level = (env.get("POWERTOOLS_LOG_LEVEL") or env.get("LOG_LEVEL") or "INFO").strip().upper()
    return level if level in LEVELS else "INFO"  # an unknown name must not stop the function at import


def render(level: str, location: str, message: str, service: str, fields: Mapping[str, Any]) -> str:
    """One line: the keys Powertools writes first, the fields, then the X-Ray trace id of this invocation."""
    line: dict[str, Any] = {
        "level": level,
        "location": location,
        "message": message,
        "timestamp": timestamp(time.time()),
        "service": service,
        **fields,
    }
    trace = os.environ.get(XRAY_TRACE_ID)  # per invocation: Lambda sets it for each request
    if trace:
        line["xray_trace_id"] = trace.split(";")[0].replace("Root=", "")
    return json.dumps(line, separators=(",", ":"), default=str)


class JsonFormatter(logging.Formatter):
    """A record as Powertools formats it (without its ``stack_trace`` object: ``exception`` holds the traceback);
    ``None`` fields are left out, as Powertools leaves them out."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        fields = {k: v for k, v in record.__dict__.items() if k not in _RECORD_KEYS and v is not None}
        if isinstance(record.exc_info, tuple) and record.exc_info[0] is not None:
            fields["exception"] = self.formatException(record.exc_info)
            fields["exception_name"] = record.exc_info[0].__name__
        location = f"{record.funcName}:{record.lineno}"
        return render(record.levelname, location, record.getMessage(), self.service, fields)


def make_logger(service: str, stream: IO[str] = sys.stderr, env: Mapping[str, str] = os.environ) -> logging.Logger:
    """The logger ``service`` writes with: JSON lines on ``stream``, at the environment's level, not propagated."""
    logger = logging.getLogger(service)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(service))
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(log_level(env))
    return logger


def write_info(logger: logging.Logger, message: str, fields: dict[str, Any]) -> None:
    """Write ``message`` and ``fields`` as one INFO line when the logger's level lets INFO through, straight to its
    stream handlers (the fields as given, ``None`` included); any other handler gets a record."""
    if not logger.isEnabledFor(logging.INFO):
        return
    for handler in logger.handlers:
        formatter = handler.formatter
        if not isinstance(handler, logging.StreamHandler) or not isinstance(formatter, JsonFormatter):
            handler.handle(logger.makeRecord(logger.name, logging.INFO, "", 0, message, (), None, "write_info", fields))
            continue
        text = render("INFO", "write_info", message, formatter.service, fields) + "\n"
        handler.acquire()
        try:
            handler.stream.write(text)
            handler.flush()
        finally:
            handler.release()
