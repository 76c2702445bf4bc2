"""SQL on a deployed stack's warehouse through the Redshift Data API: it needs no network route
into the warehouse's VPC, only the caller's AWS credentials (IAM, or the stack's secret).

Behaviour this client relies on, from the API reference (botocore's ``redshift-data`` model and
the Management Guide's "Using the Amazon Redshift Data API"):
- ExecuteStatement returns at once with an ``Id``; DescribeStatement's ``Status`` moves through
  SUBMITTED, PICKED, STARTED to FINISHED, FAILED or ABORTED; ``Error`` holds the warehouse's
  message of a FAILED statement; ``HasResultSet`` says whether GetStatementResult has rows.
- Parameters are named (``:name`` in the SQL), their values strings of at least one character
  ("Amazon Redshift implicitly converts to the proper data type"): no NULL, no empty string.
- GetStatementResult pages with ``NextToken``; each field is one of ``isNull``, ``stringValue``,
  ``longValue``, ``doubleValue``, ``booleanValue``, ``blobValue``, and ``ColumnMetadata`` gives
  each column's ``name`` and ``typeName``.
- A Serverless workgroup is addressed by ``WorkgroupName``, a cluster by ``ClusterIdentifier``;
  with ``SecretArn`` the secret's user signs in, without it the caller's IAM identity does.
- CancelStatement stops a statement that has not finished.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from sparkify_local.operate.errors import DataApiError
from sparkify_local.operate.target import QueryResult
from sparkify_local.runtime import interrupts

if TYPE_CHECKING:
    from mypy_boto3_redshift_data import RedshiftDataAPIServiceClient
    from mypy_boto3_redshift_data.type_defs import FieldTypeDef, SqlParameterTypeDef

DEFAULT_STATEMENT_TIMEOUT_S = 300.0
FIRST_POLL_S = 0.05
MAX_POLL_S = 1.0
# %(name)s, the pyformat placeholders of our SQL files; %% is a literal percent sign there.
_PYFORMAT = re.compile(r"%\((?P<name>[A-Za-z_][A-Za-z0-9_]*)\)s|%%")
_DONE = ("FINISHED", "FAILED", "ABORTED")


@dataclass(frozen=True)
class WarehouseAddress:
    """Where the Data API sends a stack's statements, and who signs in."""

    database: str
    workgroup_name: str | None = None
    cluster_identifier: str | None = None
    secret_arn: str | None = None

    def request(self) -> dict[str, Any]:
        fields = {
            "Database": self.database,
            "WorkgroupName": self.workgroup_name,
            "ClusterIdentifier": self.cluster_identifier,
            "SecretArn": self.secret_arn,
        }
        return {name: value for name, value in fields.items() if value}


def named_parameters(
    statement: str, params: Mapping[str, Any]
) -> tuple[str, list[SqlParameterTypeDef]]:
    """Our pyformat statement as the Data API takes it: ``:name`` placeholders and string
    values."""
    used: dict[str, str] = {}

    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        if name is None:
            return "%"
        value = params[name]
        if value is None or value == "":
            # The API's SqlParameter.value has a minimum length of 1 and no null.
            raise DataApiError(f"parameter {name!r} is empty or NULL: the Data API cannot bind it")
        used[name] = str(value)
        return f":{name}"

    sql = _PYFORMAT.sub(replace, statement)
    return sql, [{"name": name, "value": value} for name, value in used.items()]


class DataApi:
    """Runs one statement at a time and waits for it (polling DescribeStatement)."""

    def __init__(
        self,
        client: RedshiftDataAPIServiceClient,
        address: WarehouseAddress,
        timeout_s: float = DEFAULT_STATEMENT_TIMEOUT_S,
    ) -> None:
        self.client = client
        self.address = address
        self.timeout_s = timeout_s

    def rows(self, statement: str, params: Mapping[str, Any] | None = None) -> list[tuple]:
        sql, parameters = named_parameters(statement, params or {})
        return self._run(sql, parameters)[1].rows

    def execute(self, statement: str, params: Mapping[str, Any] | None = None) -> int:
        """Run one statement (committed on its own); return the rows it changed."""
        sql, parameters = named_parameters(statement, params or {})
        return int(self._run(sql, parameters)[0].get("ResultRows", -1))

    def query(self, statement: str) -> QueryResult:
        return self._run(statement, [])[1]  # the user's own SQL, sent as typed

    def _run(
        self, sql: str, parameters: list[SqlParameterTypeDef]
    ) -> tuple[dict[str, Any], QueryResult]:
        """The statement's DescribeStatement once it finished, and its result."""
        try:
            request = {"Sql": sql, **self.address.request()}
            if parameters:  # the API refuses an empty list (Parameters has a minimum of 1)
                request["Parameters"] = parameters
            started = self.client.execute_statement(**request)
            statement_id = started["Id"]
            described = self._wait(statement_id)
            if described["Status"] != "FINISHED":
                error = described.get("Error") or f"statement {described['Status'].lower()}"
                raise DataApiError(" ".join(error.split()))
            if not described.get("HasResultSet"):
                return described, QueryResult([], [])
            return described, self._result(statement_id)
        except ClientError as error:
            raise DataApiError(_client_error(error)) from None
        except BotoCoreError as error:
            raise DataApiError(str(error)) from None

    def _wait(self, statement_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout_s
        pause = FIRST_POLL_S
        with interrupts.deferred():  # Ctrl-C between two polls cancels the statement below
            try:
                while True:
                    interrupts.checkpoint()
                    described = dict(self.client.describe_statement(Id=statement_id))
                    if described["Status"] in _DONE:
                        return described
                    if time.monotonic() >= deadline:
                        self._cancel(statement_id)
                        raise DataApiError(
                            f"the statement did not finish within {self.timeout_s:g} s and was "
                            f"cancelled (Data API statement {statement_id})"
                        )
                    time.sleep(pause)
                    pause = min(pause * 2, MAX_POLL_S)
            except KeyboardInterrupt:
                self._cancel(statement_id)
                raise

    def _cancel(self, statement_id: str) -> None:
        with contextlib.suppress(ClientError):  # it finished meanwhile: nothing to stop
            self.client.cancel_statement(Id=statement_id)

    def _result(self, statement_id: str) -> QueryResult:
        columns: list[str] = []
        types: list[str] = []
        rows: list[tuple] = []
        for page in self.client.get_paginator("get_statement_result").paginate(Id=statement_id):
            if not columns:
                metadata = page.get("ColumnMetadata", [])
                columns = [column.get("label") or column.get("name", "") for column in metadata]
                types = [column.get("typeName", "") for column in metadata]
            rows += [
                tuple(
                    _value(field, type_name) for field, type_name in zip(record, types, strict=True)
                )
                for record in page["Records"]
            ]
        return QueryResult(columns, rows)


def _value(field: FieldTypeDef, type_name: str) -> Any:
    """One field as Python: the typed members as they are, strings by the column's type."""
    if field.get("isNull"):
        return None
    for member in ("longValue", "doubleValue", "booleanValue", "blobValue"):
        if member in field:
            return field[member]
    text = field.get("stringValue", "")
    if type_name in ("timestamp", "timestamptz"):
        return datetime.fromisoformat(text)
    if type_name == "date":
        return date.fromisoformat(text)
    if type_name == "numeric":
        return Decimal(text)
    return text


def _client_error(error: ClientError) -> str:
    details = error.response.get("Error", {})
    message = " ".join(str(details.get("Message", error)).split())
    return f"{details.get('Code', 'Error')}: {message}"
