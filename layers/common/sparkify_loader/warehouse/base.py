"""The data-access boundary: one small interface, two engines (Redshift and PostgreSQL)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from sparkify_loader.datasets import Dataset
    from sparkify_loader.events import LandedObject

FileStatus = Literal["staged", "rejected", "superseded", "missing"]
ObjectVersion = tuple[str, str, str]  # bucket, key, etag


@dataclass(frozen=True)
class FileLoad:
    """What COPY made of one file: its rows, or why it was not loaded."""

    status: FileStatus
    rows: int = 0
    error: str | None = None
    # False when the engine loaded the file with others and could not count its own rows (the
    # ledger then records NULL rows; ``rows`` is 0).
    counted: bool = True

    @classmethod
    def staged(cls, rows: int) -> FileLoad:
        return cls("staged", rows)

    @classmethod
    def staged_uncounted(cls) -> FileLoad:
        return cls("staged", 0, counted=False)

    @property
    def ledger_rows(self) -> int | None:
        return self.rows if self.counted else None

    @classmethod
    def rejected(cls, reason: str) -> FileLoad:
        return cls("rejected", 0, reason)


class Session(ABC):
    """One open connection. Statements use pyformat parameters (``%(name)s``)."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """Commit on success, roll back on any exception."""

    @abstractmethod
    def execute(self, statement: str, params: Mapping[str, Any] | None = None) -> int:
        """Run one statement; return the number of rows it affected."""

    @abstractmethod
    def query(self, statement: str, params: Mapping[str, Any] | None = None) -> list[tuple]:
        """Run one query; return all its rows."""

    def prepare_staging(self, dataset: Dataset, objects: Sequence[LandedObject]) -> None:  # noqa: B027 - optional hook
        """Do the part of a later ``copy_into_staging`` of these objects that does not depend
        on the ledger, before the stage transaction takes the ledger lock. Optional: the
        PostgreSQL emulation reads and parses the files here; Redshift's COPY reads S3 itself,
        inside the transaction, and prepares nothing."""

    @abstractmethod
    def copy_into_staging(
        self, dataset: Dataset, objects: Sequence[LandedObject], load_id: str
    ) -> dict[ObjectVersion, FileLoad]:
        """COPY the objects into the dataset's staging table, tagging rows with load_id.

        Returns one FileLoad per object. Must run inside ``transaction()``. May raise
        RetryWithout when bad files or a failed diagnostic read spoiled the transaction
        (Redshift).
        """

    @abstractmethod
    def reclaim_space(self, table: str) -> None:
        """Make a table's deleted rows cheap to scan again, after a bulk delete (outside any
        transaction)."""

    @abstractmethod
    def apply_schema(self) -> None:
        """Create every table of sql/schema that does not exist yet (idempotent)."""

    @abstractmethod
    def close(self) -> None: ...


class Warehouse(ABC):
    """Hands out a session, reused across invocations of a warm Lambda."""

    def __init__(self) -> None:
        self._session: Session | None = None

    @abstractmethod
    def _open(self) -> Session: ...

    @abstractmethod
    def _is_usable(self, session: Session) -> bool: ...

    def session(self) -> Session:
        if self._session is None or not self._is_usable(self._session):
            if self._session is not None:
                self._session.close()
            self._session = self._open()
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None
