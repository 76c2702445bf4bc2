"""The functions and the state machine as template.yaml deploys them: each handler exists and
imports without touching the warehouse, each function's environment is exactly what its typed
configuration knows (for every way the stack can be deployed), and the ASL's substitutions are
all defined. (That every Task retries, with the one retry policy: test_merge_contracts.)"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from sparkify_loader import config
from sparkify_loader.config import (
    MergeSettings,
    ReconcileSettings,
    StageSettings,
    WarehouseSettings,
)
from sparkify_local.sam.intrinsics import evaluate_conditions, resolve_environment
from sparkify_local.sam.loading import load_template
from sparkify_local.sam.template import function_wiring
from tests.support.handlers import (
    handler_path,
    import_handler_module,
    set_unreachable_local_warehouse,
)

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"

# The typed configuration each function validates at cold start (see functions/*/app.py).
SETTINGS_OF_FUNCTION: dict[str, type[WarehouseSettings]] = {
    "StageFunction": StageSettings,
    "MergeFunction": MergeSettings,
    "ReconcileFunction": ReconcileSettings,
}
# Read by Powertools itself, not by our configuration.
POWERTOOLS_VARIABLES = {
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
}
ACCOUNT = "123456789012"
EXISTING_WAREHOUSE = {
    "RedshiftHost": "sparkify.abc123.us-west-2.redshift.amazonaws.com",
    "RedshiftCopyRoleArn": f"arn:aws:iam::{ACCOUNT}:role/sparkify-copy",
}
NETWORK = {"VpcId": "vpc-0123456789abcdef0", "VpcSubnetIds": "subnet-1,subnet-2,subnet-3"}
# Each way the stack can be deployed, as `sam deploy --parameter-overrides` would give it.
DEPLOYMENTS: dict[str, dict[str, str]] = {
    "existing cluster, IAM auth": {**EXISTING_WAREHOUSE, "RedshiftClusterIdentifier": "sparkify"},
    "existing workgroup, IAM auth": {
        **EXISTING_WAREHOUSE,
        "RedshiftWorkgroupName": "sparkify",
        "RedshiftWorkgroupId": "0f0e0d0c-0b0a-4909-8807-060504030201",
    },
    "existing warehouse, secret, existing bucket": {
        **EXISTING_WAREHOUSE,
        "RedshiftSecretArn": f"arn:aws:secretsmanager:us-west-2:{ACCOUNT}:secret:sparkify-AbCdEf",
        "ExistingLandingBucketName": "sparkify-landing",
    },
    "created provisioned cluster": {"CreateRedshift": "provisioned", **NETWORK},
    "created serverless workgroup": {"CreateRedshift": "serverless", **NETWORK},
}
# What CloudFormation would put in for the stack's own resources (placeholders).
RESOURCE_VALUES = {
    "LandingBucket": "stack-landing-123456789012-us-west-2",
    "RedshiftCluster.Endpoint.Address": "created-cluster.example",
    "RedshiftWorkgroup.Workgroup.Endpoint.Address": "created-workgroup.example",
    "RedshiftAdminSecret": f"arn:aws:secretsmanager:us-west-2:{ACCOUNT}:secret:admin-XyZ",
    "RedshiftCopyRole.Arn": f"arn:aws:iam::{ACCOUNT}:role/created-copy",
    "MergeStateMachine": f"arn:aws:states:us-west-2:{ACCOUNT}:stateMachine:stack-merge",
    "StageQueue": f"https://sqs.us-west-2.amazonaws.com/{ACCOUNT}/stack-StageQueue-AbC",
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE_PATH)


def _functions(template: dict[str, Any]) -> list[str]:
    return sorted(
        name
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    )


def _deployed_environment(
    template: dict[str, Any], logical_id: str, overrides: dict[str, str]
) -> dict[str, str]:
    """The function's environment as CloudFormation would render it for these parameters."""
    parameters = {
        name: str(overrides.get(name, declared.get("Default", "")))
        for name, declared in template["Parameters"].items()
    }
    conditions = evaluate_conditions(template, overrides)
    wiring = function_wiring(template, logical_id, overrides)
    return resolve_environment(wiring.environment, {**parameters, **RESOURCE_VALUES}, conditions)


def test_settings_cover_every_function(template: dict[str, Any]) -> None:
    # Given the template's functions
    # When comparing them with the functions whose configuration the tests know
    # Then a new function cannot be added without its configuration being checked here
    assert _functions(template) == sorted(SETTINGS_OF_FUNCTION)


@pytest.fixture
def clean_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No configuration variable from the test process leaks into the settings under test, and
    the settings cached at cold start are read afresh before and after."""
    for settings_type in SETTINGS_OF_FUNCTION.values():
        for field in settings_type.model_fields:
            monkeypatch.delenv(field.upper(), raising=False)
    cached = (config.stage_settings, config.merge_settings, config.reconcile_settings)
    for settings in cached:
        settings.cache_clear()
    yield monkeypatch
    for settings in cached:
        settings.cache_clear()


@pytest.mark.parametrize("logical_id", sorted(SETTINGS_OF_FUNCTION))
def test_handler_exists_and_imports_without_connecting(
    template: dict[str, Any], logical_id: str, clean_settings: pytest.MonkeyPatch
) -> None:
    # Given the function's handler as the template names it
    handler_file = handler_path(template, logical_id)
    assert handler_file.is_file(), f"{logical_id}: missing {handler_file}"
    # And its deployed environment, but a local warehouse that must not be connected to
    deployment = DEPLOYMENTS["existing warehouse, secret, existing bucket"]
    for name, value in _deployed_environment(template, logical_id, deployment).items():
        clean_settings.setenv(name, value)
    set_unreachable_local_warehouse(clean_settings)

    def refuse_to_connect(*args: object, **kwargs: object) -> None:
        raise AssertionError("importing a handler must not connect to the warehouse")

    clean_settings.setattr(psycopg, "connect", refuse_to_connect)

    # When importing the module the way Lambda does (cold start)
    module = import_handler_module(template, logical_id)

    # Then the handler is there, settings validated, and the warehouse is connected lazily
    assert callable(getattr(module, function_wiring(template, logical_id).function_name))
    assert isinstance(module.SETTINGS, SETTINGS_OF_FUNCTION[logical_id])


@pytest.mark.parametrize("deployment", sorted(DEPLOYMENTS))
@pytest.mark.parametrize("logical_id", sorted(SETTINGS_OF_FUNCTION))
def test_environment_matches_the_typed_configuration(
    template: dict[str, Any], logical_id: str, deployment: str, clean_settings: pytest.MonkeyPatch
) -> None:
    # Given the function's environment as deployed with these parameters
    environment = _deployed_environment(template, logical_id, DEPLOYMENTS[deployment])
    settings_type = SETTINGS_OF_FUNCTION[logical_id]
    fields = {name.upper() for name in settings_type.model_fields}

    # When reading it as the function does at cold start
    for name, value in environment.items():
        clean_settings.setenv(name, value)
    settings = config.load_settings(settings_type)

    # Then every variable is one the configuration (or Powertools) knows, every required
    # setting is there, and the whole validates for the Redshift engine
    assert set(environment) - fields - POWERTOOLS_VARIABLES == set()
    required = {name.upper() for name, f in settings_type.model_fields.items() if f.is_required()}
    assert required <= set(environment)
    assert settings.warehouse_engine == "redshift"
    assert environment["POWERTOOLS_METRICS_NAMESPACE"] == "Sparkify"


@pytest.mark.parametrize(
    "deployment", ["created provisioned cluster", "created serverless workgroup"]
)
def test_created_redshift_is_what_the_functions_use(
    template: dict[str, Any], deployment: str
) -> None:
    # Given a stack that creates its Redshift
    # When rendering a function's environment
    environment = _deployed_environment(template, "MergeFunction", DEPLOYMENTS[deployment])

    # Then it connects to the created endpoint with the generated admin secret, and COPY uses
    # the created role
    endpoint = (
        RESOURCE_VALUES["RedshiftCluster.Endpoint.Address"]
        if "provisioned" in deployment
        else RESOURCE_VALUES["RedshiftWorkgroup.Workgroup.Endpoint.Address"]
    )
    assert environment["REDSHIFT_HOST"] == endpoint
    assert environment["REDSHIFT_SECRET_ARN"] == RESOURCE_VALUES["RedshiftAdminSecret"]
    assert environment["REDSHIFT_COPY_ROLE_ARN"] == RESOURCE_VALUES["RedshiftCopyRole.Arn"]


def test_existing_bucket_is_where_manifests_go(template: dict[str, Any]) -> None:
    # Given a stack that uses an existing landing bucket
    overrides = DEPLOYMENTS["existing warehouse, secret, existing bucket"]

    # When rendering the stage function's environment
    environment = _deployed_environment(template, "StageFunction", overrides)

    # Then its manifests go to that bucket, not to one the stack did not create
    assert environment["MANIFEST_BUCKET"] == overrides["ExistingLandingBucketName"]


# --- The state machine --------------------------------------------------------------------------


def test_every_asl_substitution_is_defined(template: dict[str, Any]) -> None:
    # Given the state machine's definition file and its DefinitionSubstitutions
    properties = template["Resources"]["MergeStateMachine"]["Properties"]
    definition = (ROOT / properties["DefinitionUri"]).read_text(encoding="utf-8")
    substitutions = properties["DefinitionSubstitutions"]

    # When listing the ${...} placeholders of the definition
    placeholders = set(re.findall(r"\$\{([^}]+)\}", definition))

    # Then each is defined, each definition is used, and each points at a template resource
    assert placeholders, "expected the function ARN to come in through a substitution"
    assert placeholders == set(substitutions)
    for value in substitutions.values():
        resource, _attribute = value["Fn::GetAtt"]
        assert resource in template["Resources"]
