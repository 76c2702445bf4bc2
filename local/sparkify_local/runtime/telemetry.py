"""What Lambda's runtime does with a function's output, locally: logs and metrics into CloudWatch.

On AWS every line a function prints lands in its log group, CloudWatch extracts the embedded
metric format (EMF) lines Powertools prints into metrics, and Lambda itself reports
``AWS/Lambda`` Invocations, Errors and Duration per function. A local worker does the same into
the moto server's CloudWatch and CloudWatch Logs (``ship`` after each invocation), so the
dashboard's own metric definitions and its Logs Insights query can be run against the local
stack unchanged. The lines also stay in the home's log file, as before.
"""

from __future__ import annotations

import contextlib
import io
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, TextIO

from sparkify_local.runtime.clients import local_client

if TYPE_CHECKING:
    from sparkify_local.runtime.resources import LocalResources
# PutMetricData takes at most 1,000 metrics per call, PutLogEvents 10,000 events (1 MB).
METRICS_PER_CALL = 1000
EVENTS_PER_CALL = 1000
LAMBDA_NAMESPACE = "AWS/Lambda"


@dataclass(frozen=True)
class TelemetryTarget:
    """Where one function's telemetry goes: the local AWS endpoint, its log group (the
    template's ``LoggingConfig.LogGroup``, else Lambda's default) and its function name (the
    ``FunctionName`` dimension of the ``AWS/Lambda`` metrics)."""

    aws_url: str
    log_group: str
    function_name: str

    @classmethod
    def of(cls, stack: LocalResources, logical_id: str) -> TelemetryTarget:
        return cls(
            aws_url=stack.endpoints.aws_url,
            log_group=stack.log_group_name(logical_id),
            function_name=logical_id,  # the local function name (resources.function_arn)
        )


def emf_metric_data(record: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(namespace, MetricDatum)`` for each metric of one EMF record, as CloudWatch extracts
    them: one datum per metric and dimension set, dimension values and metric values taken from
    the record's top-level keys (a list of values is one datum with ``Values``)."""
    directive = record["_aws"]
    timestamp = datetime.fromtimestamp(directive["Timestamp"] / 1000, UTC)
    for block in directive["CloudWatchMetrics"]:
        for dimension_set in block.get("Dimensions") or [[]]:
            dimensions = [{"Name": name, "Value": str(record[name])} for name in dimension_set]
            for metric in block["Metrics"]:
                value = record[metric["Name"]]
                values = value if isinstance(value, list) else [value]
                datum: dict[str, Any] = {
                    "MetricName": metric["Name"],
                    "Dimensions": dimensions,
                    "Timestamp": timestamp,
                    "Values": [float(v) for v in values],
                }
                if "Unit" in metric:
                    datum["Unit"] = metric["Unit"]
                yield block["Namespace"], datum


def _is_emf(line: str) -> dict[str, Any] | None:
    if not line.startswith("{") or '"_aws"' not in line:
        return None
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) and "CloudWatchMetrics" in record["_aws"] else None


class CapturingLog(io.TextIOBase):
    """The worker's stdout and stderr: every write goes to the function's log file, and each
    complete line is also kept, with the time it was written, until ``take``."""

    def __init__(self, log: TextIO) -> None:
        self._log = log
        self._partial = ""
        self._lines: list[tuple[int, str]] = []
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._log.write(text)
        now_ms = int(time.time() * 1000)
        with self._lock:
            *complete, self._partial = (self._partial + text).split("\n")
            self._lines.extend((now_ms, line) for line in complete if line)
        return len(text)

    def flush(self) -> None:
        self._log.flush()

    def fileno(self) -> int:
        return self._log.fileno()

    # As the file it stands for, for code that writes bytes (they reach the log file only).
    @property
    def buffer(self) -> Any:
        return self._log.buffer

    def take(self) -> list[tuple[int, str]]:
        with self._lock:
            lines, self._lines = self._lines, []
        return lines


@dataclass
class Shipper:
    """Puts one function's log lines and metrics into the local CloudWatch."""

    target: TelemetryTarget
    _stream: str = field(default="")

    @cached_property
    def cloudwatch(self) -> Any:
        return local_client("cloudwatch", self.target.aws_url)

    @cached_property
    def logs(self) -> Any:
        return local_client("logs", self.target.aws_url)

    def ship(self, lines: list[tuple[int, str]], duration_ms: float, failed: bool) -> None:
        """One invocation's output and Lambda's own metrics for it."""
        by_namespace: dict[str, list[dict[str, Any]]] = {}
        for _, line in lines:
            if (record := _is_emf(line)) is not None:
                for namespace, datum in emf_metric_data(record):
                    by_namespace.setdefault(namespace, []).append(datum)
        now = datetime.now(UTC)
        function = [{"Name": "FunctionName", "Value": self.target.function_name}]
        by_namespace.setdefault(LAMBDA_NAMESPACE, []).extend(
            {"MetricName": name, "Dimensions": function, "Timestamp": now, **value}
            for name, value in (
                ("Invocations", {"Value": 1.0, "Unit": "Count"}),
                ("Errors", {"Value": 1.0 if failed else 0.0, "Unit": "Count"}),
                ("Duration", {"Value": duration_ms, "Unit": "Milliseconds"}),
            )
        )
        for namespace, data in by_namespace.items():
            for start in range(0, len(data), METRICS_PER_CALL):
                self.cloudwatch.put_metric_data(
                    Namespace=namespace, MetricData=data[start : start + METRICS_PER_CALL]
                )
        if lines:
            self._put_log_events(lines)

    def _put_log_events(self, lines: list[tuple[int, str]]) -> None:
        if not self._stream:
            # One stream per execution environment, as Lambda names them (date/[version]id).
            self._stream = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{time.time_ns():x}"
            with contextlib.suppress(self.logs.exceptions.ResourceAlreadyExistsException):
                self.logs.create_log_group(logGroupName=self.target.log_group)
            self.logs.create_log_stream(
                logGroupName=self.target.log_group, logStreamName=self._stream
            )
        for start in range(0, len(lines), EVENTS_PER_CALL):
            self.logs.put_log_events(
                logGroupName=self.target.log_group,
                logStreamName=self._stream,
                logEvents=[
                    {"timestamp": ms, "message": line}
                    for ms, line in lines[start : start + EVENTS_PER_CALL]
                ],
            )
