"""redshift-connector's errors become the project's own at this boundary (warehouse.errors)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import redshift_connector

from sparkify_loader.warehouse.errors import (
    SerializationConflict,
    TransientWarehouseError,
    WarehouseError,
)

_AUTH_FAILURE = "28000"
_INSUFFICIENT_PRIVILEGE = "42501"
_SERIALIZATION_VIOLATION = "serializable isolation violation"
# Under SNAPSHOT isolation a lost write race reads so (no documented SQLSTATE: consumers such as
# dbt-adapters PR #1873 match the text).
_SNAPSHOT_CONFLICT = "could not complete because of conflict with concurrent transaction"
# Deadlock (tables written in different orders) and PostgreSQL's serialization failure: both
# mean "a concurrent transaction won, run again".
_RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
_SERIALIZATION_CODE = re.compile(r"^\s*(?:ERROR:\s*)?1023\b")


class ObjectChangedDuringCopy(SerializationConflict):
    """An object was overwritten or deleted between the pre-check and the end of its COPY.

    COPY cannot pin an object version, so nobody knows which bytes it read. Like a lost
    serialization race, the transaction is rolled back and run again; the next pre-check then
    classifies the object as superseded or missing, and its newer version loads on its own event.
    """


def _error_fields(error: BaseException) -> dict[str, str]:
    """The server's ErrorResponse fields (S, C, M, D, …) the driver puts in args[0], if any."""
    first = error.args[0] if error.args else None
    return {str(k): str(v) for k, v in first.items()} if isinstance(first, dict) else {}


def describe_error(error: BaseException) -> str:
    """A readable one-line message: Redshift's message and detail, not the driver's dict."""
    fields = _error_fields(error)
    if fields:
        message = fields.get("M", "").strip()
        detail = fields.get("D", "").strip()
        return f"{message} DETAIL: {detail}" if detail else message or str(fields)
    return ": ".join(str(arg) for arg in error.args).strip() or type(error).__name__


def is_serialization_violation(error: BaseException) -> bool:
    """Whether a concurrent transaction won and running again may succeed: Redshift's
    ``ERROR: 1023 DETAIL: Serializable isolation violation on table …`` (SERIALIZABLE; the code
    sits in the message field, not the SQLSTATE), ``could not complete because of conflict with
    concurrent transaction`` (SNAPSHOT), and deadlocks (40P01)."""
    fields = _error_fields(error)
    message = fields.get("M", "") if fields else describe_error(error)
    texts = [text.lower() for text in (fields.values() if fields else [message])]
    return (
        bool(_SERIALIZATION_CODE.match(message))
        or fields.get("C") in _RETRYABLE_SQLSTATES
        or any(_SERIALIZATION_VIOLATION in text or _SNAPSHOT_CONFLICT in text for text in texts)
    )


def is_auth_failure(error: BaseException) -> bool:
    return _error_fields(error).get("C") == _AUTH_FAILURE


def is_insufficient_privilege(error: BaseException | None) -> bool:
    """42501: e.g. Serverless refusing a provisioned-only STL view to a non-superuser."""
    return error is not None and _error_fields(error).get("C") == _INSUFFICIENT_PRIVILEGE


def translate_error(error: BaseException) -> WarehouseError:
    """The project's exception for a driver (or socket) error."""
    message = describe_error(error)
    if is_serialization_violation(error):
        return SerializationConflict(message)
    if isinstance(
        error, redshift_connector.InterfaceError | redshift_connector.OperationalError | OSError
    ):
        return TransientWarehouseError(message)
    return WarehouseError(message)


@contextmanager
def translated_errors() -> Iterator[None]:
    """Driver errors become the project's own at this boundary."""
    try:
        yield
    except (redshift_connector.Error, OSError) as error:
        raise translate_error(error) from error
