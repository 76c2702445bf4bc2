"""The CloudWatch dashboard and alarms of template.yaml watch what the code really emits.

``MetricName`` (sparkify_loader.observability) is the one list of metric names. Every metric of
the ``Sparkify`` namespace that the dashboard or an alarm references must be one the code emits,
with the dimensions it emits it with (Powertools EMF: ``service`` = POWERTOOLS_SERVICE_NAME of
the function; merge steps add ``Step``, upserts ``Table``): CloudWatch matches a metric on its
whole dimension set, so a widget with one dimension too many or too few stays empty.

Which names must be on the dashboard: all of them. Each is an operational signal (what staged,
what was rejected or skipped and why, COPY and merge timings, rows merged, latency, failures),
and a metric that nobody can see is a metric nobody needs; a new MetricName therefore fails
this test until it has a widget.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser import parse

from sparkify_loader import merge as merge_module
from sparkify_loader import stage as stage_module
from sparkify_loader.completeness import scheduled as reconcile_module
from sparkify_loader.config import MergeSettings
from sparkify_loader.events import ParsedBatch
from sparkify_loader.merge_steps import (
    AuditResult,
    CaughtError,
    DryRunReport,
    FailureResult,
    FinalizeResult,
    LeaseResult,
    MergeStep,
    PublishResult,
    TablePublished,
    WorkSet,
    WriteResult,
)
from sparkify_loader.observability import MetricName
from sparkify_loader.warehouse import FileLoad
from sparkify_local.sam.loading import load_template
from sparkify_local.sam.template import function_wiring
from tests.support.statemachine import merge_definition, resolve_payload, task_payloads

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "Sparkify"
REGION = "us-west-2"

# A metric as CloudWatch identifies it: namespace, name and the full set of dimensions.
MetricId = tuple[str, str, frozenset[tuple[str, str]]]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


def _service(template: dict[str, Any], logical_id: str) -> str:
    return str(function_wiring(template, logical_id).environment["POWERTOOLS_SERVICE_NAME"])


# --- What the dashboard and the alarms reference -------------------------------------------------


def _resolve_sub(text: str, template: dict[str, Any]) -> str:
    """Expand a Fn::Sub string just enough to parse it: parameters take their Default, pseudo
    parameters fixed values, resources and their attributes a recognisable placeholder. A name
    that is none of these fails, as CloudFormation would."""
    parameters = template.get("Parameters", {})
    resources = template["Resources"]
    pseudo = {"AWS::Region": REGION, "AWS::StackName": "stack", "AWS::AccountId": "123456789012"}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        if name in pseudo:
            return pseudo[name]
        if name in parameters:
            return str(parameters[name]["Default"])
        if name.split(".", 1)[0] in resources:
            return f"<{name}>"
        raise KeyError(f"Fn::Sub refers to {name!r}, which the template does not define")

    return re.sub(r"\$\{([^}]+)\}", replace, text)


@pytest.fixture(scope="module")
def dashboard(template: dict[str, Any]) -> dict[str, Any]:
    body = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    return json.loads(_resolve_sub(body, template))


def _dashboard_metrics(dashboard: dict[str, Any]) -> Iterator[MetricId]:
    for widget in dashboard["widgets"]:
        if widget["type"] != "metric":
            continue
        for entry in widget["properties"]["metrics"]:
            fields = [item for item in entry if not isinstance(item, dict)]
            # No "." shorthand (repeat the previous line's value): each line stands alone, so
            # this test and a reader see the same metric.
            assert "." not in fields, f"{widget['properties']['title']}: {entry}"
            namespace, name, *dimensions = fields
            assert len(dimensions) % 2 == 0, entry
            pairs = zip(dimensions[::2], dimensions[1::2], strict=True)
            yield namespace, name, frozenset(pairs)


def _alarm_metrics(template: dict[str, Any]) -> Iterator[tuple[str, MetricId]]:
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        properties = resource["Properties"]
        if "MetricName" in properties:
            metrics = [properties]
        else:
            metrics = [
                m["MetricStat"]["Metric"] for m in properties["Metrics"] if "MetricStat" in m
            ]
        for metric in metrics:
            dimensions = frozenset(
                (d["Name"], json.dumps(d["Value"]) if isinstance(d["Value"], dict) else d["Value"])
                for d in metric.get("Dimensions", [])
            )
            yield logical_id, (metric["Namespace"], metric["MetricName"], dimensions)


# --- What the code emits -------------------------------------------------------------------------


def _stage_metrics(service: str) -> set[MetricId]:
    """Run the stage function's metric emission, as Powertools would record it."""
    emitted: set[MetricId] = set()

    def add_metric(name: str, unit: str, value: float) -> None:
        emitted.add((NAMESPACE, str(name), frozenset({("service", service)})))

    report = stage_module.StageReport(load_id="l", outcomes={}, datasets={})
    stage_module.emit_metrics(report, ParsedBatch(), add_metric)
    return emitted


def _reconcile_metrics(service: str) -> set[MetricId]:
    """Run the Reconcile function's metric emission, as Powertools would record it."""
    emitted: set[MetricId] = set()

    def add_metric(name: str, unit: str, value: float) -> None:
        emitted.add((NAMESPACE, str(name), frozenset({("service", service)})))

    result = reconcile_module.ReconcileResult(
        grace_seconds=0,
        listed=0,
        in_ledger={},
        in_flight=0,
        unaccounted=0,
        reannounced=0,
        unaccounted_keys=[],
    )
    reconcile_module.emit_metrics(result, add_metric)
    return emitted


class _FakeMerge:
    """Stands in for the merge steps: the results they return, without a warehouse."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def lease(self, execution: str | None = None) -> LeaseResult:
        return LeaseResult(acquired=True, merge_id="m", files=1, loads=1)

    def dry_run(self) -> DryRunReport:
        return DryRunReport(files=0, loads=0, writes=[], checks={}, publish=None)

    def write(self, table: WorkSet, merge_id: str) -> WriteResult:
        return WriteResult(table=table, rows={f"work_{table}": 2})

    def audit(self, merge_id: str) -> AuditResult:
        return AuditResult(checks={})

    def publish(self, merge_id: str) -> PublishResult:
        return PublishResult(
            tables=[TablePublished(table="users", inserted=1, updated=1)],
            rematched=1,
            files_merged=1,
            latency_max_s=1.0,
            latency_min_s=1.0,
        )

    def finalize(self, merge_id: str) -> FinalizeResult:
        return FinalizeResult(work_rows_removed=2)

    def fail(self, merge_id: str | None, error: CaughtError) -> FailureResult:
        return FailureResult(
            merge_id=merge_id, released=True, error=error.one_line(), error_type=error.name
        )


class _NoWarehouse:
    def session(self) -> None:
        return None


class _Invocation:
    """One invocation's metrics as Powertools records them: every metric is flushed at the end
    with every dimension added by then (dimensions reset between invocations)."""

    def __init__(self, service: str) -> None:
        self.dimensions = {"service": service}
        self.names: list[str] = []

    def add_dimension(self, name: str, value: str) -> None:
        self.dimensions[name] = value

    def add_metric(self, name: str, unit: str, value: float) -> None:
        self.names.append(str(name))

    def metrics(self) -> set[MetricId]:
        return {(NAMESPACE, name, frozenset(self.dimensions.items())) for name in self.names}


def _merge_metrics(
    template: dict[str, Any], service: str, monkeypatch: pytest.MonkeyPatch
) -> set[MetricId]:
    """Run every step the state machine asks for through run_merge_step, recording metrics.
    The failure step gets a failed quality check (the Catch's error object), which emits one
    metric more."""
    monkeypatch.setattr(merge_module, "Merge", _FakeMerge)
    settings = MergeSettings(warehouse_engine="postgres", warehouse_url="postgresql://unused")
    emitted: set[MetricId] = set()
    for payload in task_payloads(merge_definition(template)).values():
        invocation = _Invocation(service)
        merge_module.run_merge_step(
            parse(event=resolve_payload(payload), model=MergeStep).root,
            _NoWarehouse(),  # type: ignore[arg-type]
            settings,
            invocation.add_metric,
            invocation.add_dimension,
        )
        emitted |= invocation.metrics()
    return emitted


@pytest.fixture
def emitted(template: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> set[MetricId]:
    stage = _stage_metrics(_service(template, "StageFunction"))
    merge = _merge_metrics(template, _service(template, "MergeFunction"), monkeypatch)
    reconcile = _reconcile_metrics(_service(template, "ReconcileFunction"))
    return stage | merge | reconcile


# --- The checks ---------------------------------------------------------------------------------


def test_dashboard_and_alarms_use_only_metric_names_the_code_defines(
    template: dict[str, Any], dashboard: dict[str, Any]
) -> None:
    # Given every Sparkify metric the dashboard and the alarms reference
    referenced = {name for ns, name, _ in _dashboard_metrics(dashboard) if ns == NAMESPACE}
    referenced |= {name for _, (ns, name, _) in _alarm_metrics(template) if ns == NAMESPACE}

    # When comparing their names with the code's one list
    unknown = referenced - {str(name) for name in MetricName}

    # Then there is none the code does not define
    assert referenced
    assert unknown == set()


def test_every_metric_name_is_on_the_dashboard(dashboard: dict[str, Any]) -> None:
    # Given the metric names on the dashboard
    on_dashboard = {name for ns, name, _ in _dashboard_metrics(dashboard) if ns == NAMESPACE}

    # When comparing them with everything the code emits (all of them matter: module docstring)
    missing = {str(name) for name in MetricName} - on_dashboard

    # Then none is missing
    assert missing == set()


def test_dashboard_and_alarm_metrics_have_the_dimensions_the_code_emits(
    template: dict[str, Any], dashboard: dict[str, Any], emitted: set[MetricId]
) -> None:
    # Given the metrics the code emits, with their dimensions, for every step the state machine
    # runs (fixture), and the Sparkify metrics the dashboard and the alarms reference
    referenced = {metric for metric in _dashboard_metrics(dashboard) if metric[0] == NAMESPACE}
    referenced |= {metric for _, metric in _alarm_metrics(template) if metric[0] == NAMESPACE}

    # When looking for references the code never emits as such
    never_emitted = referenced - emitted

    # Then there is none: every widget line and every alarm will have data
    assert never_emitted == set(), sorted(never_emitted, key=str)


def test_durations_are_shown_for_every_write_step_and_rows_for_the_publish(
    template: dict[str, Any], dashboard: dict[str, Any]
) -> None:
    # Given the work tables the state machine writes
    payloads = task_payloads(merge_definition(template)).values()
    tables = {payload["table"] for payload in payloads if payload["step"] == "write"}

    # When reading which tables the dashboard shows per metric, and under which steps
    shown: dict[str, set[str]] = {}
    steps: dict[str, set[str]] = {}
    for _, name, dimensions in _dashboard_metrics(dashboard):
        table = dict(dimensions).get("Table")
        if table is not None:
            shown.setdefault(name, set()).add(table)
        steps.setdefault(name, set()).add(dict(dimensions).get("Step", ""))

    # Then each write step's duration is there, and the rows the one publish changed
    assert tables == {"users", "songs", "artists", "songplays"}
    assert shown.get(str(MetricName.STEP_DURATION_MS)) == tables
    for name in (MetricName.ROWS_INSERTED, MetricName.ROWS_UPDATED):
        assert steps.get(str(name)) == {"publish"}, name


def test_dashboard_shows_the_aws_metrics_of_this_stack(dashboard: dict[str, Any]) -> None:
    # Given the AWS-namespace metrics on the dashboard
    aws = {
        (ns, name, dict(dimensions).get(next(iter(dict(dimensions)), ""), ""))
        for ns, name, dimensions in _dashboard_metrics(dashboard)
        if ns.startswith("AWS/")
    }

    # When comparing them with what an operator needs (queue, DLQ, both functions, merges)
    expected = {
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "<StageQueue.QueueName>"),
        ("AWS/SQS", "ApproximateAgeOfOldestMessage", "<StageQueue.QueueName>"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "<StageDeadLetterQueue.QueueName>"),
        ("AWS/Lambda", "Errors", "<StageFunction>"),
        ("AWS/Lambda", "Throttles", "<StageFunction>"),
        ("AWS/Lambda", "Errors", "<MergeFunction>"),
        ("AWS/Lambda", "Throttles", "<MergeFunction>"),
        ("AWS/Lambda", "Errors", "<ReconcileFunction>"),
        ("AWS/States", "ExecutionsSucceeded", "<MergeStateMachine>"),
        ("AWS/States", "ExecutionsFailed", "<MergeStateMachine>"),
    }

    # Then they are all there, on this stack's own resources
    assert expected <= aws


def test_rejected_files_widget_queries_what_the_stage_function_logs(
    template: dict[str, Any], dashboard: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given what the stage function logs for a rejected file
    logged: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(
        stage_module.logger, "warning", lambda message, extra: logged.append((message, extra))
    )
    version = ("landing", "log_data/bad.json", "etag")
    report = stage_module.StageReport(
        load_id="l",
        outcomes={version: FileLoad.rejected("line 1: invalid JSON")},
        datasets={version: "events"},
    )
    stage_module._log_report(report)
    ((message, fields),) = logged

    # When reading the dashboard's Logs Insights widget
    (widget,) = [w for w in dashboard["widgets"] if w["type"] == "log"]
    query = widget["properties"]["query"]

    # Then it reads the stage function's log group, filters on that exact message and shows
    # fields that the log line has
    log_group = template["Resources"]["StageFunction"]["Properties"]["LoggingConfig"]["LogGroup"]
    assert log_group == {"Ref": "StageFunctionLogGroup"}
    assert query.startswith("SOURCE '<StageFunctionLogGroup>'")
    assert f'filter message = "{message}"' in query
    shown = re.search(r"\| fields ([^|]+)\|", query)
    assert shown is not None
    columns = {column.strip() for column in shown.group(1).split(",")} - {"@timestamp"}
    assert {"key", "reason"} <= columns <= set(fields)


def test_alarms_cover_the_runbook_and_notify_the_topic(template: dict[str, Any]) -> None:
    # Given the alarms and the metrics they watch
    alarms = {
        logical_id: resource["Properties"]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }
    watched: dict[str, set[tuple[str, str]]] = {}
    for logical_id, (namespace, name, _) in _alarm_metrics(template):
        watched.setdefault(logical_id, set()).add((namespace, name))

    # When reading each one
    # Then the four the runbook describes are there (plus rejected files), on the right signal
    assert watched["DeadLetterQueueNotEmptyAlarm"] == {
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    }
    assert alarms["DeadLetterQueueNotEmptyAlarm"]["Dimensions"][0]["Value"] == {
        "Fn::GetAtt": ["StageDeadLetterQueue", "QueueName"]
    }
    assert alarms["DeadLetterQueueNotEmptyAlarm"]["Threshold"] == 0
    assert watched["StageQueueMessageTooOldAlarm"] == {("AWS/SQS", "ApproximateAgeOfOldestMessage")}
    assert alarms["StageQueueMessageTooOldAlarm"]["Threshold"] == {
        "Ref": "OldestMessageAlarmSeconds"
    }
    assert watched["MergeFailedAlarm"] == {
        ("AWS/States", "ExecutionsFailed"),
        (NAMESPACE, str(MetricName.MERGE_FAILED)),
    }
    assert watched["QualityCheckFailedAlarm"] == {
        (NAMESPACE, str(MetricName.QUALITY_CHECK_FAILURES))
    }
    assert watched["FilesRejectedAlarm"] == {(NAMESPACE, str(MetricName.FILES_REJECTED))}
    assert watched["FilesUnaccountedAlarm"] == {(NAMESPACE, str(MetricName.FILES_UNACCOUNTED))}
    # And every alarm pages through the topic
    for properties in alarms.values():
        assert properties["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    # And the dashboard shows them all
    body = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    for logical_id in alarms:
        assert "${" + logical_id + ".Arn}" in body


def test_dashboard_url_is_an_output(template: dict[str, Any]) -> None:
    # Given the stack's outputs
    url = template["Outputs"]["DashboardUrl"]["Value"]["Fn::Sub"]

    # When reading the dashboard URL
    # Then it opens this stack's dashboard in the console of its region
    assert url == (
        "https://${AWS::Region}.console.aws.amazon.com/cloudwatch/home"
        "?region=${AWS::Region}#dashboards:name=${Dashboard}"
    )
