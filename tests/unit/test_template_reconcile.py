"""The scheduled Reconcile function as template.yaml deploys it: an EventBridge Scheduler schedule
(hourly by default, can be paused), exactly its own permissions, the alarm on files that stay
unaccounted across two runs, its dashboard widgets and output; a bad setting stops its cold
start with the variable's name."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from sparkify_loader import config
from sparkify_loader.completeness.landing import landing_rules
from sparkify_loader.completeness.scheduled import ReconcileRequest
from sparkify_loader.config import ConfigurationError
from sparkify_loader.observability import MetricName
from sparkify_local.sam.intrinsics import evaluate_conditions, parameter_value
from sparkify_local.sam.loading import load_template
from sparkify_local.sam.template import function_wiring
from tests.support.handlers import import_handler_module, set_unreachable_local_warehouse

ROOT = Path(__file__).resolve().parents[2]
FUNCTION = "ReconcileFunction"
ALARM = "FilesUnaccountedAlarm"
LANDING_BUCKET = {
    "Fn::If": [
        "CreateLandingBucket",
        {"Ref": "LandingBucket"},
        {"Ref": "ExistingLandingBucketName"},
    ]
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


def _properties(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    return template["Resources"][logical_id]["Properties"]


def test_reconcile_runs_hourly_on_an_eventbridge_schedule_by_default(
    template: dict[str, Any],
) -> None:
    # Given the Reconcile function's events
    events = _properties(template, FUNCTION)["Events"]

    # When reading its one event
    ((_name, event),) = events.items()
    expression = event["Properties"]["ScheduleExpression"]["Fn::Sub"]

    # Then it is an EventBridge Scheduler schedule, every 60 minutes unless overridden
    assert event["Type"] == "ScheduleV2"
    assert expression == "rate(${ReconcileIntervalMinutes} minutes)"
    assert parameter_value(template, "ReconcileIntervalMinutes", None) == "60"
    assert expression.replace("${ReconcileIntervalMinutes}", "60") == "rate(60 minutes)"
    # And named per stack: schedule names are unique per account and region
    assert event["Properties"]["Name"] == {"Fn::Sub": "${AWS::StackName}-reconcile"}


def test_the_schedule_input_is_a_request_the_handler_accepts(template: dict[str, Any]) -> None:
    # Given the schedule's input, with the context attributes EventBridge Scheduler fills in
    raw = _properties(template, FUNCTION)["Events"]["Schedule"]["Properties"]["Input"]
    filled = raw.replace("<aws.scheduler.execution-id>", "d32c5kddcf5bb8c3").replace(
        "<aws.scheduler.scheduled-time>", "2026-12-02T05:00:00Z"
    )

    # When the handler's model reads it
    request = ReconcileRequest.model_validate(json.loads(filled))

    # Then it is valid, and carries the execution id the log correlates on
    assert request.execution_id == "d32c5kddcf5bb8c3"
    assert request.scheduled_time is not None


@pytest.mark.parametrize(("enabled", "state"), [("true", "ENABLED"), ("false", "DISABLED")])
def test_the_schedule_can_be_paused_by_a_parameter(
    template: dict[str, Any], enabled: str, state: str
) -> None:
    # Given the schedule's state, chosen by a condition
    chosen = _properties(template, FUNCTION)["Events"]["Schedule"]["Properties"]["State"]
    condition, when_true, when_false = chosen["Fn::If"]

    # When the stack is deployed with ReconcileScheduleEnabled
    conditions = evaluate_conditions(template, {"ReconcileScheduleEnabled": enabled})

    # Then the schedule is in that state; enabled by default
    assert (when_true if conditions[condition] else when_false) == state
    assert evaluate_conditions(template)[condition] is True


def test_the_wiring_reader_sees_a_scheduled_function_without_a_queue(
    template: dict[str, Any],
) -> None:
    # When the local runtime reads the function's wiring (its ScheduleV2 event included)
    wiring = function_wiring(template, FUNCTION)

    # Then it is a plain function: no SQS event source, its own handler and environment
    assert wiring.queue_logical_id is None
    assert wiring.handler == "app.handler"
    assert wiring.code_uri == ROOT / "functions" / "reconcile"
    assert wiring.environment["STAGE_QUEUE_URL"] == {"Ref": "StageQueue"}
    assert wiring.environment["LANDING_BUCKET"] == LANDING_BUCKET
    assert wiring.environment["RECONCILE_GRACE_SECONDS"] == {"Ref": "ReconcileGraceSeconds"}


def test_reconcile_may_list_the_landing_prefixes_and_send_to_the_stage_queue_only(
    template: dict[str, Any],
) -> None:
    # Given the function's policies
    policies = _properties(template, FUNCTION)["Policies"]

    # When reading them
    # Then they are exactly: list the dataset prefixes, send to the stage queue, the warehouse
    # credentials the other functions have (one managed policy)
    prefixes = [f"{rule.prefix}*" for rule in landing_rules()]
    assert policies == [
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ListLandingPrefixes",
                    "Effect": "Allow",
                    "Action": "s3:ListBucket",
                    "Resource": {
                        "Fn::Sub": [
                            "arn:${AWS::Partition}:s3:::${Bucket}",
                            {"Bucket": LANDING_BUCKET},
                        ]
                    },
                    "Condition": {"StringLike": {"s3:prefix": prefixes}},
                },
                {
                    "Sid": "AnnounceToStageQueue",
                    "Effect": "Allow",
                    "Action": "sqs:SendMessage",
                    "Resource": {"Fn::GetAtt": ["StageQueue", "Arn"]},
                },
            ],
        },
        {"Ref": "WarehouseAccessPolicy"},
    ]
    assert prefixes == ["song_data/*", "log_data/*"]
    # And the same warehouse access as the stage function
    assert {"Ref": "WarehouseAccessPolicy"} in _properties(template, "StageFunction")["Policies"]


def test_files_unaccounted_in_two_runs_in_a_row_raise_the_alarm(template: dict[str, Any]) -> None:
    # Given the alarm and the function's metric dimensions
    alarm = _properties(template, ALARM)
    service = function_wiring(template, FUNCTION).environment["POWERTOOLS_SERVICE_NAME"]

    # When reading what it watches and when it fires
    # Then: the Reconcile function's FilesUnaccounted, above 0 in two periods in a row
    assert (alarm["Namespace"], alarm["MetricName"]) == (
        "Sparkify",
        str(MetricName.FILES_UNACCOUNTED),
    )
    assert alarm["Dimensions"] == [{"Name": "service", "Value": service}]
    assert (alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
        "Maximum",
        0,
        "GreaterThanThreshold",
    )
    assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == 2
    # A run that did not report keeps the alarm's state (the template says why)
    assert alarm["TreatMissingData"] == "missing"
    assert alarm["AlarmActions"] == alarm["OKActions"] == [{"Ref": "AlarmTopic"}]


def test_the_alarm_period_is_the_schedule_interval(template: dict[str, Any]) -> None:
    # Given the alarm's period, looked up from the interval parameter
    period = _properties(template, ALARM)["Period"]["Fn::FindInMap"]
    mapping_name, key, attribute = period
    intervals = template["Parameters"]["ReconcileIntervalMinutes"]["AllowedValues"]

    # When reading the mapping for every interval the parameter allows
    mapping = template["Mappings"][mapping_name]

    # Then each period is one interval (one run per period), within CloudWatch's one-day range
    assert key == {"Ref": "ReconcileIntervalMinutes"}
    assert sorted(mapping, key=int) == [str(minutes) for minutes in intervals]
    for minutes in intervals:
        seconds = mapping[str(minutes)][attribute]
        assert seconds == minutes * 60
        assert seconds * 2 <= 86_400
    # And a run never outlives the shortest interval, so two never overlap
    assert function_wiring(template, FUNCTION).timeout_seconds <= min(intervals) * 60


def test_the_dashboard_shows_the_reconcile_metrics_and_alarm(template: dict[str, Any]) -> None:
    # Given the dashboard body, its ${...} references replaced by placeholders
    body = _properties(template, "Dashboard")["DashboardBody"]["Fn::Sub"]
    dashboard = json.loads(re.sub(r"\$\{[^}]+\}", "0", body))

    # When collecting the Sparkify metrics its widgets draw for the Reconcile function
    drawn = {
        line[1]
        for widget in dashboard["widgets"]
        if widget["type"] == "metric"
        for line in widget["properties"]["metrics"]
        if line[:1] == ["Sparkify"] and line[2:4] == ["service", "sparkify-reconcile"]
    }

    # Then both metrics the issue names are there, and the alarm on the alarm widget
    assert {str(MetricName.FILES_UNACCOUNTED), str(MetricName.FILES_REANNOUNCED)} <= drawn
    assert "${" + ALARM + ".Arn}" in body


def test_the_function_name_is_an_output(template: dict[str, Any]) -> None:
    assert template["Outputs"]["ReconcileFunctionName"]["Value"] == {"Ref": FUNCTION}


def test_a_missing_setting_stops_the_cold_start_naming_it(
    template: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the function's environment without LANDING_BUCKET
    set_unreachable_local_warehouse(monkeypatch)
    monkeypatch.delenv("LANDING_BUCKET", raising=False)
    monkeypatch.setenv("STAGE_QUEUE_URL", "http://localhost/123456789012/stage")
    monkeypatch.setenv("RECONCILE_GRACE_SECONDS", "3600")
    config.reconcile_settings.cache_clear()

    # When Lambda imports the handler (cold start)
    with pytest.raises(ConfigurationError) as raised:
        import_handler_module(template, FUNCTION)
    config.reconcile_settings.cache_clear()

    # Then it fails at once, naming the variable
    assert str(raised.value) == "invalid configuration: LANDING_BUCKET: Field required"
