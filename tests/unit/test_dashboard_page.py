"""The dashboard's parts that need no stack: the page for widgets it cannot draw, the durations
``--since`` takes, the metrics CloudWatch extracts from what Powertools prints, and the local
Logs Insights commands the rejected-files widget runs."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from sparkify_local.dashboard.data import Series, WidgetData, Window
from sparkify_local.dashboard.page import render_page
from sparkify_local.dashboard.render import parse_duration
from sparkify_local.runtime.moto_process.logs_insights import execute_query
from sparkify_local.runtime.telemetry import emf_metric_data

WINDOW = Window(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 1, tzinfo=UTC))


def test_a_widget_that_cannot_be_drawn_shows_its_title_and_the_reason() -> None:
    # Given a widget type the renderer does not draw, and a metric widget it does
    explorer = WidgetData({"type": "explorer", "properties": {"title": "Explore"}})
    explorer.unsupported = "widget type 'explorer' is not drawn by sparkify dashboard"
    chart = WidgetData({"type": "metric", "properties": {"title": "Files", "view": "timeSeries"}})
    chart.series = [Series("staged", "Sum", 300, "left", [WINDOW.start], [3.0])]

    # When the page is rendered
    page = render_page([explorer, chart], WINDOW, title="t", source="s")

    # Then both are on it: the first with its title and the reason, the second as a chart
    assert 'data-type="explorer" data-title="Explore"' in page
    assert "not drawn: widget type &#x27;explorer&#x27; is not drawn by sparkify dashboard" in page
    assert '<div class="chart" id="chart-1"></div>' in page
    assert '"name": "staged"' in page and '"y": [3.0]' in page


def test_a_text_widget_cannot_add_markup() -> None:
    # Given a text widget whose markdown holds an image from elsewhere
    text = WidgetData({"type": "text", "properties": {"markdown": '## <img src="http://x/y">'}})

    # When it is rendered
    page = render_page([text], WINDOW, title="t", source="s")

    # Then the markup is shown as text, never loaded (the browser test checks every request)
    assert "<h2>&lt;img src=&quot;http://x/y&quot;&gt;</h2>" in page
    assert '<img src="http://x/y">' not in page


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("3h", timedelta(hours=3)),
        ("2d", timedelta(days=2)),
        ("1w", timedelta(weeks=1)),
        ("90s", timedelta(seconds=90)),
        ("PT3H", timedelta(hours=3)),
        ("-PT12H", timedelta(hours=12)),
        ("P1DT30M", timedelta(days=1, minutes=30)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "3", "h", "3 hours", "yesterday", "0m", "PT", "-3h"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration|longer than 0"):
        parse_duration(text)


def test_emf_that_powertools_prints_becomes_the_metrics_cloudwatch_would_extract() -> None:
    # Given what Powertools prints for two values of one metric and one of another
    metrics = Metrics(namespace="Sparkify", service="sparkify-stage")
    metrics.add_dimension(name="Step", value="write")
    metrics.add_metric(name="FilesStaged", unit=MetricUnit.Count, value=2)
    metrics.add_metric(name="FilesStaged", unit=MetricUnit.Count, value=3)
    metrics.add_metric(name="CopyDurationMs", unit=MetricUnit.Milliseconds, value=12.5)
    printed = io.StringIO()
    with redirect_stdout(printed):
        metrics.flush_metrics()
    record = json.loads(printed.getvalue())

    # When it is read as CloudWatch reads EMF
    data = sorted(emf_metric_data(record), key=lambda item: item[1]["MetricName"])

    # Then each metric is one datum with its values, unit and the full dimension set
    dimensions = sorted(
        [{"Name": "Step", "Value": "write"}, {"Name": "service", "Value": "sparkify-stage"}],
        key=lambda d: d["Name"],
    )
    assert [(ns, d["MetricName"], d["Values"], d["Unit"]) for ns, d in data] == [
        ("Sparkify", "CopyDurationMs", [12.5], "Milliseconds"),
        ("Sparkify", "FilesStaged", [2.0, 3.0], "Count"),
    ]
    assert all(sorted(d["Dimensions"], key=lambda x: x["Name"]) == dimensions for _, d in data)


def _group(*messages: str) -> SimpleNamespace:
    events = [
        SimpleNamespace(event_id=number, timestamp=1_700_000_000_000 + number, message=message)
        for number, message in enumerate(messages)
    ]
    stream = SimpleNamespace(log_stream_name="s", events=events)
    return SimpleNamespace(name="g", streams={"s": stream})


def test_logs_insights_filters_on_json_fields_and_sorts_newest_first() -> None:
    # Given a log with two rejected files among other lines
    group = _group(
        json.dumps({"message": "file rejected", "key": "a.json", "reason": "line 1: bad"}),
        json.dumps({"message": "batch staged", "key": "b.json"}),
        "not json at all",
        json.dumps({"message": "file rejected", "key": "c.json", "reason": "line 2: bad"}),
    )

    # When the dashboard's query runs
    rows = execute_query(
        [group],
        'fields @timestamp, key, reason | filter message = "file rejected" '
        "| sort @timestamp desc | limit 100",
        0,
        2_000_000_000,
    )

    # Then only the rejected files are listed, newest first, with their fields
    assert [(row["key"], row["reason"]) for row in rows] == [
        ("c.json", "line 2: bad"),
        ("a.json", "line 1: bad"),
    ]


def test_logs_insights_refuses_a_command_it_does_not_run() -> None:
    with pytest.raises(Exception, match="not 'stats'"):
        execute_query([_group("{}")], "stats count(*) by key", 0, 2_000_000_000)
