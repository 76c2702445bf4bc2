"""template.yaml is the single source of wiring: check it lints, is least-privilege, and that
the local runtime's reader (sparkify_local.sam.template) sees exactly what AWS would deploy."""

from __future__ import annotations

import pickle
import re
import shlex
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint_file

from sparkify_local.operate.deployed import REQUIRED_OUTPUTS
from sparkify_local.sam.intrinsics import evaluate_conditions, parameter_value, resolve_environment
from sparkify_local.sam.loading import load_template
from sparkify_local.sam.template import (
    FunctionWiring,
    NotificationRule,
    bucket_notifications,
    function_wiring,
    queue_wiring,
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
    "MergeOnArrival": "true",
    "MergeStateMachine": "arn:aws:states:us-west-2:123456789012:stateMachine:sparkify-merge",
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
    "REDSHIFT_KIND",
    "REDSHIFT_COPY_ROLE_ARN",
    "MANIFEST_BUCKET",
    "MANIFEST_PREFIX",
    "JSONPATHS_PREFIX",
    "MERGE_ON_ARRIVAL",
    "MERGE_STATE_MACHINE_ARN",
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


@pytest.fixture(scope="module")
def default_conditions(template: dict[str, Any]) -> dict[str, bool]:
    return evaluate_conditions(template)


# The name of the landing bucket, wherever the template needs it: the created bucket, else the
# existing one the operator named.
LANDING_BUCKET_NAME = {
    "Fn::If": [
        "CreateLandingBucket",
        {"Ref": "LandingBucket"},
        {"Ref": "ExistingLandingBucketName"},
    ]
}


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
            if isinstance(text, list):  # !Sub [string, {variables}]
                text = text[0]
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
    condition, created, existing = statement["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::If"]

    # Then it is exactly the created bucket, or the existing one the operator named
    assert condition == "CreateLandingBucket"
    assert created["Fn::Sub"] == "arn:${AWS::Partition}:s3:::" + bucket_name
    assert existing["Fn::Sub"] == "arn:${AWS::Partition}:s3:::${ExistingLandingBucketName}"
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    # And the created bucket waits for the policy
    assert resources["LandingBucket"]["DependsOn"] == "StageQueuePolicy"


def _landing_bucket_references(node: Any, guarded: bool, path: str) -> Iterator[tuple[str, bool]]:
    """Each place that names the created landing bucket, and whether CreateLandingBucket holds
    there (inside a resource or output with that condition, or the true branch of its !If)."""
    if isinstance(node, dict):
        if (
            node.get("Ref") == "LandingBucket"
            or node.get("Fn::GetAtt", [None])[0] == "LandingBucket"
        ):
            yield path, guarded
        sub = node.get("Fn::Sub")
        text = sub[0] if isinstance(sub, list) else sub
        if isinstance(text, str) and "${LandingBucket" in text:
            yield path, guarded
        if_args = node.get("Fn::If")
        if isinstance(if_args, list) and if_args[0] == "CreateLandingBucket":
            yield from _landing_bucket_references(if_args[1], True, path + "/If:true")
            yield from _landing_bucket_references(if_args[2], guarded, path + "/If:false")
            return
        for key, value in node.items():
            if key in ("Fn::Sub",) and isinstance(value, list):
                yield from _landing_bucket_references(value[1], guarded, f"{path}/{key}")
            elif key != "Fn::Sub":
                yield from _landing_bucket_references(value, guarded, f"{path}/{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _landing_bucket_references(item, guarded, f"{path}/{index}")


def test_every_landing_bucket_reference_depends_on_creating_it(template: dict[str, Any]) -> None:
    # Given every resource and output of the template
    sections = [
        (f"{section}/{name}", body)
        for section in ("Resources", "Outputs")
        for name, body in template.get(section, {}).items()
    ]
    sections.append(("Globals", template.get("Globals", {})))

    # When finding each place that names the created landing bucket
    references = [
        (path, guarded)
        for where, body in sections
        for path, guarded in _landing_bucket_references(
            body, body.get("Condition") == "CreateLandingBucket", where
        )
    ]

    # Then there are some (policies, environment, outputs), and each holds only when the stack
    # creates the bucket: with ExistingLandingBucketName, the existing name is used instead
    assert len(references) >= 5
    assert [path for path, guarded in references if not guarded] == []
    resources = template["Resources"]
    assert resources["LandingBucket"]["Condition"] == "CreateLandingBucket"
    assert resources["LandingBucketPolicy"]["Condition"] == "CreateLandingBucket"
    assert template["Outputs"]["LandingBucketName"]["Value"] == LANDING_BUCKET_NAME


def test_stage_function_lists_only_the_landing_prefixes(template: dict[str, Any]) -> None:
    # Given the stage function's own policy statements
    statements = template["Resources"]["StageFunction"]["Properties"]["Policies"][0]["Statement"]

    # When finding the ListBucket grant
    (listing,) = [s for s in statements if "s3:ListBucket" in _as_list(s["Action"])]

    # Then it is on the landing bucket, limited to the two dataset prefixes (enough for S3 to
    # answer 404, not 403, for a landed key deleted before it was staged)
    assert listing["Resource"]["Fn::Sub"] == [
        "arn:${AWS::Partition}:s3:::${Bucket}",
        {"Bucket": LANDING_BUCKET_NAME},
    ]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["song_data/*", "log_data/*"]}}


def test_jsonpaths_files_are_outside_every_expiring_prefix(
    template: dict[str, Any], stage: FunctionWiring
) -> None:
    # Given the landing bucket's lifecycle rules that delete current objects
    rules = template["Resources"]["LandingBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    expiring = [rule for rule in rules if "ExpirationInDays" in rule or "ExpirationDate" in rule]

    # When comparing them with where the stage function puts its files
    prefixes = [str(rule.get("Prefix")) for rule in expiring]

    # Then only the manifests expire, never the JSONPaths files COPY keeps reading
    assert prefixes == [stage.environment["MANIFEST_PREFIX"]]
    assert not str(stage.environment["JSONPATHS_PREFIX"]).startswith(tuple(prefixes))


def test_created_redshift_is_private_encrypted_and_has_no_plaintext_password(
    template: dict[str, Any],
) -> None:
    # Given the Redshift resources the stack may create
    resources = template["Resources"]
    cluster = resources["RedshiftCluster"]
    namespace = resources["RedshiftNamespace"]["Properties"]
    workgroup = resources["RedshiftWorkgroup"]["Properties"]
    secret = resources["RedshiftAdminSecret"]["Properties"]

    # When reading how they are reached and how their admin password is set
    passwords = [cluster["Properties"]["MasterUserPassword"], namespace["AdminUserPassword"]]

    # Then the cluster is a single RA3 node by default (DC2 is deprecated and not offered),
    # encrypted and private
    parameters = template["Parameters"]
    assert (
        parameters["RedshiftNodeType"]["Default"],
        parameters["RedshiftNodeCount"]["Default"],
    ) == (
        "ra3.xlplus",
        1,
    )
    assert all(node.startswith("ra3.") for node in parameters["RedshiftNodeType"]["AllowedValues"])
    assert cluster["Condition"] == "CreatesProvisionedRedshift"
    assert cluster["Properties"]["Encrypted"] is True
    assert cluster["Properties"]["PubliclyAccessible"] is False
    assert workgroup["PubliclyAccessible"] is False
    # And the password is generated by Secrets Manager and only resolved by CloudFormation
    assert secret["GenerateSecretString"]["GenerateStringKey"] == "password"
    for password in passwords:
        assert password == {
            "Fn::Sub": "{{resolve:secretsmanager:${RedshiftAdminSecret}:SecretString:password}}"
        }
    # And COPY reads the bucket through the created role, attached to the cluster / namespace
    copy_role = {"Fn::GetAtt": ["RedshiftCopyRole", "Arn"]}
    assert cluster["Properties"]["IamRoles"] == [copy_role]
    assert namespace["IamRoles"] == [copy_role]
    trusted = resources["RedshiftCopyRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert "redshift.amazonaws.com" in trusted[0]["Principal"]["Service"]


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
    assert stage.timeout_seconds == 300
    assert stage.queue_logical_id == "StageQueue"
    assert stage.batch_size == 100
    assert stage.batching_window_seconds == 10
    assert stage.max_concurrency == 2
    assert stage.report_batch_item_failures is True
    assert set(stage.environment) == STAGE_ENVIRONMENT_NAMES
    assert stage.environment["WAREHOUSE_ENGINE"] == "redshift"
    assert stage.environment["MANIFEST_BUCKET"] == LANDING_BUCKET_NAME
    assert stage.environment["MANIFEST_PREFIX"] == "_loader/manifests/"
    assert stage.environment["JSONPATHS_PREFIX"] == "_loader/config/"


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
    # Given YAML with CloudFormation short tags
    (tmp_path / "t.yaml").write_text(
        """
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

    # Then each tag is its JSON form
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


def test_resolve_environment_with_local_substitutions(
    stage: FunctionWiring, default_conditions: dict[str, bool]
) -> None:
    # Given the substitutions the local runtime provides, and the conditions at the parameters'
    # defaults (the stack's own bucket, an existing warehouse)
    # When resolving the stage function's environment
    environment = resolve_environment(stage.environment, LOCAL_SUBSTITUTIONS, default_conditions)

    # Then every variable is a plain string, Refs replaced, literals kept
    assert set(environment) == STAGE_ENVIRONMENT_NAMES
    assert all(isinstance(value, str) for value in environment.values())
    assert environment["MANIFEST_BUCKET"] == "sparkify-local-landing"
    assert environment["REDSHIFT_HOST"] == "localhost"
    assert environment["POWERTOOLS_SERVICE_NAME"] == "sparkify-stage"


def test_resolve_environment_names_the_unresolvable_variable(
    stage: FunctionWiring, default_conditions: dict[str, bool]
) -> None:
    # Given substitutions that lack the Redshift host
    substitutions = {k: v for k, v in LOCAL_SUBSTITUTIONS.items() if k != "RedshiftHost"}

    # When resolving the environment
    # Then the error names the variable and the intrinsic it could not resolve
    with pytest.raises(KeyError, match=r"REDSHIFT_HOST.*Ref.*RedshiftHost"):
        resolve_environment(stage.environment, substitutions, default_conditions)


def test_resolve_environment_takes_the_branch_of_each_condition() -> None:
    # Given values chosen by conditions, one of them dropping the variable
    raw: dict[str, object] = {
        "BUCKET": {"Fn::If": ["Created", {"Ref": "Bucket"}, {"Ref": "ExistingName"}]},
        "NESTED": {"Fn::If": ["Created", {"Fn::If": ["Other", "a", "b"]}, "c"]},
        "GONE": {"Fn::If": ["Created", {"Ref": "AWS::NoValue"}, "kept"]},
    }
    substitutions = {"Bucket": "created-bucket", "ExistingName": "their-bucket"}

    # When resolving them for both values of the condition
    created = resolve_environment(raw, substitutions, {"Created": True, "Other": False})
    existing = resolve_environment(raw, substitutions, {"Created": False, "Other": False})

    # Then only the branch CloudFormation takes counts, and NoValue drops the variable
    assert created == {"BUCKET": "created-bucket", "NESTED": "b"}
    assert existing == {"BUCKET": "their-bucket", "NESTED": "c", "GONE": "kept"}
    # And a condition that was not evaluated is an error naming it, not a guess
    with pytest.raises(KeyError, match=r"BUCKET.*condition \W+Created\W+ was not evaluated"):
        resolve_environment(raw, substitutions, {})


def test_conditions_follow_the_parameters(template: dict[str, Any]) -> None:
    # Given the template's conditions at the parameter defaults and with overrides
    defaults = evaluate_conditions(template)
    existing_bucket = evaluate_conditions(template, {"ExistingLandingBucketName": "their-bucket"})
    serverless = evaluate_conditions(
        template, {"CreateRedshift": "serverless", "VpcSubnetIds": "subnet-1,subnet-2"}
    )

    # When reading the ones that choose the wiring
    # Then the defaults create the bucket and connect to an existing warehouse by IAM
    assert defaults["CreateLandingBucket"] and not defaults["CreatesRedshift"]
    assert defaults["UseIamAuth"] and not defaults["AttachToVpc"]
    # And the overrides switch exactly what they should
    assert not existing_bucket["CreateLandingBucket"]
    assert serverless["CreatesServerlessRedshift"] and serverless["CreatesRedshift"]
    assert not serverless["CreatesProvisionedRedshift"] and not serverless["UseIamAuth"]
    assert serverless["HasSubnets"] and serverless["AttachToVpc"]


def test_conditions_refuse_what_they_cannot_evaluate(tmp_path: Path) -> None:
    # Given a condition over a pseudo parameter (the local runtime has no account or region)
    (tmp_path / "template.yaml").write_text(
        """
Conditions:
  InUsEast1: !Equals [!Ref AWS::Region, us-east-1]
Resources: {}
""",
        encoding="utf-8",
    )

    # When evaluating the conditions
    # Then it is an error naming the condition, not a guess
    with pytest.raises(KeyError, match="AWS::Region"):
        evaluate_conditions(load_template(tmp_path / "template.yaml"))


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


def test_samconfig_environments_pass_valid_parameters(template: dict[str, Any]) -> None:
    # Given the deploy settings of each samconfig.toml environment
    with (ROOT / "samconfig.toml").open("rb") as stream:
        samconfig = tomllib.load(stream)

    # When reading their parameter overrides the way SAM CLI does (shell-style words)
    for environment in ("default", "dev", "prod"):
        deploy = samconfig[environment]["deploy"]["parameters"]
        words = shlex.split(deploy["parameter_overrides"])
        overrides = dict(word.split("=", 1) for word in words)

        # Then each is a template parameter, within its constraints
        for name in overrides:
            parameter_value(template, name, overrides)
        assert overrides["Environment"] == ("prod" if environment == "prod" else "dev")
    # And production changes are reviewed as a change set
    assert samconfig["prod"]["deploy"]["parameters"]["confirm_changeset"] is True
    stacks = {samconfig[env]["global"]["parameters"]["stack_name"] for env in ("dev", "prod")}
    assert len(stacks) == 2


def test_a_file_that_is_not_template_yaml_is_refused_naming_it(tmp_path: Path) -> None:
    # Given a file whose YAML does not parse
    broken = tmp_path / "broken.yaml"
    broken.write_text("Resources:\n  R: [unclosed\n", encoding="utf-8")

    # When loading it / Then the error names the file
    with pytest.raises(ValueError, match=r"broken\.yaml"):
        load_template(broken)


def test_loaded_wiring_can_travel_to_a_worker_process() -> None:
    # Given the stage function's wiring, read from the real template
    wiring = function_wiring(load_template(TEMPLATE_PATH), "StageFunction")

    # When it is pickled, as a spawned worker process receives it
    copied = pickle.loads(pickle.dumps(wiring))

    # Then it arrives whole
    assert copied == wiring


def test_only_a_created_warehouse_is_held_to_the_ra3_and_serverless_ports(template: dict) -> None:
    # Given the RedshiftPort parameter and the rule on it
    port = template["Parameters"]["RedshiftPort"]
    rule = template["Rules"]["CreatedRedshiftUsesRa3Ports"]

    # When the rule's condition and its list of ports are read
    (assertion,) = rule["Assertions"]
    ports, value = assertion["Assert"]["Fn::Contains"]

    # Then an existing warehouse may keep any port (a DC2 cluster's 1150-65535), while a
    # created one needs exactly 5431-5455 or 8191-8215, and the default is one of them
    assert "AllowedValues" not in port
    assert (port["MinValue"], port["MaxValue"]) == (1150, 65535)
    assert rule["RuleCondition"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "CreateRedshift"}, "none"]}]
    }
    assert value == {"Ref": "RedshiftPort"}
    allowed = {int(port_text) for port_text in ports}
    assert allowed == {*range(5431, 5456), *range(8191, 8216)}
    assert port["Default"] in allowed


def test_the_stack_outputs_name_everything_the_cli_reads(template: dict[str, Any]) -> None:
    # `sparkify … --stack` finds a deployed stack's resources by these output names
    # (operate.deployed): every one it requires is always there, the warehouse's address and
    # secret are there whenever the parameters give them.
    outputs = template["Outputs"]
    for name in REQUIRED_OUTPUTS:
        assert name in outputs and "Condition" not in outputs[name], name
    assert outputs["WarehouseClusterIdentifier"]["Condition"] == "NamesCluster"
    assert outputs["WarehouseWorkgroupName"]["Condition"] == "NamesWorkgroup"
    assert outputs["WarehouseSecretArn"]["Condition"] == "HasWarehouseSecret"
    assert "WarehouseHost" in outputs and "Condition" not in outputs["WarehouseHost"]
