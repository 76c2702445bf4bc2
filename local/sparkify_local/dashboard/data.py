"""What each widget of a dashboard body shows, read from a CloudWatch API.

The same calls the console makes for the same widget JSON: ``GetMetricData`` with each metric
line's namespace, name, dimensions, stat and period (the line's options over the widget's),
``DescribeAlarms`` for an alarm widget, and a Logs Insights query (``StartQuery``,
``GetQueryResults``) for a log widget. The clients are given: the local stack's moto server or,
for a deployed stack, AWS's. A widget this module cannot read gets the reason instead of data.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

# GetMetricData takes at most 500 queries per call.
QUERIES_PER_CALL = 500
LOG_QUERY_TIMEOUT_S = 60.0
LOG_QUERY_POLL_S = 0.25
DEFAULT_STAT = "Average"  # the console's, for a line and a widget that name none
DEFAULT_PERIOD_S = 300
_SOURCE = re.compile(r"^\s*SOURCE\s+'([^']+)'\s*\|")
_FIELDS = re.compile(r"(?:^|\|)\s*fields\s+([^|]+)")
# Widget types and views this module reads and the page draws.
METRIC_VIEWS = {"timeSeries", "bar", "singleValue"}


@dataclass
class Series:
    label: str
    stat: str
    period: int
    y_axis: str  # "left" or "right"
    timestamps: list[datetime] = field(default_factory=list)
    values: list[float] = field(default_factory=list)


@dataclass
class Alarm:
    name: str
    state: str  # OK, ALARM, INSUFFICIENT_DATA, or NOT FOUND
    reason: str


@dataclass
class WidgetData:
    """One widget of the body and what it shows; ``unsupported`` says why it cannot."""

    widget: dict[str, Any]
    series: list[Series] = field(default_factory=list)
    alarms: list[Alarm] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    rows: list[dict[str, str]] = field(default_factory=list)
    unsupported: str | None = None

    @property
    def kind(self) -> str:
        return str(self.widget.get("type", ""))

    @property
    def title(self) -> str:
        properties = self.widget.get("properties", {})
        return str(properties.get("title") or self.kind)


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime


def read_widgets(
    body: dict[str, Any], cloudwatch: Any, logs: Any, window: Window
) -> list[WidgetData]:
    """Every widget of the body, in its order, with what it shows in the window."""
    widgets = [WidgetData(widget) for widget in body.get("widgets", [])]
    metric_widgets = []
    for data in widgets:
        properties = data.widget.get("properties", {})
        if data.kind == "metric":
            data.unsupported = _metric_unsupported(properties)
            if data.unsupported is None:
                metric_widgets.append(data)
        elif data.kind == "alarm":
            with _refusal_shown(data):
                data.alarms = _alarms(cloudwatch, properties.get("alarms", []))
        elif data.kind == "log":
            with _refusal_shown(data):
                _read_log(data, logs, properties, window)
        elif data.kind != "text":
            data.unsupported = f"widget type {data.kind!r} is not drawn by sparkify dashboard"
    try:
        _read_metrics(metric_widgets, cloudwatch, window)
    except ClientError as error:
        for data in metric_widgets:
            data.series, data.unsupported = [], f"CloudWatch refused: {error}"
    return widgets


@contextmanager
def _refusal_shown(data: WidgetData) -> Iterator[None]:
    """What CloudWatch refuses for one widget (a missing log group, a denied call) becomes the
    reason on that widget; the rest of the page is drawn."""
    try:
        yield
    except ClientError as error:
        data.unsupported = f"CloudWatch refused: {error}"


def _metric_unsupported(properties: dict[str, Any]) -> str | None:
    view = properties.get("view", "timeSeries")
    if view not in METRIC_VIEWS:
        return f"view {view!r} is not drawn (drawn: {', '.join(sorted(METRIC_VIEWS))})"
    for line in properties.get("metrics", []):
        fields = [item for item in line if not isinstance(item, dict)]
        options = next((item for item in line if isinstance(item, dict)), {})
        if "expression" in options:
            return f"metric math ({options['expression']!r}) is not drawn"
        if "." in fields or len(fields) < 2 or len(fields) % 2:
            return f"metric line {line!r} is not namespace, name, then dimension pairs"
    return None


def _series_queries(data: WidgetData, index: int) -> list[tuple[Series, dict[str, Any]]]:
    properties = data.widget["properties"]
    queries = []
    for number, line in enumerate(properties.get("metrics", [])):
        namespace, name, *dimensions = [item for item in line if not isinstance(item, dict)]
        options = next((item for item in line if isinstance(item, dict)), {})
        stat = str(options.get("stat", properties.get("stat", DEFAULT_STAT)))
        period = int(options.get("period", properties.get("period", DEFAULT_PERIOD_S)))
        series = Series(
            label=str(options.get("label", f"{name} {stat}")),
            stat=stat,
            period=period,
            y_axis=str(options.get("yAxis", "left")),
        )
        pairs = zip(dimensions[::2], dimensions[1::2], strict=True)
        query = {
            "Id": f"w{index}m{number}",
            "MetricStat": {
                "Metric": {
                    "Namespace": namespace,
                    "MetricName": name,
                    "Dimensions": [{"Name": key, "Value": str(value)} for key, value in pairs],
                },
                "Period": period,
                "Stat": stat,
            },
            "ReturnData": True,
        }
        queries.append((series, query))
    return queries


def _aligned(window: Window, period: int) -> Window:
    """The window widened to whole periods, as CloudWatch aligns a graph's data points."""
    epoch = datetime.fromtimestamp(0, window.start.tzinfo)
    start = window.start - (window.start - epoch) % timedelta(seconds=period)
    end = window.end - (window.end - epoch) % timedelta(seconds=period)
    return Window(start, end + timedelta(seconds=period))


def _read_metrics(widgets: list[WidgetData], cloudwatch: Any, window: Window) -> None:
    # One GetMetricData call per period (the time range is shared by a call's queries).
    by_period: dict[int, list[tuple[Series, dict[str, Any]]]] = {}
    for index, data in enumerate(widgets):
        for series, query in _series_queries(data, index):
            data.series.append(series)
            by_period.setdefault(series.period, []).append((series, query))
    for period, pairs in by_period.items():
        aligned = _aligned(window, period)
        for start in range(0, len(pairs), QUERIES_PER_CALL):
            chunk = dict(
                (query["Id"], series) for series, query in pairs[start:][:QUERIES_PER_CALL]
            )
            queries = [query for _, query in pairs[start:][:QUERIES_PER_CALL]]
            token: str | None = None
            while True:
                response = cloudwatch.get_metric_data(
                    MetricDataQueries=queries,
                    StartTime=aligned.start,
                    EndTime=aligned.end,
                    ScanBy="TimestampAscending",
                    **({"NextToken": token} if token else {}),
                )
                for result in response["MetricDataResults"]:
                    series = chunk[result["Id"]]
                    series.timestamps.extend(result["Timestamps"])
                    series.values.extend(float(v) for v in result["Values"])
                token = response.get("NextToken")
                if not token:
                    break
    for data in widgets:
        for series in data.series:
            ordered = sorted(zip(series.timestamps, series.values, strict=True))
            series.timestamps = [at for at, _ in ordered]
            series.values = [value for _, value in ordered]


def _alarms(cloudwatch: Any, arns: list[str]) -> list[Alarm]:
    names = [arn.rsplit(":alarm:", 1)[-1] for arn in arns]
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(names), 100):  # DescribeAlarms takes 100 names
        response = cloudwatch.describe_alarms(
            AlarmNames=names[start : start + 100], AlarmTypes=["MetricAlarm", "CompositeAlarm"]
        )
        for alarm in response.get("MetricAlarms", []) + response.get("CompositeAlarms", []):
            found[alarm["AlarmName"]] = alarm
    return [
        Alarm(name, found[name]["StateValue"], found[name].get("StateReason", ""))
        if name in found
        else Alarm(name, "NOT FOUND", "no such alarm in this CloudWatch")
        for name in names
    ]


def _read_log(data: WidgetData, logs: Any, properties: dict[str, Any], window: Window) -> None:
    query = str(properties.get("query", ""))
    groups = []
    while (match := _SOURCE.match(query)) is not None:
        groups.append(match.group(1))
        query = query[match.end() :]
    if not groups:
        data.unsupported = "a log widget without SOURCE 'log group' is not drawn"
        return
    if (shown := _FIELDS.search(query)) is not None:
        data.columns = [name.strip() for name in shown.group(1).split(",")]
    started = logs.start_query(
        logGroupNames=groups,
        startTime=int(window.start.timestamp()),
        endTime=int(window.end.timestamp()),
        queryString=query.strip(),
    )
    deadline = time.monotonic() + LOG_QUERY_TIMEOUT_S
    while True:
        response = logs.get_query_results(queryId=started["queryId"])
        if response["status"] not in {"Scheduled", "Running"}:
            break
        if time.monotonic() > deadline:
            data.unsupported = (
                f"the Logs Insights query did not finish in {LOG_QUERY_TIMEOUT_S:g} s"
            )
            return
        time.sleep(LOG_QUERY_POLL_S)
    if response["status"] != "Complete":
        data.unsupported = f"the Logs Insights query ended {response['status']}"
        return
    for result in response["results"]:
        row = {item["field"]: item.get("value", "") for item in result if item["field"] != "@ptr"}
        data.rows.append(row)
        data.columns.extend(name for name in row if name not in data.columns)
