"""The decision log line: one JSON object per decision, in the shape the Powertools Logger writes (level,
location, message, timestamp, service, then the fields, xray_trace_id), written to that logger's handler.

Powertools formats a record in ~70 µs (a LogRecord, a caller lookup, key extraction, an attempt to decode the
message as JSON); the decision line is written on every request, so it is serialised directly (~10 µs). It honours
the logger's level (POWERTOOLS_LOG_LEVEL, sampling) and handler; every other line still goes through the Logger."""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

from aws_lambda_powertools import Logger

XRAY_TRACE_ID = "_X_AMZN_TRACE_ID"


def timestamp(seconds: float) -> str:
    """Powertools' default timestamp, in UTC: ``2026-12-01 18:25:34,887+0000``."""
    return f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(seconds))},{int(seconds % 1 * 1000):03d}+0000"


def write_info(logger: Logger, message: str, fields: dict[str, Any]) -> None:
    """Write ``message`` and ``fields`` as one INFO line when the logger's level lets INFO through."""
    if not logging.getLogger(logger.name).isEnabledFor(logging.INFO):
        return
    line: dict[str, Any] = {
        "level": "INFO",
        "location": "write_info",
        "message": message,
        "timestamp": timestamp(time.time()),
        "service": logger.service,
        **fields,
    }
    trace = os.environ.get(XRAY_TRACE_ID)  # per invocation: Lambda sets it for each request
    if trace:
        line["xray_trace_id"] = trace.split(";")[0].replace("Root=", "")
    text = json.dumps(line, separators=(",", ":"), default=str) + "\n"
    handler = logger.registered_handler
    if not isinstance(handler, logging.StreamHandler):
        logger.info(message, extra=fields)
        return
    handler.acquire()
    try:
        handler.stream.write(text)
        handler.flush()
    finally:
        handler.release()
