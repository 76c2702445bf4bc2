"""Connecting to Redshift: with a Secrets Manager secret, or with IAM auth (provisioned cluster
or Serverless workgroup). Never a plaintext password in the configuration."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import boto3
import redshift_connector
from aws_lambda_powertools.utilities import parameters

from sparkify_loader.warehouse.errors import TransientWarehouseError, WarehouseError

if TYPE_CHECKING:
    from sparkify_loader.config import WarehouseSettings

SECRET_MAX_AGE_SECONDS = 300
# parameters.get_secret, or a stand-in with its signature.
SecretFetcher = Callable[..., Any]


def connection_options(
    settings: WarehouseSettings, secret: Mapping[str, Any] | None, region: str | None = None
) -> dict[str, Any]:
    """Keyword arguments for ``redshift_connector.connect``. Holds the password when a secret is
    used: never log the result."""
    options: dict[str, Any] = {
        "host": settings.redshift_host,
        "port": settings.redshift_port,
        "database": settings.redshift_database,
        "application_name": "sparkify-loader",
    }
    if secret is not None:
        # The layout of RDS/Redshift secrets that Secrets Manager rotates.
        missing = [name for name in ("username", "password") if not secret.get(name)]
        if missing:
            raise WarehouseError(f"Redshift secret lacks {', '.join(missing)}")
        options.update(user=secret["username"], password=secret["password"])
        return options
    # IAM auth: the driver asks Redshift (Serverless) for temporary credentials with the
    # function's own role, so no password exists anywhere.
    options.update(iam=True, db_user=settings.redshift_db_user)
    if region:
        options["region"] = region
    if settings.redshift_workgroup_name:
        options.update(is_serverless=True, serverless_work_group=settings.redshift_workgroup_name)
    else:
        options["cluster_identifier"] = settings.redshift_cluster_identifier
    return options


def read_secret(
    settings: WarehouseSettings, fetch_secret: SecretFetcher, *, force_fetch: bool
) -> Mapping[str, Any] | None:
    """The connection secret the settings name (cached by Powertools), or None for IAM auth."""
    arn = settings.redshift_secret_arn
    if not arn:
        return None
    try:
        secret = fetch_secret(
            arn, transform="json", max_age=SECRET_MAX_AGE_SECONDS, force_fetch=force_fetch
        )
    except parameters.exceptions.TransformParameterError as error:
        raise WarehouseError(f"Redshift secret {arn} is not JSON") from error
    except parameters.exceptions.GetParameterError as error:
        raise TransientWarehouseError(f"cannot read Redshift secret {arn}: {error}") from error
    if not isinstance(secret, Mapping):
        raise WarehouseError(f"Redshift secret {arn} is not a JSON object")
    return secret


def connect(
    settings: WarehouseSettings, fetch_secret: SecretFetcher, *, force_fetch: bool
) -> redshift_connector.Connection:
    """A new connection, outside autocommit (the session decides where transactions end)."""
    options = connection_options(
        settings,
        read_secret(settings, fetch_secret, force_fetch=force_fetch),
        region=boto3.session.Session().region_name,
    )
    connection = redshift_connector.connect(**options)
    connection.autocommit = False
    return connection
