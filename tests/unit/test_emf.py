"""The authorizer's metrics line is the EMF document Powertools Metrics prints for the same metrics (a differential
against Powertools' own serialiser), and metrics are off under the same settings."""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
from typing import Any
from unittest import mock

from aws_lambda_powertools import Metrics as PowertoolsMetrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from hypothesis import given
from hypothesis import strategies as st

from nodegate_authorizer.emf import Metrics

NAMES = st.sampled_from(["Allow", "Deny", "DenyRevoked", "RevocationSourceFailure", "TruststoreEntrySkipped"])
ADDS = st.lists(st.tuples(NAMES, st.integers(min_value=0, max_value=10_000)), min_size=1, max_size=30)
FLAGS = st.none() | st.sampled_from(["true", "false", "TRUE", "1", "0", "yes", "no", "on", "off", "t", "f"])


def printed(flush: Any) -> list[dict[str, Any]]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), mock.patch.dict(os.environ, {"POWERTOOLS_METRICS_DISABLED": "false"}):
        flush()
    return [json.loads(line) for line in out.getvalue().splitlines()]


@given(adds=ADDS)
def test_the_line_is_the_one_powertools_prints(adds: list[tuple[str, int]]) -> None:
    theirs, ours = PowertoolsMetrics(namespace="nodegate", service="authorizer"), Metrics("nodegate", "authorizer")
    for name, value in adds:
        theirs.add_metric(name=name, unit=MetricUnit.Count, value=value)
        ours.add(name, value)
    before = int(time.time() * 1000)
    [their_line], [our_line] = printed(theirs.flush_metrics), printed(ours.flush)
    assert before <= our_line["_aws"].pop("Timestamp") <= int(time.time() * 1000)
    their_line["_aws"].pop("Timestamp")
    assert json.dumps(our_line) == json.dumps(their_line)  # the same keys in the same order
    assert printed(ours.flush) == []  # flushed metrics are forgotten


def test_metrics_are_forgotten_when_disabled() -> None:
    metrics = Metrics("nodegate", "authorizer")
    metrics.add("Allow")
    with mock.patch.dict(os.environ, {"POWERTOOLS_METRICS_DISABLED": "true"}):
        assert printed(lambda: None) == []
        metrics.flush()
    assert printed(metrics.flush) == []


def test_a_hundred_values_are_printed_before_the_document_overflows() -> None:
    metrics = Metrics("nodegate", "authorizer")
    lines = printed(lambda: [metrics.add("Deny") for _ in range(150)] and metrics.flush())
    assert [len(line["Deny"]) for line in lines] == [100, 50]


@given(disabled=FLAGS, dev=FLAGS)
def test_metrics_are_off_when_powertools_would_turn_them_off(disabled: str | None, dev: str | None) -> None:
    env = {k: v for k, v in {"POWERTOOLS_METRICS_DISABLED": disabled, "POWERTOOLS_DEV": dev}.items() if v is not None}
    with mock.patch.dict(os.environ, env, clear=True):
        from nodegate_authorizer import emf

        assert emf.disabled() == is_metrics_disabled()
