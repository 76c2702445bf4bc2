"""PostgreSQL engine (psycopg 3): the local stand-in for Redshift.

Runs its transactions at the isolation level Redshift databases run: SNAPSHOT (Redshift's
default since 2024; PostgreSQL's REPEATABLE READ is snapshot isolation) or SERIALIZABLE, so
concurrent stage batches meet the same races locally as in production. COPY from S3 is emulated
by ``json_copy``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

import psycopg
from psycopg import IsolationLevel, sql

from sparkify_loader.sqlfiles import render_sql, schema_files, to_postgres
from sparkify_loader.warehouse.base import FileLoad, ObjectVersion, Session, Warehouse
from sparkify_loader.warehouse.errors import (
    SerializationConflict,
    TransientWarehouseError,
    WarehouseError,
)
from sparkify_loader.warehouse.json_copy import S3JsonCopy
from sparkify_loader.warehouse.migrations import add_missing_columns

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from sparkify_loader.datasets import Dataset
    from sparkify_loader.events import LandedObject

Isolation = Literal["snapshot", "serializable"]
ISOLATION_LEVELS: dict[Isolation, IsolationLevel] = {
    "snapshot": IsolationLevel.REPEATABLE_READ,
    "serializable": IsolationLevel.SERIALIZABLE,
}

# One schema change at a time: two processes creating the same table race on the catalog.
_SCHEMA_LOCK_ID = 0x5350_4B59


@contextmanager
def _translated_errors() -> Iterator[None]:
    """Driver errors become the project's own at this boundary."""
    try:
        yield
    except (psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected) as error:
        raise SerializationConflict(str(error).strip()) from error
    except psycopg.OperationalError as error:
        raise TransientWarehouseError(str(error).strip()) from error
    except psycopg.Error as error:
        raise WarehouseError(str(error).strip()) from error


class PostgresSession(Session):
    def __init__(self, connection: psycopg.Connection, s3: S3Client) -> None:
        self.connection = connection
        self._s3_copy = S3JsonCopy(connection, s3)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        prepared = self._s3_copy.checkpoint()
        try:
            with _translated_errors(), self.connection.transaction():
                yield
        except BaseException:
            self._s3_copy.restore(prepared)  # rows prepared inside went with the rollback
            raise
        with _translated_errors():
            self._s3_copy.release()  # committed: the prepared rows were moved or are not needed

    def execute(self, statement: str, params: Mapping[str, Any] | None = None) -> int:
        with _translated_errors(), self.connection.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.rowcount

    def query(self, statement: str, params: Mapping[str, Any] | None = None) -> list[tuple]:
        with _translated_errors(), self.connection.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall()

    def prepare_staging(self, dataset: Dataset, objects: Sequence[LandedObject]) -> None:
        with _translated_errors():
            self._s3_copy.prepare(dataset, objects)

    def copy_into_staging(
        self, dataset: Dataset, objects: Sequence[LandedObject], load_id: str
    ) -> dict[ObjectVersion, FileLoad]:
        with _translated_errors():
            return self._s3_copy.copy(dataset, objects, load_id)

    def reclaim_space(self, table: str) -> None:
        # Finalize deletes a whole merge's staging rows; until autovacuum comes by, every scan of
        # the next (small) batch would still read the dead ones, so cost would follow history.
        with _translated_errors():
            self.connection.execute(sql.SQL("VACUUM {}").format(sql.Identifier(table)))

    def apply_schema(self) -> None:
        with self.transaction():
            self.execute("SELECT pg_advisory_xact_lock(%(id)s)", {"id": _SCHEMA_LOCK_ID})
            for name in schema_files():
                for statement in to_postgres(render_sql(name)):
                    self.execute(statement)
            add_missing_columns(self)

    def close(self) -> None:
        self.connection.close()


class PostgresWarehouse(Warehouse):
    """Sessions on one PostgreSQL URL; the COPY emulation reads S3 through the given client,
    which outlives every session (whoever made it closes it)."""

    def __init__(self, url: str, *, s3: S3Client, isolation: Isolation = "snapshot") -> None:
        super().__init__()
        self._url = url
        self._s3 = s3
        self._isolation = ISOLATION_LEVELS[isolation]

    def _open(self) -> Session:
        with _translated_errors():
            connection = psycopg.connect(self._url, autocommit=True)
        # Autocommit outside explicit transaction() blocks; Redshift's level inside them.
        connection.isolation_level = self._isolation
        return PostgresSession(connection, self._s3)

    def _is_usable(self, session: Session) -> bool:
        assert isinstance(session, PostgresSession)
        if session.connection.closed or session.connection.broken:
            return False
        # A warm function's connection may have outlived a warehouse restart, and psycopg only
        # finds out on the next statement. Each warm environment would then fail one
        # invocation (a merge step retried once per stale worker: 14 s of backoff, measured).
        # A round trip to a local server costs well under a millisecond, so ask every time.
        try:
            with session.connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True
