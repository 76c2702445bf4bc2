"""template.yaml is the single source of wiring: check it lints, is least-privilege, and that
the local runtime's reader (sparkify_local.template) sees exactly what AWS would deploy."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint_file

from sparkify_local.template import (
    FunctionWiring,
    NotificationRule,
    bucket_notifications,
    function_wiring,
    load_template,
    queue_wiring,
    resolve_environment,
)

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"

# What the local runtime substitutes for the template's Refs (values are placeholders).
LOCAL_SUBSTITUTIONS = {
    "RedshiftHost": "localhost",
    "RedshiftPort": "5439",
    "RedshiftDatabase": "dev",
    "RedshiftSecretArn": "",
    "RedshiftDbUser": "sparkify_loader",
    "RedshiftClusterIdentifier": "local",
    "RedshiftWorkgroupName": "",
    "RedshiftCopyRoleArn": "arn:aws:iam::123456789012:role/local-copy",
    "LandingBucket": "sparkify-local-landing",
}

STAGE_ENVIRONMENT_NAMES = {
    "WAREHOUSE_ENGINE",
    "REDSHIFT_HOST",
    "REDSHIFT_PORT",
    "REDSHIFT_DATABASE",
    "REDSHIFT_SECRET_ARN",
    "REDSHIFT_DB_USER",
    "REDSHIFT_CLUSTER_IDENTIFIER",
    "REDSHIFT_WORKGROUP_NAME",
    "REDSHIFT_COPY_ROLE_ARN",
    "MANIFEST_BUCKET",
    "MANIFEST_PREFIX",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE_PATH)


@pytest.fixture(scope="module")
def stage(template: dict[str, Any]) -> FunctionWiring:
    return function_wiring(template, "StageFunction")


def _statements(node: Any) -> Iterator[dict[str, Any]]:
    """Every IAM policy statement anywhere in the template, both branches of each !If."""
    if isinstance(node, dict):
        if "Effect" in node and ("Action" in node or "NotAction" in node):
            yield node
        for value in node.values():
            yield from _statements(value)
    elif isinstance(node, list):
        for item in node:
            yield from _statements(item)


# CloudWatch Logs delivery for Step Functions logging: these actions accept only Resource "*"
# (Step Functions developer guide, "IAM policies for logging to CloudWatch Logs").
ACTIONS_WITHOUT_RESOURCE_LEVEL_PERMISSIONS = {
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- The template itself ---------------------------------------------------------------------


def test_template_passes_cfn_lint() -> None:
    # Given the SAM template
    # When cfn-lint checks it with its default rules (what `cfn-lint template.yaml` runs)
    matches = lint_file(TEMPLATE_PATH)

    # Then there is no finding at all
    assert matches == [], "\n".join(str(match) for match in matches)


def test_allow_statements_have_no_wildcard_action_or_resource(template: dict[str, Any]) -> None:
    # Given every policy statement of the template (bucket, queue and function policies)
    statements = list(_statements(template))
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert allows, "expected the function and queue policies to grant something"

    # When looking at what the Allow statements grant
    # (a Deny may cover `s3:*`: it only takes access away, e.g. the non-TLS deny)
    for statement in allows:
        # Then no action is `*` or `service:*`, and NotAction (an implicit wildcard) is absent
        assert "NotAction" not in statement, statement
        for action in _as_list(statement["Action"]):
            assert action != "*" and not str(action).endswith(":*"), statement
        # And a resource wildcard only ever stands for the keys under a fixed prefix, except for
        # actions AWS documents as having no resource-level permissions at all
        actions = set(_as_list(statement["Action"]))
        for resource in _as_list(statement.get("Resource", [])):
            text = resource.get("Fn::Sub", resource) if isinstance(resource, dict) else resource
            if text == "*":
                assert actions <= ACTIONS_WITHOUT_RESOURCE_LEVEL_PERMISSIONS, statement
            elif isinstance(text, str) and "*" in text:
                assert re.fullmatch(r".+/[\w.-]+/\*", text), statement


def test_landing_bucket_denies_insecure_transport(template: dict[str, Any]) -> None:
    # Given the landing bucket's policy
    policy = template["Resources"]["LandingBucketPolicy"]["Properties"]["PolicyDocument"]

    # When looking for the transport rule
    denies = [
        s
        for s in policy["Statement"]
        if s["Effect"] == "Deny"
        and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") in (False, "false")
    ]

    # Then non-TLS requests are denied
    assert len(denies) == 1


def test_queue_policy_names_the_landing_bucket(template: dict[str, Any]) -> None:
    # Given the fixed bucket name (it cannot be a Ref: the bucket depends on the queue policy)
    resources = template["Resources"]
    bucket_name = resources["LandingBucket"]["Properties"]["BucketName"]["Fn::Sub"]
    statement = resources["StageQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0]

    # When reading who may send notifications to the queue
    source_arn = statement["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"]

    # Then it is exactly that bucket, and the bucket waits for the policy
    assert source_arn == "arn:${AWS::Partition}:s3:::" + bucket_name
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert resources["LandingBucket"]["DependsOn"] == "StageQueuePolicy"


def test_layer_requirements_equal_project_dependencies() -> None:
    # Given the layer's pins and the project's runtime dependencies
    requirements = (ROOT / "layers/common/requirements.txt").read_text(encoding="utf-8")
    layer_pins = [
        line.strip()
        for line in requirements.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    with (ROOT / "pyproject.toml").open("rb") as stream:
        project_pins = tomllib.load(stream)["project"]["dependencies"]

    # When comparing them
    # Then the layer ships exactly what the project is developed and tested against
    assert sorted(layer_pins) == sorted(project_pins)


# --- What the local runtime reads ------------------------------------------------------------


def test_stage_handler_file_exists(stage: FunctionWiring) -> None:
    # Given the stage function's wiring
    # When locating its handler module
    handler_file = stage.code_uri / f"{stage.module_name.replace('.', '/')}.py"

    # Then the file the deployed function would import is there
    assert handler_file.is_file(), f"missing {handler_file}"


def test_stage_function_wiring_matches_template(stage: FunctionWiring) -> None:
    # Given the template read by the local runtime (fixture), with no parameter overrides
    # When reading the stage function's wiring
    # Then it is the template's values, parameters at their defaults
    assert stage.logical_id == "StageFunction"
    assert stage.code_uri == ROOT / "functions" / "stage"
    assert stage.handler == "app.handler"
    assert (stage.module_name, stage.function_name) == ("app", "handler")
    assert stage.timeout_seconds == 60
    assert stage.queue_logical_id == "StageQueue"
    assert stage.batch_size == 100
    assert stage.batching_window_seconds == 10
    assert stage.max_concurrency == 2
    assert stage.report_batch_item_failures is True
    assert set(stage.environment) == STAGE_ENVIRONMENT_NAMES
    assert stage.environment["WAREHOUSE_ENGINE"] == "redshift"
    assert stage.environment["MANIFEST_BUCKET"] == {"Ref": "LandingBucket"}
    assert stage.environment["MANIFEST_PREFIX"] == "_loader/manifests/"


def test_parameter_overrides_replace_defaults(template: dict[str, Any]) -> None:
    # Given overrides as `sam deploy --parameter-overrides` would pass them (strings)
    overrides = {"StageBatchSize": "10", "StageBatchingWindowSeconds": "0"}

    # When reading the wiring with them
    wiring = function_wiring(template, "StageFunction", overrides)

    # Then overridden values are used and the others keep their defaults
    assert (wiring.batch_size, wiring.batching_window_seconds) == (10, 0)
    assert wiring.max_concurrency == 2


def test_parameter_override_outside_its_constraints_is_rejected(template: dict[str, Any]) -> None:
    # Given a concurrency CloudFormation would refuse (the SQS event source minimum is 2)
    overrides = {"StageMaxConcurrency": "1"}

    # When reading the wiring
    # Then the local runtime refuses it too
    with pytest.raises(ValueError, match="StageMaxConcurrency"):
        function_wiring(template, "StageFunction", overrides)


def test_globals_function_apply_like_sam(tmp_path: Path) -> None:
    # Given a template whose Globals set the timeout and part of the environment
    (tmp_path / "template.yaml").write_text(
        """
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Timeout: 30
    Handler: app.handler
    Environment:
      Variables: {SHARED: from-globals, OVERRIDDEN: from-globals}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: code/
      Environment:
        Variables: {OWN: !Ref Thing, OVERRIDDEN: from-function}
""",
        encoding="utf-8",
    )

    # When reading the function's wiring
    wiring = function_wiring(load_template(tmp_path / "template.yaml"), "Fn")

    # Then globals fill the gaps, the function's own values win, and there is no SQS event
    assert wiring.timeout_seconds == 30
    assert wiring.handler == "app.handler"
    assert wiring.code_uri == tmp_path.resolve() / "code"
    assert wiring.environment == {
        "SHARED": "from-globals",
        "OVERRIDDEN": "from-function",
        "OWN": {"Ref": "Thing"},
    }
    assert wiring.queue_logical_id is None and wiring.batch_size is None
    assert wiring.report_batch_item_failures is False


def test_short_form_intrinsics_load_as_long_form(tmp_path: Path) -> None:
    # Given YAML with CloudFormation short tags and an unquoted date
    (tmp_path / "t.yaml").write_text(
        """
AWSTemplateFormatVersion: 2010-09-09
Resources:
  R:
    Type: X
    Properties:
      A: !GetAtt Queue.Arn
      B: !If [IsProd, !Sub "${AWS::StackName}-x", !Ref AWS::NoValue]
      C: !And [!Condition One, !Not [!Equals [!Select [0, !Split [",", "a,b"]], ""]]]
""",
        encoding="utf-8",
    )

    # When loading it
    properties = load_template(tmp_path / "t.yaml")["Resources"]["R"]["Properties"]

    # Then each tag is its JSON form and the date stays a string
    assert properties["A"] == {"Fn::GetAtt": ["Queue", "Arn"]}
    assert properties["B"] == {
        "Fn::If": ["IsProd", {"Fn::Sub": "${AWS::StackName}-x"}, {"Ref": "AWS::NoValue"}]
    }
    assert properties["C"] == {
        "Fn::And": [
            {"Condition": "One"},
            {"Fn::Not": [{"Fn::Equals": [{"Fn::Select": [0, {"Fn::Split": [",", "a,b"]}]}, ""]}]},
        ]
    }
    assert load_template(tmp_path / "t.yaml")["AWSTemplateFormatVersion"] == "2010-09-09"


def test_visibility_timeout_covers_six_function_timeouts(
    template: dict[str, Any], stage: FunctionWiring
) -> None:
    # Given the queue feeding the stage function
    assert stage.queue_logical_id is not None

    # When reading its delivery settings
    queue = queue_wiring(template, stage.queue_logical_id)

    # Then a message stays hidden for at least 6 function timeouts (AWS guidance) and goes to
    # the dead-letter queue after 5 receives
    assert queue.visibility_timeout_seconds >= 6 * stage.timeout_seconds
    assert queue.dead_letter_logical_id == "StageDeadLetterQueue"
    assert queue.max_receive_count == 5


def test_notifications_are_the_two_datasets_json_only(template: dict[str, Any]) -> None:
    # Given the landing bucket (fixture template)
    # When reading its notification rules
    rules = bucket_notifications(template, "LandingBucket")

    # Then only .json objects under the two dataset prefixes reach the stage queue
    assert sorted(rules, key=lambda rule: rule.prefix) == [
        NotificationRule(("s3:ObjectCreated:*",), "log_data/", ".json", "StageQueue"),
        NotificationRule(("s3:ObjectCreated:*",), "song_data/", ".json", "StageQueue"),
    ]


def test_resolve_environment_with_local_substitutions(stage: FunctionWiring) -> None:
    # Given the substitutions the local runtime provides
    # When resolving the stage function's environment
    environment = resolve_environment(stage.environment, LOCAL_SUBSTITUTIONS)

    # Then every variable is a plain string, Refs replaced, literals kept
    assert set(environment) == STAGE_ENVIRONMENT_NAMES
    assert all(isinstance(value, str) for value in environment.values())
    assert environment["MANIFEST_BUCKET"] == "sparkify-local-landing"
    assert environment["REDSHIFT_HOST"] == "localhost"
    assert environment["POWERTOOLS_SERVICE_NAME"] == "sparkify-stage"


def test_resolve_environment_names_the_unresolvable_variable(stage: FunctionWiring) -> None:
    # Given substitutions that lack the Redshift host
    substitutions = {k: v for k, v in LOCAL_SUBSTITUTIONS.items() if k != "RedshiftHost"}

    # When resolving the environment
    # Then the error names the variable and the intrinsic it could not resolve
    with pytest.raises(KeyError, match=r"REDSHIFT_HOST.*Ref.*RedshiftHost"):
        resolve_environment(stage.environment, substitutions)


def test_resolve_environment_intrinsics() -> None:
    # Given values of each supported kind
    raw: dict[str, object] = {
        "LITERAL": "x",
        "NUMBER": 5,
        "FLAG": True,
        "ARN": {"Fn::GetAtt": ["StageQueue", "Arn"]},
        "NAME": {"Fn::Sub": "${AWS::StackName}-${LandingBucket}-${!Literal}"},
        "GONE": {"Ref": "AWS::NoValue"},
    }
    substitutions = {
        "StageQueue.Arn": "arn:aws:sqs:us-west-2:123456789012:stage",
        "AWS::StackName": "local",
        "LandingBucket": "bucket",
    }

    # When resolving them
    environment = resolve_environment(raw, substitutions)

    # Then they render as CloudFormation would, and AWS::NoValue removes the variable
    assert environment == {
        "LITERAL": "x",
        "NUMBER": "5",
        "FLAG": "true",
        "ARN": "arn:aws:sqs:us-west-2:123456789012:stage",
        "NAME": "local-bucket-${Literal}",
    }
