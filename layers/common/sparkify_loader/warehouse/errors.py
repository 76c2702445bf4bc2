"""The warehouse boundary's own exceptions: driver errors never leak past the engines."""

from __future__ import annotations


class WarehouseError(RuntimeError):
    """A warehouse operation failed and retrying it as is will not help."""


class TransientError(RuntimeError):
    """A fault that a later attempt may not meet: connection loss, throttling, S3 hiccups."""


class TransientWarehouseError(TransientError, WarehouseError):
    """The warehouse was unreachable or shut the connection mid-way."""


class SerializationConflict(TransientWarehouseError):
    """A concurrent transaction won: Redshift 1023 (SERIALIZABLE), its SNAPSHOT write conflict,
    a deadlock (40P01); PostgreSQL 40001 / 40P01. Running the transaction again may succeed."""


class RetryWithout(WarehouseError):
    """The engine's transaction was spoiled (any error aborts a Redshift transaction): by bad
    files, which the caller reruns the transaction without, or by a failed diagnostic read,
    which the engine leaves out of the rerun itself (no rejections then)."""

    def __init__(self, rejections: dict[tuple[str, str, str], str], reason: str = "") -> None:
        super().__init__(reason or f"{len(rejections)} file(s) rejected by COPY")
        self.rejections = rejections
