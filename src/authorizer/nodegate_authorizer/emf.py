"""CloudWatch metrics as one Embedded Metric Format line on stdout, in the shape Powertools Metrics prints it
(``_aws`` metadata with the namespace, a ``service`` dimension and each metric's name and unit, then the
dimension's value and each metric's values).

Written by hand because importing Powertools (Logger, Metrics and Tracer come with any of its modules) costs ~15 ms
of a cold start; ``tests/unit/test_emf.py`` compares the line with Powertools Metrics' own for the same metrics.
EMF: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
"""

from __future__ import annotations

import json
import os
import time

DISABLED = "POWERTOOLS_METRICS_DISABLED"
DEV = "POWERTOOLS_DEV"
MAX_VALUES = 100
"""EMF's limit on the metrics of one document and on the values of one metric."""


def _true(value: str | None) -> bool:
    return (value or "").lower() in ("1", "y", "yes", "t", "true", "on")


def disabled() -> bool:
    """Powertools' rule: off when ``POWERTOOLS_METRICS_DISABLED`` is true, or when ``POWERTOOLS_DEV`` is true and
    ``POWERTOOLS_METRICS_DISABLED`` is unset."""
    flag = os.environ.get(DISABLED)
    return _true(flag) or (_true(os.environ.get(DEV)) and flag is None)


class Metrics:
    """Count metrics of one namespace and service, kept until ``flush``."""

    def __init__(self, namespace: str, service: str) -> None:
        self.namespace, self.service = namespace, service
        self._values: dict[str, list[float]] = {}

    def add(self, name: str, value: float = 1) -> None:
        """Add one value of the Count metric ``name``."""
        values = self._values.setdefault(name, [])
        values.append(float(value))
        if len(self._values) == MAX_VALUES or len(values) == MAX_VALUES:
            self.flush()

    def line(self) -> str:
        """The EMF document of the metrics kept (at least one)."""
        document = {
            "_aws": {
                "Timestamp": int(time.time() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": self.namespace,
                        "Dimensions": [["service"]],
                        "Metrics": [{"Name": name, "Unit": "Count"} for name in self._values],
                    }
                ],
            },
            "service": self.service,
            **self._values,
        }
        return json.dumps(document, separators=(",", ":"))

    def flush(self) -> None:
        """Print the metrics kept, unless metrics are disabled, and forget them either way."""
        if self._values and not disabled():
            print(self.line())
        self._values.clear()
