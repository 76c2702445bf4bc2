"""Redshift's ``COPY … FORMAT JSON`` from S3, emulated on PostgreSQL.

Python streams each object from S3 and checks what PostgreSQL cannot be trusted with (UTF-8,
NUL bytes, the 4 MB object limit). Then each line takes one of two paths (``json_typing``):
- the lines msgspec can type by Redshift's rules plainly go as typed rows into one binary
  ``COPY`` (every line of well-formed data);
- every other line goes, raw, to ``COPY copy_lines FROM STDIN``; PostgreSQL parses those with
  ``json_to_record`` and casts them in one ``INSERT … SELECT``, or finds why they are bad.

Redshift's typing rules kept: JSONPaths or 'auto' (exact, case-sensitive key names), empty
string as NULL for every type, ``TIMEFORMAT 'epochmillisecs'`` for TIMESTAMP columns, VARCHAR
lengths in bytes (not characters), no NaN/Infinity, unknown keys ignored, missing keys NULL.

Bad files: the optimistic INSERT of the raw lines runs under a savepoint. When it fails (or
skips rows that break a byte-length rule), set-based diagnosis queries find the first bad line of
every bad file, with the field and the reason, and the INSERT runs again without those files. A
typed line is a good line, so a file's first bad line is always among its raw ones.

Two phases, so the ledger lock is held only for the cheap one: ``prepare`` (before the stage
transaction) reads the objects, parses and types their rows into a temporary table of this
session; ``copy`` (inside the transaction, after ``LOCK load_ledger``) moves the typed rows of
the objects the ledger does not know yet into the staging table, tagged with the load. Reading
and parsing a batch took all of a batch's time under the lock, so concurrent batches ran one
after another (issue 14's profile: the 100-song batch beside the 110 MB log batch waited 8 s). A
temporary table outlives a rolled-back transaction, so a retried transaction reuses the rows;
objects ``copy`` meets unprepared (a caller that skipped ``prepare``) are prepared on the spot.
"""

from __future__ import annotations

import tempfile
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

import psycopg
from botocore.exceptions import BotoCoreError, ClientError
from botocore.response import StreamingBody
from psycopg import sql

from sparkify_loader.datasets import MAX_JSON_OBJECT_BYTES, Dataset
from sparkify_loader.warehouse.base import FileLoad, ObjectVersion
from sparkify_loader.warehouse.errors import WarehouseError
from sparkify_loader.warehouse.json_typing import Column, RowTyper
from sparkify_loader.warehouse.s3 import (
    S3_READ_CONCURRENCY,
    transient_s3_errors,
    unreadable_version,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from sparkify_loader.events import LandedObject

LOAD_ID_COLUMN = "load_id"
# Which file of the load a row came from: the object's position in the batch (load_ledger.file_no).
FILE_NO_COLUMN = "file_no"
CHUNK_BYTES = 1 << 20
# Objects up to this size are read whole by the prefetching threads; larger ones are streamed.
PREFETCH_MAX_BYTES = 1 << 20
# Half the S3 client's pool: a large object's opened body holds its connection while it streams.
PREFETCH_AHEAD = S3_READ_CONCURRENCY // 2
# Raw lines for the SQL path beyond this size wait on disk: a batch of data the typer declines
# whole (a new column type, say) must not hold its raw text in memory.
SPOOL_MEMORY_BYTES = 8 << 20


class S3JsonCopy:
    """COPY JSON files from S3 into a staging table, per Redshift's rules (see module doc)."""

    def __init__(
        self, connection: psycopg.Connection, s3: S3Client, *, typed_path: bool = True
    ) -> None:
        """``typed_path=False``: every line takes the SQL path (a test compares the two)."""
        self._connection = connection
        self._s3 = s3
        self._typed_path = typed_path
        self._columns: dict[tuple[str, tuple[str, ...] | None], list[Column]] = {}
        self._typers: dict[tuple[str, tuple[str, ...] | None], RowTyper | None] = {}
        self._prepared: dict[ObjectVersion, _Prepared] = {}
        # Only ever grows: rows a failed preparation left in a table never share a number with
        # rows prepared later.
        self._next_prep_no = 0

    def prepare(self, dataset: Dataset, objects: Sequence[LandedObject]) -> None:
        """Read, parse and type the objects' rows ahead of ``copy``, replacing what was prepared
        for the dataset before. Called outside a transaction, the rows survive its rollback."""
        self._forget(dataset.staging_table)
        self._prepare_more(dataset, objects)

    def release(self) -> None:
        """Drop every prepared row: after a commit they were moved, or are not needed (a warm
        session would otherwise keep a 110 MB batch's rows in temporary files until its next
        batch). A later ``copy`` prepares on the spot what it then meets."""
        for table in {prepared.table for prepared in self._prepared.values()}:
            self._forget(table)

    def _forget(self, staging_table: str) -> None:
        """Drop the rows prepared for a staging table, and their entries."""
        self._connection.execute(
            sql.SQL("DROP TABLE IF EXISTS {}").format(_prepared_table(staging_table))
        )
        self._prepared = {
            version: prepared
            for version, prepared in self._prepared.items()
            if prepared.table != staging_table
        }

    def copy(
        self, dataset: Dataset, objects: Sequence[LandedObject], load_id: str
    ) -> dict[ObjectVersion, FileLoad]:
        """Move the objects' prepared rows into the staging table; each row's file number is
        its object's position in ``objects``, as the ledger numbers it."""
        unprepared = [obj for obj in objects if obj.version not in self._prepared]
        if unprepared:
            self._prepare_more(dataset, unprepared)
        prepared = [self._prepared[obj.version] for obj in objects]
        moved = [
            (entry.prep_no, file_no)
            for file_no, entry in enumerate(prepared)
            if entry.outcome.status == "staged" and entry.outcome.rows
        ]
        expected = sum(entry.outcome.rows for entry in prepared if entry.outcome.status == "staged")
        if moved:
            columns = self._staging_columns(dataset)
            inserted = self._connection.execute(
                self._move_statement(dataset, columns),
                {
                    "load_id": load_id,
                    "prep_nos": [prep_no for prep_no, _ in moved],
                    "file_nos": [file_no for _, file_no in moved],
                },
            ).rowcount
            if inserted != expected:
                raise WarehouseError(
                    f"emulated COPY into {dataset.staging_table} moved {inserted} rows, "
                    f"expected {expected}"
                )
        return {obj.version: entry.outcome for obj, entry in zip(objects, prepared, strict=True)}

    def checkpoint(self) -> dict[ObjectVersion, _Prepared]:
        """What is prepared now; ``restore`` it when a transaction rolls back, which takes the
        rows prepared inside it along."""
        return dict(self._prepared)

    def restore(self, checkpoint: dict[ObjectVersion, _Prepared]) -> None:
        self._prepared = checkpoint

    def _prepare_more(self, dataset: Dataset, objects: Sequence[LandedObject]) -> None:
        columns = self._staging_columns(dataset)
        typer = self.row_typer(dataset) if self._typed_path else None
        self._prepare_tables(dataset)
        first = self._next_prep_no
        self._next_prep_no += len(objects)
        outcomes: dict[int, FileLoad] = {}
        with (
            self._connection.cursor() as cursor,
            tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES) as spool,
        ):
            with cursor.copy(self._typed_copy_statement(dataset, columns)) as copy:
                if typer is not None:
                    copy.set_types([*typer.copy_types, "int4"])
                sink = _Sink(typer, copy, spool)
                for prep_no, (obj, opened) in enumerate(self._prefetched(objects), start=first):
                    outcomes[prep_no] = self._write_object(sink, prep_no, obj, opened, dataset)
            if sink.declined:
                with cursor.copy("COPY copy_lines (file_no, line_no, doc) FROM STDIN") as copy:
                    sink.send_declined(copy)
            bad = self._insert(cursor, dataset, columns, outcomes, sink.declined)
        self._connection.execute("TRUNCATE copy_lines")  # the raw text is not needed any more
        for prep_no, reason in bad.items():
            outcomes[prep_no] = FileLoad.rejected(reason)
        for prep_no, obj in enumerate(objects, start=first):
            outcome = outcomes[prep_no]
            self._prepared[obj.version] = _Prepared(dataset.staging_table, prep_no, outcome)

    # -- reading S3 ---------------------------------------------------------------------------

    def _prefetched(
        self, objects: Sequence[LandedObject]
    ) -> Iterator[tuple[LandedObject, FileLoad | bytes | StreamingBody]]:
        """The objects in order, fetched a few ahead by a thread pool.

        A batch is mostly small files (one song each), where S3's per-request latency, not
        bandwidth, is the cost; a bounded look-ahead hides it and bounds memory at
        PREFETCH_AHEAD small bodies. Large objects are opened ahead but streamed in order.
        """
        with ThreadPoolExecutor(PREFETCH_AHEAD) as readers:
            pending: deque[tuple[LandedObject, Future[FileLoad | bytes | StreamingBody]]] = deque()
            for obj in objects:
                pending.append((obj, readers.submit(self._fetch, obj)))
                if len(pending) >= PREFETCH_AHEAD:
                    obj_ahead, future = pending.popleft()
                    yield obj_ahead, future.result()
            while pending:
                obj_ahead, future = pending.popleft()
                yield obj_ahead, future.result()

    def _fetch(self, obj: LandedObject) -> FileLoad | bytes | StreamingBody:
        """GET one object version: its bytes when small, else its open stream, or why not."""
        try:
            # IfMatch pins the version the event announced: if the key was overwritten since,
            # that newer version's own event will load it.
            body = self._s3.get_object(Bucket=obj.bucket, Key=obj.key, IfMatch=obj.etag)["Body"]
        except (ClientError, BotoCoreError) as error:
            return unreadable_version(error, f"GetObject {obj.key!r}")
        if obj.size > PREFETCH_MAX_BYTES:
            return body
        try:
            with transient_s3_errors(f"read of {obj.key!r}"):
                return body.read(MAX_JSON_OBJECT_BYTES + 1)
        finally:
            body.close()

    def _write_object(
        self,
        sink: _Sink,
        file_no: int,
        obj: LandedObject,
        opened: FileLoad | bytes | StreamingBody,
        dataset: Dataset,
    ) -> FileLoad:
        if isinstance(opened, FileLoad):
            return opened
        if isinstance(opened, bytes):
            if dataset.one_object_per_file:
                return self._write_document(sink, file_no, opened)
            return self._write_lines(sink, file_no, [opened])
        try:
            with transient_s3_errors(f"read of {obj.key!r}"):
                if dataset.one_object_per_file:
                    document = opened.read(MAX_JSON_OBJECT_BYTES + 1)
                    return self._write_document(sink, file_no, document)
                return self._write_lines(sink, file_no, opened.iter_chunks(CHUNK_BYTES))
        finally:
            opened.close()

    def _write_document(self, sink: _Sink, file_no: int, data: bytes) -> FileLoad:
        if len(data) > MAX_JSON_OBJECT_BYTES:
            return FileLoad.rejected(_too_large(1))
        # One JSON object per file, however it is laid out: newlines are JSON whitespace.
        problem = _unsafe_bytes(data, 1)
        if problem:
            return FileLoad.rejected(problem)
        if not data.strip():
            return FileLoad.staged(0)  # an empty file is a valid file with no rows
        sink.line(file_no, 1, data)
        return FileLoad.staged(1)

    def _write_lines(self, sink: _Sink, file_no: int, chunks: Iterable[bytes]) -> FileLoad:
        rows = 0
        next_line_no = 1
        carry = b""
        for chunk in chunks:
            block = carry + chunk
            cut = block.rfind(b"\n")
            if cut < 0:
                carry = block
                if len(carry) > MAX_JSON_OBJECT_BYTES:
                    return FileLoad.rejected(_too_large(next_line_no))
                continue
            carry = block[cut + 1 :]
            written, problem = self._write_block(sink, file_no, block[:cut], next_line_no)
            if problem:
                return FileLoad.rejected(problem)
            rows += written
            next_line_no += block.count(b"\n", 0, cut) + 1
        if carry:
            written, problem = self._write_block(sink, file_no, carry, next_line_no)
            if problem:
                return FileLoad.rejected(problem)
            rows += written
        return FileLoad.staged(rows)

    @staticmethod
    def _write_block(
        sink: _Sink, file_no: int, block: bytes, first_line_no: int
    ) -> tuple[int, str | None]:
        problem = _unsafe_bytes(block, first_line_no)
        if problem:
            return 0, problem
        lines = block.split(b"\n")
        if max(map(len, lines)) > MAX_JSON_OBJECT_BYTES:
            longest = max(range(len(lines)), key=lambda index: len(lines[index]))
            return 0, _too_large(first_line_no + longest)
        rows = 0
        for index, line in enumerate(lines):
            if line.strip():
                sink.line(file_no, first_line_no + index, line)
                rows += 1
        return rows, None

    # -- loading in PostgreSQL ----------------------------------------------------------------

    def _prepare_tables(self, dataset: Dataset) -> None:
        """The raw lines' table, emptied, and the dataset's prepared rows' table (the staging
        table's columns, without its constraints: the load is not known yet)."""
        self._connection.execute(
            "CREATE TEMP TABLE IF NOT EXISTS copy_lines"
            " (file_no integer, line_no integer, doc text)"
        )
        self._connection.execute("TRUNCATE copy_lines")
        self._connection.execute(
            sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {} AS SELECT * FROM {} WITH NO DATA").format(
                _prepared_table(dataset.staging_table), sql.Identifier(dataset.staging_table)
            )
        )

    def _staging_columns(self, dataset: Dataset) -> list[Column]:
        cache_key = (dataset.staging_table, dataset.json_keys())
        if cache_key not in self._columns:
            rows = self._connection.execute(
                "SELECT column_name, data_type, character_maximum_length"
                " FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND table_name = %s"
                " ORDER BY ordinal_position",
                (dataset.staging_table,),
            ).fetchall()
            names = [row for row in rows if row[0] not in (LOAD_ID_COLUMN, FILE_NO_COLUMN)]
            keys = dataset.json_keys() or tuple(row[0] for row in names)
            if len(keys) != len(names):
                raise WarehouseError(
                    f"{dataset.staging_table} has {len(names)} columns but the JSON mapping "
                    f"names {len(keys)}"
                )
            self._columns[cache_key] = [
                Column(name, key, data_type, max_len)
                for (name, data_type, max_len), key in zip(names, keys, strict=True)
            ]
        return self._columns[cache_key]

    def row_typer(self, dataset: Dataset) -> RowTyper | None:
        """What types the dataset's lines in Python (None: its columns are beyond the rules)."""
        cache_key = (dataset.staging_table, dataset.json_keys())
        if cache_key not in self._typers:
            self._typers[cache_key] = RowTyper.for_columns(self._staging_columns(dataset))
        return self._typers[cache_key]

    @staticmethod
    def _typed_copy_statement(dataset: Dataset, columns: list[Column]) -> sql.Composed:
        return sql.SQL("COPY {table} ({columns}, {file_no}) FROM STDIN (FORMAT BINARY)").format(
            table=_prepared_table(dataset.staging_table),
            columns=sql.SQL(", ").join(sql.Identifier(column.name) for column in columns),
            file_no=sql.Identifier(FILE_NO_COLUMN),
        )

    def _insert(
        self,
        cursor: psycopg.Cursor,
        dataset: Dataset,
        columns: list[Column],
        outcomes: dict[int, FileLoad],
        declined: dict[int, int],
    ) -> dict[int, str]:
        """Type the raw lines of every good file into the prepared table; return the files found
        bad, with their reasons. ``declined``: how many raw lines each file has."""
        excluded = [file_no for file_no, outcome in outcomes.items() if outcome.status != "staged"]
        expected = sum(
            lines for file_no, lines in declined.items() if outcomes[file_no].status == "staged"
        )
        if expected == 0:
            return {}
        statement = self._insert_statement(dataset, columns)
        params: dict[str, Any] = {"excluded": excluded}
        try:
            with self._connection.transaction():  # a savepoint: a bad file spoils only this try
                cursor.execute(statement, params)
                if cursor.rowcount != expected:
                    raise _RowsFiltered
            return {}
        except (_RowsFiltered, psycopg.DataError):  # SQLSTATE class 22: a value did not fit
            pass
        bad = self._diagnose(cursor, columns, excluded)
        if not bad:
            raise WarehouseError(f"emulated COPY into {dataset.staging_table} failed undiagnosed")
        params["excluded"] = excluded + list(bad)
        cursor.execute(statement, params)
        still_expected = sum(
            lines
            for file_no, lines in declined.items()
            if outcomes[file_no].status == "staged" and file_no not in bad
        )
        if cursor.rowcount != still_expected:
            raise WarehouseError(
                f"emulated COPY into {dataset.staging_table} wrote {cursor.rowcount} rows, "
                f"expected {still_expected}"
            )
        return bad

    @staticmethod
    def _record_source(columns: list[Column]) -> sql.Composable:
        definitions = sql.SQL(", ").join(
            sql.SQL("{} text").format(sql.Identifier(column.json_key)) for column in columns
        )
        return sql.SQL("copy_lines AS l, json_to_record(l.doc::json) AS r({})").format(definitions)

    def _insert_statement(self, dataset: Dataset, columns: list[Column]) -> sql.Composed:
        guards = [guard for column in columns if (guard := column.guard()) is not None]
        # json_to_record raises on a line that is not an object: the diagnosis names it.
        condition = sql.SQL(" AND ").join([sql.SQL("l.file_no <> ALL(%(excluded)s)"), *guards])
        return sql.SQL(
            "INSERT INTO {table} ({columns}, {file_no})"
            " SELECT {values}, l.file_no FROM {source} WHERE {condition}"
        ).format(
            table=_prepared_table(dataset.staging_table),
            columns=sql.SQL(", ").join(sql.Identifier(column.name) for column in columns),
            file_no=sql.Identifier(FILE_NO_COLUMN),
            values=sql.SQL(", ").join(column.typed() for column in columns),
            source=self._record_source(columns),
            condition=condition,
        )

    @staticmethod
    def _move_statement(dataset: Dataset, columns: list[Column]) -> sql.Composed:
        names = sql.SQL(", ").join(sql.Identifier(column.name) for column in columns)
        return sql.SQL(
            "INSERT INTO {table} ({columns}, {load_id}, {file_no})"
            " SELECT {prepared_columns}, %(load_id)s, m.file_no FROM {prepared} AS p"
            " JOIN unnest(%(prep_nos)s::integer[], %(file_nos)s::integer[]) AS m (prep_no, file_no)"
            " ON p.{file_no} = m.prep_no"
        ).format(
            table=sql.Identifier(dataset.staging_table),
            columns=names,
            load_id=sql.Identifier(LOAD_ID_COLUMN),
            file_no=sql.Identifier(FILE_NO_COLUMN),
            prepared_columns=sql.SQL(", ").join(
                sql.SQL("p.{}").format(sql.Identifier(column.name)) for column in columns
            ),
            prepared=_prepared_table(dataset.staging_table),
        )

    def _diagnose(
        self, cursor: psycopg.Cursor, columns: list[Column], excluded: list[int]
    ) -> dict[int, str]:
        """First bad line of each bad file, with the reason; set-based and exception-free."""
        # CASE, not OR: SQL does not promise to evaluate OR's operands left to right.
        cursor.execute(
            "SELECT DISTINCT ON (file_no) file_no, line_no, problem FROM ("
            " SELECT file_no, line_no, CASE"
            "  WHEN NOT pg_input_is_valid(doc, 'json')"
            "  THEN 'invalid JSON: ' || (pg_input_error_info(doc, 'json')).message"
            "  WHEN json_typeof(doc::json) <> 'object'"
            "  THEN 'is a JSON ' || json_typeof(doc::json) || ', not an object'"
            # Valid JSON that json_to_record cannot turn into text raises instead of being
            # diagnosed below: \u0000, a lone surrogate. jsonb input de-escapes every string as
            # it does, and says why (its other refusals, numeric overflow, are found below).
            "  WHEN NOT pg_input_is_valid(doc, 'jsonb')"
            "  AND (pg_input_error_info(doc, 'jsonb')).sql_error_code IN ('22P02', '22P05')"
            "  THEN 'cannot be stored as text: ' || (pg_input_error_info(doc, 'jsonb')).message"
            "  || COALESCE(': ' || (pg_input_error_info(doc, 'jsonb')).detail, '') END AS problem"
            " FROM copy_lines WHERE file_no <> ALL(%(excluded)s)"
            ") AS checked WHERE problem IS NOT NULL ORDER BY file_no, line_no",
            {"excluded": excluded},
        )
        bad = {file_no: f"line {line_no}: {reason}" for file_no, line_no, reason in cursor}
        problems = [
            sql.SQL("CASE WHEN {problem} IS NOT NULL THEN {key} || ' ' || {problem} END").format(
                problem=column.problem(), key=sql.Literal(f"field {column.json_key!r}")
            )
            for column in columns
        ]
        cursor.execute(
            sql.SQL(
                "SELECT DISTINCT ON (file_no) file_no, line_no, problem FROM ("
                " SELECT l.file_no, l.line_no, COALESCE({problems}) AS problem FROM {source}"
                " WHERE l.file_no <> ALL(%(excluded)s)"
                ") AS checked WHERE problem IS NOT NULL ORDER BY file_no, line_no"
            ).format(problems=sql.SQL(", ").join(problems), source=self._record_source(columns)),
            {"excluded": excluded + list(bad)},
        )
        bad.update({file_no: f"line {line_no}: {reason}" for file_no, line_no, reason in cursor})
        return bad


@dataclass(frozen=True)
class _Prepared:
    """One object version's typed rows in this session's prepared table, and its outcome."""

    table: str  # the staging table the rows are for
    prep_no: int  # their file_no in the prepared table
    outcome: FileLoad


def _prepared_table(staging_table: str) -> sql.Identifier:
    return sql.Identifier(f"prepared_{staging_table}")


class _Sink:
    """Where a batch's lines go: a line the typer can type is a row of the prepared table's
    binary COPY; any other line waits, as COPY text, for ``copy_lines``."""

    def __init__(self, typer: RowTyper | None, typed: psycopg.Copy, spool: IO[bytes]) -> None:
        self._typer = typer
        self._typed = typed
        self._spool = spool
        self.declined: dict[int, int] = {}  # file_no: raw lines waiting

    def line(self, file_no: int, line_no: int, line: bytes) -> None:
        row = self._typer.row(line) if self._typer is not None else None
        if row is None:
            self._spool.write(b"%d\t%d\t%s\n" % (file_no, line_no, _escape(line)))
            self.declined[file_no] = self.declined.get(file_no, 0) + 1
            return
        row.append(file_no)
        self._typed.write_row(row)

    def send_declined(self, copy: psycopg.Copy) -> None:
        self._spool.seek(0)
        while chunk := self._spool.read(CHUNK_BYTES):
            copy.write(chunk)


class _RowsFiltered(Exception):
    """The optimistic INSERT skipped rows that break a rule PostgreSQL does not enforce."""


def _escape(data: bytes) -> bytes:
    """Make raw JSON text safe as one COPY text-format field.

    Tabs, carriage returns and newlines (only a one-object file has those) can only be
    insignificant whitespace in valid JSON, so they become spaces (this also accepts CRLF
    files); backslashes are COPY's escape character.
    """
    return (
        data.replace(b"\t", b" ").replace(b"\r", b" ").replace(b"\n", b" ").replace(b"\\", b"\\\\")
    )


def _unsafe_bytes(data: bytes, first_line_no: int) -> str | None:
    """Bytes PostgreSQL text cannot hold: NUL, or anything that is not UTF-8."""
    nul = data.find(b"\x00")
    if nul >= 0:
        line_no = first_line_no + data.count(b"\n", 0, nul)
        return f"line {line_no}: contains a NUL byte (binary data?)"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        line_no = first_line_no + data.count(b"\n", 0, error.start)
        return f"line {line_no}: not UTF-8 text ({error.reason} at byte {error.start})"
    return None


def _too_large(line_no: int) -> str:
    return f"line {line_no}: JSON object larger than Redshift's {MAX_JSON_OBJECT_BYTES} byte limit"
