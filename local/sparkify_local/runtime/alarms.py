"""The template's log groups and CloudWatch alarms on the local stack: created from
template.yaml, and the alarms evaluated as CloudWatch evaluates them, which moto does not do (its
alarms stay in their first state).

``ensure_monitoring`` creates the log groups and puts every ``AWS::CloudWatch::Alarm`` of the
template, resolved with the local names, without its SNS actions (nothing local to notify).
``evaluate_alarms`` runs in the moto server's sampling thread: for each alarm, the last
``EvaluationPeriods`` periods of its metric (or of its metric math: the sum of ``FILL``-ed ids
the template uses), compared with the threshold; ``TreatMissingData`` decides what a period
without data counts as.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sparkify_local.runtime.names import LocalNames
from sparkify_local.runtime.resources import LocalResources

ALARM_TYPE = "AWS::CloudWatch::Alarm"
LOG_GROUP_TYPE = "AWS::Logs::LogGroup"
# PutMetricAlarm's own parameters, as the template's Properties name them.
_PUT_PARAMETERS = (
    "AlarmName",
    "AlarmDescription",
    "Namespace",
    "MetricName",
    "Dimensions",
    "Statistic",
    "ExtendedStatistic",
    "Period",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "Unit",
    "Metrics",
)
COMPARE: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": operator.gt,
    "GreaterThanOrEqualToThreshold": operator.ge,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}
_TERM = re.compile(r"^\s*(?:FILL\(\s*(\w+)\s*,\s*(-?[\d.]+)\s*\)|(\w+))\s*$")


def alarm_definitions(stack: LocalResources) -> list[dict[str, Any]]:
    """PutMetricAlarm arguments for every alarm of the template, with the local names."""
    names = LocalNames(stack)
    definitions = []
    for resource in stack.template["Resources"].values():
        if resource["Type"] != ALARM_TYPE:
            continue
        properties = names.resolve(
            {k: v for k, v in resource["Properties"].items() if k in _PUT_PARAMETERS}
        )
        for number in ("Threshold",):
            properties[number] = float(properties[number])
        for whole in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
            if whole in properties:
                properties[whole] = int(properties[whole])
        definitions.append(properties)
    return definitions


def ensure_monitoring(stack: LocalResources) -> None:
    """Create the template's log groups and alarms that the local CloudWatch does not have yet
    (an existing alarm keeps its state): on AWS the stack creates them before any function
    runs, and the dashboard reads them from the start."""
    existing_groups = {
        group["logGroupName"]
        for page in stack.logs.get_paginator("describe_log_groups").paginate()
        for group in page["logGroups"]
    }
    for logical_id, resource in stack.template["Resources"].items():
        name = stack.physical_name(logical_id)
        if resource["Type"] == LOG_GROUP_TYPE and name not in existing_groups:
            stack.logs.create_log_group(logGroupName=name)
    definitions = alarm_definitions(stack)
    existing = {
        alarm["AlarmName"]
        for alarm in stack.cloudwatch.describe_alarms(
            AlarmNames=[definition["AlarmName"] for definition in definitions]
        )["MetricAlarms"]
    }
    for definition in definitions:
        if definition["AlarmName"] not in existing:
            stack.cloudwatch.put_metric_alarm(**definition)


def _queries(alarm: dict[str, Any]) -> tuple[list[dict[str, Any]], str, int]:
    """The alarm's GetMetricData queries, the expression to evaluate per period (an id, or the
    template's sum of FILL-ed ids) and the period."""
    if alarm.get("Metrics"):
        queries = [
            {key: value for key, value in query.items() if key != "ReturnData"}
            | {"ReturnData": True}
            for query in alarm["Metrics"]
            if "MetricStat" in query
        ]
        (result,) = [query for query in alarm["Metrics"] if query.get("ReturnData", True)]
        period = int(queries[0]["MetricStat"]["Period"])
        return queries, str(result.get("Expression", result["Id"])), period
    query = {
        "Id": "m",
        "MetricStat": {
            "Metric": {
                "Namespace": alarm["Namespace"],
                "MetricName": alarm["MetricName"],
                "Dimensions": alarm.get("Dimensions", []),
            },
            "Period": int(alarm["Period"]),
            "Stat": alarm["Statistic"],
        },
        "ReturnData": True,
    }
    return [query], "m", int(alarm["Period"])


def _evaluate_expression(expression: str, values: dict[str, float | None]) -> float | None:
    """``a``, or ``FILL(a, 0) + FILL(b, 0)``: the metric math the template's alarms use. An
    id without data makes the result missing, as in CloudWatch."""
    total = 0.0
    for term in expression.split("+"):
        match = _TERM.match(term)
        if match is None:
            raise ValueError(f"metric math {expression!r} is not evaluated locally")
        filled, default, plain = match.groups()
        value = values.get(filled or plain)
        if value is None and filled:
            value = float(default)
        if value is None:
            return None
        total += value
    return total


def evaluate_alarm(cloudwatch: Any, alarm: dict[str, Any], now: datetime) -> tuple[str, str]:
    """The alarm's state and reason now."""
    queries, expression, period = _queries(alarm)
    periods = int(alarm["EvaluationPeriods"])
    # Whole seconds: moto's periods start at the start time with its microseconds dropped.
    start = (now - timedelta(seconds=period * periods)).replace(microsecond=0)
    results = cloudwatch.get_metric_data(MetricDataQueries=queries, StartTime=start, EndTime=now)
    by_id = {
        result["Id"]: dict(zip(result["Timestamps"], result["Values"], strict=True))
        for result in results["MetricDataResults"]
    }
    buckets = [start + timedelta(seconds=period * n) for n in range(periods)]
    try:
        points = [
            _evaluate_expression(expression, {i: data.get(at) for i, data in by_id.items()})
            for at in buckets
        ]
    except ValueError as error:
        return "INSUFFICIENT_DATA", str(error)
    threshold = float(alarm["Threshold"])
    compare = COMPARE[alarm["ComparisonOperator"]]
    treat = alarm.get("TreatMissingData", "missing")
    breaching = [
        (point is None and treat == "breaching")
        or (point is not None and compare(point, threshold))
        for point in points
    ]
    present = [point for point in points if point is not None]
    if sum(breaching) >= int(alarm.get("DatapointsToAlarm") or periods):
        shown = ", ".join(f"{point:g}" for point in present) or "missing data"
        return "ALARM", f"Threshold Crossed: [{shown}] {alarm['ComparisonOperator']} {threshold:g}"
    if not present and treat == "missing":
        return "INSUFFICIENT_DATA", "no data points in the evaluation range"
    return "OK", f"Threshold not crossed: {threshold:g} ({alarm['ComparisonOperator']})"


def evaluate_alarms(cloudwatch: Any, now: datetime) -> None:
    """Evaluate every alarm of the local CloudWatch; set the state of those that changed."""
    for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"]):
        for alarm in page["MetricAlarms"]:
            state, reason = evaluate_alarm(cloudwatch, alarm, now)
            # moto creates an alarm as OK, "Unchecked"; AWS reports its first evaluation.
            unchecked = str(alarm.get("StateReason", "")).startswith("Unchecked")
            if state != alarm["StateValue"] or unchecked:
                cloudwatch.set_alarm_state(
                    AlarmName=alarm["AlarmName"], StateValue=state, StateReason=reason
                )
