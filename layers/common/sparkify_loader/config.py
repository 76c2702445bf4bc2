"""Typed configuration, read from the environment once at cold start.

A missing or invalid setting fails fast with a message that names the variable, instead of a
silent default that surfaces later as a confusing driver error.
"""

from __future__ import annotations

from functools import cache
from typing import Literal, TypeVar

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Where the stage function puts the manifests Redshift COPY reads (the bucket's lifecycle rule
# expires them), and the JSONPaths files: outside the manifests prefix on purpose, so that a
# long-lived process never points COPY at a JSONPaths file expired under it.
DEFAULT_MANIFEST_PREFIX = "_loader/manifests/"
DEFAULT_JSONPATHS_PREFIX = "_loader/config/"


RedshiftKind = Literal["provisioned", "serverless"]


class ConfigurationError(RuntimeError):
    """The environment does not describe a usable configuration."""


class WarehouseSettings(BaseSettings):
    """Where the warehouse is and how to authenticate (never a plaintext password)."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    warehouse_engine: Literal["redshift", "postgres"]
    # PostgreSQL (local development): a libpq URL. The embedded server trusts local sockets, so
    # the URL carries no password.
    warehouse_url: str | None = None
    # Redshift: a Secrets Manager secret, or IAM auth through a cluster or Serverless workgroup.
    redshift_host: str | None = None
    redshift_port: int = 5439
    redshift_database: str | None = None
    redshift_secret_arn: str | None = None
    redshift_db_user: str | None = None
    redshift_cluster_identifier: str | None = None
    redshift_workgroup_name: str | None = None
    redshift_copy_role_arn: str | None = None
    # Which load-diagnostics views exist: provisioned clusters have STL_LOAD_ERRORS /
    # STL_LOAD_COMMITS, Serverless only the SYS_LOAD_* views (STL reads fail with 42501 there).
    # Empty: derived from the workgroup / cluster settings or the host name (``redshift_kind``).
    redshift_kind: RedshiftKind | None = None
    # The isolation level the local PostgreSQL engine runs its transactions at: "snapshot"
    # (PostgreSQL REPEATABLE READ, Redshift's default since 2024) or "serializable". Redshift's
    # level is the database's (ALTER DATABASE … ISOLATION LEVEL), not the client's.
    warehouse_isolation: Literal["snapshot", "serializable"] = "snapshot"

    @field_validator("redshift_kind", mode="before")
    @classmethod
    def _empty_kind_is_unset(cls, value: object) -> object:
        # The template passes an empty parameter as an empty string.
        return None if value == "" else value

    @property
    def resolved_redshift_kind(self) -> RedshiftKind | None:
        """The Redshift kind, when the settings tell it: REDSHIFT_KIND, else a workgroup means
        Serverless and a cluster identifier provisioned, else the endpoint's AWS host name
        (``….redshift-serverless.amazonaws.com`` vs ``….redshift.amazonaws.com``). None (a
        secret and a custom domain name): the engine probes once per connection."""
        if self.redshift_kind:
            return self.redshift_kind
        if self.redshift_workgroup_name:
            return "serverless"
        if self.redshift_cluster_identifier:
            return "provisioned"
        host = (self.redshift_host or "").lower()
        if ".redshift-serverless." in host:
            return "serverless"
        if ".redshift." in host:
            return "provisioned"
        return None

    @model_validator(mode="after")
    def _engine_settings_present(self) -> WarehouseSettings:
        if self.warehouse_engine == "postgres":
            _require(self, "warehouse_url")
        else:
            _require(self, "redshift_host", "redshift_database", "redshift_copy_role_arn")
            if not self.redshift_secret_arn:
                # Serverless IAM auth ignores db_user (GetCredentials derives IAMR:<role>), so
                # only a provisioned cluster's GetClusterCredentials needs it.
                if not self.redshift_workgroup_name:
                    _require(self, "redshift_db_user")
                if not (self.redshift_cluster_identifier or self.redshift_workgroup_name):
                    raise ValueError(
                        "IAM auth (no REDSHIFT_SECRET_ARN) needs REDSHIFT_CLUSTER_IDENTIFIER "
                        "or REDSHIFT_WORKGROUP_NAME"
                    )
        return self


class StageSettings(WarehouseSettings):
    """Settings of the stage function."""

    # Redshift COPY reads a manifest of the batch's files; it is written here.
    manifest_bucket: str | None = None
    manifest_prefix: str = DEFAULT_MANIFEST_PREFIX
    jsonpaths_prefix: str = DEFAULT_JSONPATHS_PREFIX
    # Serializable-isolation conflicts between concurrent batches are retried this many times.
    stage_max_attempts: int = Field(default=6, ge=1, le=20)
    # Merge on arrival: a batch that staged new rows starts this state machine (debounced,
    # sparkify_loader.arrival). False: merges run by schedule or by hand only.
    merge_on_arrival: bool = False
    merge_state_machine_arn: str | None = None

    @model_validator(mode="after")
    def _manifest_location_for_redshift(self) -> StageSettings:
        if self.warehouse_engine == "redshift":
            _require(self, "manifest_bucket")
        if self.merge_on_arrival:
            _require(self, "merge_state_machine_arn")
        return self


class MergeSettings(WarehouseSettings):
    """Settings of the merge function."""

    # A lease outlives any healthy step (each step renews it) but not a crashed run for long.
    merge_lease_seconds: int = Field(default=900, ge=5, le=86_400)


class ReconcileSettings(WarehouseSettings):
    """Settings of the scheduled Reconcile function. No defaults: the template sets each one,
    and a value missing from the environment is a deployment error, not a guess."""

    # The bucket to list (its dataset prefixes) and the queue its notifications go to.
    landing_bucket: str = Field(min_length=3)
    stage_queue_url: str = Field(min_length=1)
    # An object not in the ledger is in flight while younger than this (its notification may
    # be waiting in the stage queue, or for a redelivery); older, it is re-announced.
    reconcile_grace_seconds: int = Field(ge=0, le=86_400)


def _require(settings: BaseSettings, *names: str) -> None:
    missing = [name.upper() for name in names if not getattr(settings, name)]
    if missing:
        raise ValueError(f"missing setting(s) for this engine: {', '.join(missing)}")


SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def load_settings(settings_type: type[SettingsT]) -> SettingsT:
    """Read and validate settings; raise ConfigurationError naming each bad variable."""
    try:
        return settings_type()
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc']).upper() or 'settings'}: {issue['msg']}"
            for issue in error.errors()
        )
        raise ConfigurationError(f"invalid configuration: {problems}") from None


@cache
def stage_settings() -> StageSettings:
    """The stage function's settings, validated once per process (cold start)."""
    return load_settings(StageSettings)


@cache
def merge_settings() -> MergeSettings:
    """The merge function's settings, validated once per process (cold start)."""
    return load_settings(MergeSettings)


@cache
def reconcile_settings() -> ReconcileSettings:
    """The Reconcile function's settings, validated once per process (cold start)."""
    return load_settings(ReconcileSettings)
