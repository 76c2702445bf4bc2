"""Runs inside the moto server process: the metrics AWS services report about themselves.

On AWS, SQS reports each queue's depth and the age of its oldest message every minute
(``AWS/SQS``, dimension ``QueueName``) and Step Functions counts executions as they end
(``AWS/States``, dimension ``StateMachineArn``). moto reports nothing, so a thread of the server
samples the queues and the executions and puts what AWS would into the server's own
CloudWatch, through its PutMetricData API. Sampling is more frequent than AWS's minute, so a
short local run has points (a change is put at once, an unchanged value once a minute); the
dashboard's ``Maximum`` per period reads them as AWS's would.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

from sparkify_local.runtime.alarms import evaluate_alarms
from sparkify_local.runtime.clients import ACCOUNT_ID, REGION, local_client
from sparkify_local.runtime.telemetry import METRICS_PER_CALL

SAMPLE_S = 5.0
AWS_REPORT_S = 60.0
SQS_NAMESPACE = "AWS/SQS"
STATES_NAMESPACE = "AWS/States"
# Step Functions' execution status -> the metric counting executions that ended so.
ENDED = {
    "SUCCEEDED": "ExecutionsSucceeded",
    "FAILED": "ExecutionsFailed",
    "TIMED_OUT": "ExecutionsTimedOut",
    "ABORTED": "ExecutionsAborted",
}


class ServiceMetrics:
    def __init__(self, aws_url: str) -> None:
        self._cloudwatch = local_client("cloudwatch", aws_url)
        self._sfn = local_client("stepfunctions", aws_url)
        self._reported: set[str] = set()  # executions whose start and end are reported
        self._started: set[str] = set()
        self._last_put: dict[tuple[str, str], tuple[float, float]] = {}  # value, when

    def sample(self) -> None:
        """Put one sample of every queue and the executions that started or ended since the
        last one; evaluate the alarms."""
        now = datetime.now(UTC)
        self._put(SQS_NAMESPACE, self._queue_data(now))
        self._put(STATES_NAMESPACE, self._execution_data())
        # CloudWatch evaluates alarms as data arrives; moto does not (runtime.alarms).
        evaluate_alarms(self._cloudwatch, now)

    def _put(self, namespace: str, data: list[dict[str, Any]]) -> None:
        for start in range(0, len(data), METRICS_PER_CALL):
            chunk = data[start : start + METRICS_PER_CALL]
            self._cloudwatch.put_metric_data(Namespace=namespace, MetricData=chunk)

    def _queue_data(self, now: datetime) -> list[dict[str, Any]]:
        # Read in this process: SQS's API has no age of the oldest message, and reading a
        # message to learn it would change its receive count.
        from moto.sqs.models import sqs_backends

        data: list[dict[str, Any]] = []
        for name, queue in list(sqs_backends[ACCOUNT_ID][REGION].queues.items()):
            stamps: list[Any] = [m.sent_timestamp for m in list(queue._messages)]  # moto: untyped
            sent = [int(ms) for ms in stamps if ms is not None]
            oldest_s = (time.time() * 1000 - min(sent)) / 1000 if sent else 0.0
            dimensions = [{"Name": "QueueName", "Value": name}]
            for metric, value, unit in (
                (
                    "ApproximateNumberOfMessagesVisible",
                    queue.approximate_number_of_messages,
                    "Count",
                ),
                (
                    "ApproximateNumberOfMessagesNotVisible",
                    queue.approximate_number_of_messages_not_visible,
                    "Count",
                ),
                ("ApproximateAgeOfOldestMessage", max(0.0, oldest_s), "Seconds"),
            ):
                if not self._due((name, metric), float(value)):
                    continue
                data.append(
                    {
                        "MetricName": metric,
                        "Dimensions": dimensions,
                        "Timestamp": now,
                        "Value": float(value),
                        "Unit": unit,
                    }
                )
        return data

    def _due(self, metric: tuple[str, str], value: float) -> bool:
        """A sample is put when it differs from the last one put, else once a minute as AWS
        reports: an idle stack left up for days does not pile up points that every
        GetMetricData of moto's then scans."""
        last = self._last_put.get(metric)
        now = time.monotonic()
        if last is not None and last[0] == value and now - last[1] < AWS_REPORT_S:
            return False
        self._last_put[metric] = (value, now)
        return True

    def _execution_data(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = []
        for machine in self._sfn.list_state_machines()["stateMachines"]:
            arn = machine["stateMachineArn"]
            dimensions = [{"Name": "StateMachineArn", "Value": arn}]
            pages = self._sfn.get_paginator("list_executions").paginate(stateMachineArn=arn)
            for execution in (e for page in pages for e in page["executions"]):
                key = execution["executionArn"]
                if key in self._reported:
                    continue
                if key not in self._started:
                    self._started.add(key)
                    data.append(_count("ExecutionsStarted", dimensions, execution["startDate"]))
                if (ended := ENDED.get(execution["status"])) is None:
                    continue
                self._reported.add(key)
                stopped = execution.get("stopDate", execution["startDate"])
                data.append(_count(ended, dimensions, stopped))
                data.append(
                    {
                        "MetricName": "ExecutionTime",
                        "Dimensions": dimensions,
                        "Timestamp": stopped,
                        "Value": (stopped - execution["startDate"]).total_seconds() * 1000,
                        "Unit": "Milliseconds",
                    }
                )
        return data


def _count(name: str, dimensions: list[dict[str, str]], at: datetime) -> dict[str, Any]:
    return {
        "MetricName": name,
        "Dimensions": dimensions,
        "Timestamp": at,
        "Value": 1.0,
        "Unit": "Count",
    }


def start(aws_url: str) -> threading.Thread:
    """Sample every ``SAMPLE_S`` seconds for the life of the server process."""
    metrics = ServiceMetrics(aws_url)

    def run() -> None:
        while True:
            try:
                metrics.sample()
            except Exception as error:  # a missed sample must not end the sampling
                print(f"service metrics: sample failed: {error!r}", flush=True)
            time.sleep(SAMPLE_S)

    thread = threading.Thread(target=run, name="service-metrics", daemon=True)
    thread.start()
    return thread
