"""Configuration is validated at cold start: a missing or invalid setting fails fast and the
error names the environment variable to fix."""

from __future__ import annotations

import re

import pytest

from sparkify_loader.config import (
    ConfigurationError,
    ReconcileSettings,
    StageSettings,
    load_settings,
)

SETTING_NAMES = [
    name.upper() for name in {*StageSettings.model_fields, *ReconcileSettings.model_fields}
]
REDSHIFT_IAM = {
    "WAREHOUSE_ENGINE": "redshift",
    "REDSHIFT_HOST": "sparkify.abc123.us-east-1.redshift.amazonaws.com",
    "REDSHIFT_DATABASE": "dev",
    "REDSHIFT_DB_USER": "sparkify_loader",
    "REDSHIFT_COPY_ROLE_ARN": "arn:aws:iam::123456789012:role/sparkify-copy",
    "MANIFEST_BUCKET": "sparkify-landing",
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No setting leaks in from the developer's shell or from another test."""
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def set_environment(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def configuration_error(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> str:
    set_environment(monkeypatch, values)
    with pytest.raises(ConfigurationError) as raised:
        load_settings(StageSettings)
    return str(raised.value)


def test_missing_engine_names_warehouse_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an environment without WAREHOUSE_ENGINE
    # When the settings are loaded
    message = configuration_error(monkeypatch, {"WAREHOUSE_URL": "postgresql:///x"})

    # Then the error names the variable
    assert "WAREHOUSE_ENGINE" in message


def test_unknown_engine_names_warehouse_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    message = configuration_error(monkeypatch, {"WAREHOUSE_ENGINE": "mysql"})
    assert "WAREHOUSE_ENGINE" in message


def test_postgres_without_url_names_warehouse_url(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the postgres engine and no URL
    # When the settings are loaded
    message = configuration_error(monkeypatch, {"WAREHOUSE_ENGINE": "postgres"})

    # Then the error names WAREHOUSE_URL
    assert "WAREHOUSE_URL" in message


def test_redshift_without_secret_or_cluster_or_workgroup_names_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given Redshift with IAM auth but neither a cluster nor a workgroup (and no secret)
    # When the settings are loaded
    message = configuration_error(monkeypatch, REDSHIFT_IAM)

    # Then the error names every way to fix it
    for name in ("REDSHIFT_SECRET_ARN", "REDSHIFT_CLUSTER_IDENTIFIER", "REDSHIFT_WORKGROUP_NAME"):
        assert name in message


def test_redshift_iam_without_db_user_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    values = REDSHIFT_IAM | {"REDSHIFT_CLUSTER_IDENTIFIER": "sparkify"}
    del values["REDSHIFT_DB_USER"]
    assert "REDSHIFT_DB_USER" in configuration_error(monkeypatch, values)


def test_redshift_without_host_database_and_role_names_all_three(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = configuration_error(
        monkeypatch,
        {
            "WAREHOUSE_ENGINE": "redshift",
            "REDSHIFT_SECRET_ARN": "arn:secret",
            "MANIFEST_BUCKET": "b",
        },
    )
    for name in ("REDSHIFT_HOST", "REDSHIFT_DATABASE", "REDSHIFT_COPY_ROLE_ARN"):
        assert name in message


def test_redshift_stage_without_manifest_bucket_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    values = REDSHIFT_IAM | {"REDSHIFT_WORKGROUP_NAME": "sparkify"}
    del values["MANIFEST_BUCKET"]
    assert "MANIFEST_BUCKET" in configuration_error(monkeypatch, values)


RECONCILE = {
    "WAREHOUSE_ENGINE": "postgres",
    "WAREHOUSE_URL": "postgresql:///x",
    "LANDING_BUCKET": "sparkify-landing",
    "STAGE_QUEUE_URL": "https://sqs.us-west-2.amazonaws.com/123456789012/stage",
    "RECONCILE_GRACE_SECONDS": "3600",
}


@pytest.mark.parametrize("name", ["LANDING_BUCKET", "STAGE_QUEUE_URL", "RECONCILE_GRACE_SECONDS"])
def test_reconcile_without_a_setting_names_it(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    # Given the Reconcile function's environment without one of its own settings
    set_environment(monkeypatch, {key: value for key, value in RECONCILE.items() if key != name})

    # When its settings are loaded (cold start)
    with pytest.raises(ConfigurationError) as raised:
        load_settings(ReconcileSettings)

    # Then the one line names the missing variable, and only it
    assert str(raised.value) == f"invalid configuration: {name}: Field required"


def test_reconcile_refuses_a_negative_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    set_environment(monkeypatch, RECONCILE | {"RECONCILE_GRACE_SECONDS": "-1"})
    with pytest.raises(ConfigurationError, match=r"RECONCILE_GRACE_SECONDS: .*greater than"):
        load_settings(ReconcileSettings)


def test_valid_reconcile_environment_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    set_environment(monkeypatch, RECONCILE)
    settings = load_settings(ReconcileSettings)
    assert (settings.landing_bucket, settings.reconcile_grace_seconds) == ("sparkify-landing", 3600)


@pytest.mark.parametrize(
    ("name", "value"),
    [("STAGE_MAX_ATTEMPTS", "0"), ("STAGE_MAX_ATTEMPTS", "many"), ("REDSHIFT_PORT", "port")],
)
def test_invalid_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    values = {"WAREHOUSE_ENGINE": "postgres", "WAREHOUSE_URL": "postgresql:///x", name: value}
    message = configuration_error(monkeypatch, values)
    assert re.search(rf"\b{name}\b", message)


def test_valid_postgres_environment_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a complete local environment
    set_environment(
        monkeypatch,
        {"WAREHOUSE_ENGINE": "postgres", "WAREHOUSE_URL": "postgresql://u@/db?host=/tmp/s"},
    )

    # When the settings are loaded
    settings = load_settings(StageSettings)

    # Then they hold the values, and defaults for the rest
    assert settings.warehouse_engine == "postgres"
    assert settings.warehouse_url == "postgresql://u@/db?host=/tmp/s"
    assert settings.stage_max_attempts == 6
    assert settings.manifest_bucket is None


@pytest.mark.parametrize(
    "auth",
    [
        {"REDSHIFT_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:sparkify"},
        {"REDSHIFT_CLUSTER_IDENTIFIER": "sparkify"},
        {"REDSHIFT_WORKGROUP_NAME": "sparkify"},
    ],
    ids=["secret", "cluster", "workgroup"],
)
def test_valid_redshift_environment_parses(
    monkeypatch: pytest.MonkeyPatch, auth: dict[str, str]
) -> None:
    set_environment(monkeypatch, REDSHIFT_IAM | auth | {"STAGE_MAX_ATTEMPTS": "3"})
    settings = load_settings(StageSettings)
    assert settings.warehouse_engine == "redshift"
    assert settings.redshift_port == 5439
    assert settings.manifest_bucket == "sparkify-landing"
    assert settings.stage_max_attempts == 3


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        ({"REDSHIFT_KIND": "serverless", "REDSHIFT_SECRET_ARN": "arn:secret"}, "serverless"),
        ({"REDSHIFT_KIND": "", "REDSHIFT_WORKGROUP_NAME": "wg"}, "serverless"),
        ({"REDSHIFT_CLUSTER_IDENTIFIER": "sparkify"}, "provisioned"),
        (
            {
                "REDSHIFT_SECRET_ARN": "arn:secret",
                "REDSHIFT_HOST": "wg.123456789012.us-east-1.redshift-serverless.amazonaws.com",
            },
            "serverless",
        ),
        ({"REDSHIFT_SECRET_ARN": "arn:secret"}, "provisioned"),  # the cluster host name
        ({"REDSHIFT_SECRET_ARN": "arn:secret", "REDSHIFT_HOST": "warehouse.example.com"}, None),
    ],
    ids=["explicit", "workgroup", "cluster", "serverless-host", "cluster-host", "custom-domain"],
)
def test_the_redshift_kind_comes_from_the_settings_when_they_tell(
    monkeypatch: pytest.MonkeyPatch, values: dict[str, str], kind: str | None
) -> None:
    # Given Redshift settings that say more or less about the warehouse
    set_environment(monkeypatch, REDSHIFT_IAM | values)

    # When they are loaded
    settings = load_settings(StageSettings)

    # Then the kind is resolved from them (None: the engine probes the connection)
    assert settings.resolved_redshift_kind == kind


def test_an_unknown_redshift_kind_names_redshift_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a misspelt kind
    # When the settings are loaded / Then the error names the variable
    values = REDSHIFT_IAM | {"REDSHIFT_CLUSTER_IDENTIFIER": "x", "REDSHIFT_KIND": "serverles"}
    assert "REDSHIFT_KIND" in configuration_error(monkeypatch, values)


def test_an_unknown_isolation_names_warehouse_isolation(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the local engine with an isolation level PostgreSQL and Redshift do not share
    values = {"WAREHOUSE_ENGINE": "postgres", "WAREHOUSE_URL": "postgresql:///x"}
    # When the settings are loaded / Then the error names the variable
    assert "WAREHOUSE_ISOLATION" in configuration_error(
        monkeypatch, values | {"WAREHOUSE_ISOLATION": "read committed"}
    )


def test_serverless_iam_needs_no_db_user(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given IAM auth through a Serverless workgroup and no REDSHIFT_DB_USER (the driver ignores
    # it there: the user is IAMR:<role>)
    values = REDSHIFT_IAM | {"REDSHIFT_WORKGROUP_NAME": "wg"}
    del values["REDSHIFT_DB_USER"]
    set_environment(monkeypatch, values)

    # When the settings are loaded / Then they are valid
    assert load_settings(StageSettings).redshift_workgroup_name == "wg"
