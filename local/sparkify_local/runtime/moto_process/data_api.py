"""Runs inside the moto server process: the Redshift Data API, answered by the home's warehouse.

moto's own ``redshift-data`` runs no SQL: a statement stays STARTED for ever and every result is
the same three fixed rows (moto 5.2.5 ``redshiftdata/models.py``). The CLI's ``--stack`` path
would be untestable against it, so this double answers the four operations the CLI uses
(ExecuteStatement, DescribeStatement, GetStatementResult, CancelStatement) by running the SQL on
the home's embedded PostgreSQL, and passes every other request on to moto.

Each behaviour replays the API reference (botocore's ``redshift-data`` service model and the
Management Guide's "Using the Amazon Redshift Data API"):
- ExecuteStatement returns an ``Id`` at once and runs the statement in the background, on a
  connection of its own, committed when it ends (the API runs each statement on its own; a
  session is kept only with SessionKeepAliveSeconds, which the CLI never asks for).
- Exactly one of ClusterIdentifier and WorkgroupName, and Database, are required
  (ValidationException otherwise); named parameters ``:name`` take string values that the
  warehouse converts ("Amazon Redshift implicitly converts to the proper data type").
- DescribeStatement: Status SUBMITTED, then STARTED, then FINISHED, FAILED (``Error`` holds the
  warehouse's message) or ABORTED; ``HasResultSet``, ``ResultRows``, ``Duration`` (ns),
  ``RedshiftPid``, ``QueryString``.
- GetStatementResult: ``Records`` of typed fields (``isNull``, ``longValue``, ``doubleValue``,
  ``booleanValue``, ``stringValue``, ``blobValue``), ``ColumnMetadata`` (name, label,
  typeName), ``TotalNumRows``, and ``NextToken`` for the next page.
- CancelStatement stops a SUBMITTED or STARTED statement; for one that ended it is a
  ValidationException; an unknown Id is a ResourceNotFoundException ("Query does not exist.").
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg

from sparkify_local.home import Home

TARGET_PREFIX = "RedshiftData."
RECORDS_PER_PAGE = 500  # small enough that the CLI's results really page


class ApiError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Statement:
    id: str
    sql: str
    parameters: dict[str, str]
    request: dict[str, Any]
    status: str = "SUBMITTED"
    error: str | None = None
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    started_ns: int = field(default_factory=time.monotonic_ns)
    duration_ns: int = -1
    pid: int = 0
    columns: list[tuple[str, str]] = field(default_factory=list)  # name, type name
    records: list[list[dict[str, Any]]] | None = None
    result_rows: int = -1
    connection: psycopg.Connection | None = None

    def describe(self) -> dict[str, Any]:
        described = {
            "Id": self.id,
            "Status": self.status,
            "QueryString": self.sql,
            "CreatedAt": self.created,
            "UpdatedAt": self.updated,
            "Duration": self.duration_ns,
            "RedshiftPid": self.pid,
            "HasResultSet": self.records is not None,
            "ResultRows": self.result_rows,
            **self.request,
        }
        if self.error is not None:
            described["Error"] = self.error
        return described


class DataApiDouble:
    """WSGI middleware: Data API requests are answered here, everything else goes to moto."""

    def __init__(self, app: Callable[..., Iterable[bytes]], home: Home) -> None:
        self._app = app
        self._home = home
        self._statements: dict[str, Statement] = {}
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith(TARGET_PREFIX):
            return self._app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.loads(environ["wsgi.input"].read(length) or b"{}")
        operations = {
            "ExecuteStatement": self._execute,
            "DescribeStatement": self._describe,
            "GetStatementResult": self._result,
            "CancelStatement": self._cancel,
        }
        operation = operations.get(target.removeprefix(TARGET_PREFIX))
        try:
            if operation is None:
                raise ApiError("UnknownOperationException", f"not in the local double: {target}")
            status, payload = "200 OK", operation(body)
        except ApiError as error:
            status, payload = "400 Bad Request", {"__type": error.code, "message": str(error)}
        data = json.dumps(payload).encode()
        start_response(
            status,
            [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(data)))],
        )
        return [data]

    def _statement(self, body: dict[str, Any]) -> Statement:
        with self._lock:
            statement = self._statements.get(body.get("Id", ""))
        if statement is None:
            raise ApiError("ResourceNotFoundException", "Query does not exist.")
        return statement

    def _execute(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("Database"):
            raise ApiError("ValidationException", "Database is required")
        addressed = [name for name in ("ClusterIdentifier", "WorkgroupName") if body.get(name)]
        if len(addressed) != 1:
            raise ApiError(
                "ValidationException", "Either ClusterIdentifier or WorkgroupName is required"
            )
        request = {
            name: body[name]
            for name in ("ClusterIdentifier", "WorkgroupName", "Database", "SecretArn", "DbUser")
            if body.get(name)
        }
        parameters = {p["name"]: p["value"] for p in body.get("Parameters", [])}
        statement = Statement(str(uuid.uuid4()), body["Sql"], parameters, request)
        with self._lock:
            self._statements[statement.id] = statement
        threading.Thread(target=self._run, args=(statement,), daemon=True).start()
        return {"Id": statement.id, "CreatedAt": statement.created, **request}

    def _run(self, statement: Statement) -> None:
        url = self._home.read_state()["warehouse_url"]
        try:
            with psycopg.connect(url, autocommit=True) as connection:
                statement.connection = connection
                statement.pid = connection.info.backend_pid
                if statement.status == "ABORTED":  # cancelled before it started
                    return
                statement.status = "STARTED"
                with connection.cursor() as cursor:
                    sql, params = _pyformat(statement.sql, statement.parameters)
                    cursor.execute(sql, params)
                    if cursor.description is not None:
                        types = connection.adapters.types
                        statement.columns = [
                            (column.name, _type_name(types.get(column.type_code)))
                            for column in cursor.description
                        ]
                        statement.records = [[_field(v) for v in row] for row in cursor.fetchall()]
                    statement.result_rows = cursor.rowcount
            if statement.status != "ABORTED":
                statement.status = "FINISHED"
        except psycopg.Error as error:
            if statement.status != "ABORTED":
                statement.status = "FAILED"
                message = error.diag.message_primary or str(error)
                statement.error = f"ERROR: {message}"
        finally:
            statement.connection = None
            statement.duration_ns = time.monotonic_ns() - statement.started_ns
            statement.updated = time.time()

    def _describe(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._statement(body).describe()

    def _result(self, body: dict[str, Any]) -> dict[str, Any]:
        statement = self._statement(body)
        if statement.status != "FINISHED" or statement.records is None:
            raise ApiError(
                "ValidationException",
                f"Query does not have result. Please check query status with DescribeStatement "
                f"(status {statement.status})",
            )
        start = int(body.get("NextToken") or 0)
        end = start + RECORDS_PER_PAGE
        page: dict[str, Any] = {
            "Records": statement.records[start:end],
            "ColumnMetadata": [
                {"name": name, "label": name, "typeName": type_name}
                for name, type_name in statement.columns
            ],
            "TotalNumRows": len(statement.records),
        }
        if end < len(statement.records):
            page["NextToken"] = str(end)
        return page

    def _cancel(self, body: dict[str, Any]) -> dict[str, Any]:
        statement = self._statement(body)
        if statement.status not in ("SUBMITTED", "STARTED"):
            raise ApiError(
                "ValidationException",
                f"Could not cancel a query that is already in {statement.status} state "
                f"with ID: {statement.id}",
            )
        statement.status = "ABORTED"
        if (connection := statement.connection) is not None:
            connection.cancel_safe()
        return {"Status": True}


def _pyformat(sql: str, parameters: dict[str, str]) -> tuple[str, dict[str, str] | None]:
    """``:name`` placeholders as psycopg's ``%(name)s`` (a ``::`` cast is not a placeholder)."""
    if not parameters:
        return sql, None
    escaped = sql.replace("%", "%%")
    for name in parameters:
        escaped = re.sub(rf"(?<![:\w]):{re.escape(name)}\b", f"%({name})s", escaped)
    return escaped, parameters


def _type_name(info: Any) -> str:
    return info.name if info is not None else "unknown"


def _field(value: Any) -> dict[str, Any]:
    if value is None:
        return {"isNull": True}
    if isinstance(value, bool):
        return {"booleanValue": value}
    if isinstance(value, int):
        return {"longValue": value}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, bytes):
        return {"blobValue": base64.b64encode(value).decode()}
    if isinstance(value, datetime):
        return {"stringValue": value.isoformat(sep=" ")}
    if isinstance(value, (date, Decimal)):
        return {"stringValue": str(value)}
    return {"stringValue": str(value)}
