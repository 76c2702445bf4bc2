"""A recorded-behaviour double of redshift-connector 2.2.0 talking to Amazon Redshift.

``RecordedRedshift`` is the warehouse state (committed ledger, the load views, a clock); its
``connect()`` returns a redshift-connector-shaped connection (``cursor()``, ``commit()``,
``rollback()``, ``close()``, ``autocommit``) whose cursor replays what the driver and Redshift
do with the statements our engine sends. Each behaviour names where it was recorded from:

- **rc** = the ``redshift_connector-2.2.0`` wheel (``core.py`` line numbers);
- **AWS-DG** = the Amazon Redshift Database Developer Guide page named.

It is a double of a third-party driver and server, never of our code: the engine under test
(``RedshiftSession``, ``stage_batch``, ``Merge.lease``, ``Merge.fail``) is the real one. A
statement it does not know raises ``NotImplementedError``, so a new statement cannot pass
unnoticed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import redshift_connector

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

Kind = Literal["provisioned", "serverless"]

# rc core.py:1813-1817, in Connection.execute, before the Parse message is sent.
BIND_PARAMETER_LIMIT = 32767

# The 1023 ErrorResponse as the driver hands it over: rc core.py:1008-1020 builds
# ProgrammingError(dict of the one-letter fields); AWS-DG c_serial_isolation gives the text.
SERIALIZABLE_VIOLATION = {
    "S": "ERROR",
    "C": "XX000",
    "M": "1023",
    "D": "Serializable isolation violation on table - 100234, transactions forming the cycle "
    "are: 5501, 5502 (pid:1234)",
}
# SNAPSHOT isolation's write conflict: the text from aws/amazon-redshift-jdbc-driver #147 and
# dbt-labs/dbt-adapters #626; no SQLSTATE is documented, so none is claimed here.
SNAPSHOT_CONFLICT = {
    "S": "ERROR",
    "M": "could not complete because of conflict with concurrent transaction",
}
# Deadlock (AWS-DG c_write_readwrite describes it; 40P01 as estuary/connectors retry.go sees it).
DEADLOCK = {"S": "ERROR", "C": "40P01", "M": "deadlock detected"}
# Serverless refuses provisioned-only views to a non-superuser (issue 10 item 1; AWS-MG
# serverless-monitoring: "You can't query STL, STV, SVCS, SVL … with Amazon Redshift Serverless").
STL_DENIED = {"S": "ERROR", "C": "42501", "M": "permission denied for relation stl_load_errors"}
# Any error aborts the transaction until ROLLBACK (PostgreSQL semantics Redshift keeps).
ABORTED = {
    "S": "ERROR",
    "C": "25P02",
    "M": "current transaction is aborted, commands ignored until end of transaction block",
}
# AWS-DG COPY: a load error fails the COPY and points at the load-errors view.
LOAD_FAILED = {
    "S": "ERROR",
    "C": "XX000",
    "M": "Load into table 'copy_target' failed. Check 'stl_load_errors' system table for details.",
}

# AWS-DG CREATE TABLE: a session's temporary table name must be unused (PostgreSQL's 42P07).
TABLE_EXISTS = {"S": "ERROR", "C": "42P07", "M": "Relation already exists"}

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
_VARCHAR_COLUMNS = {
    ("load_ledger", "error"): 4096,
    ("merge_runs", "error"): 4096,
    ("merge_runs", "execution"): 256,
}
# record_ledger.sql's column order.
_LEDGER_COLUMNS = [
    "bucket",
    "key",
    "etag",
    "version_id",
    "dataset",
    "size",
    "status",
    "rows",
    "error",
    "load_id",
    "file_no",
    "event_time",
    "staged_at",
]


@dataclass
class LoadViewRow:
    """One row of a load view: STL_LOAD_ERRORS / SYS_LOAD_ERROR_DETAIL (error set) or
    STL_LOAD_COMMITS / SYS_LOAD_DETAIL (lines set). AWS-DG r_STL_LOAD_COMMITS / SYS_LOAD_DETAIL:
    rows are written whether or not the transaction commits, so a rollback keeps them."""

    session: int
    copy_id: int
    started: datetime
    file_name: str
    lines: int = 0
    error: tuple[int, str, str] | None = None  # line, column, reason


@dataclass
class RecordedRedshift:
    """The server side: what is committed, the load views, and scripted faults."""

    kind: Kind
    s3: S3Client
    # COPY rejects these files (URL -> line, column, reason); others load one row per line.
    bad_files: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    ledger: list[dict[str, Any]] = field(default_factory=list)
    staged_rows: dict[str, int] = field(default_factory=dict)
    # The same rows by the file_no they were tagged with (None: not attributed to a file).
    staged_rows_by_file: dict[tuple[str, int | None], int] = field(default_factory=dict)
    load_views: list[LoadViewRow] = field(default_factory=list)
    # One-shot faults: (regex on the statement, or "COMMIT"; the ErrorResponse fields).
    faults: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    statements: list[str] = field(default_factory=list)
    parameters: list[dict[str, Any]] = field(default_factory=list)  # one per statement
    committed_copy_id: int = -1
    _copy_ids: int = 0
    _sessions: int = 1000
    _clock: datetime = datetime(2026, 12, 1, 12, 0, 0)

    def connect(self) -> DoubleConnection:
        self._sessions += 1
        return DoubleConnection(self, self._sessions)

    def tick(self) -> datetime:
        self._clock += timedelta(milliseconds=10)
        return self._clock

    def next_copy_id(self) -> int:
        self._copy_ids += 1
        return self._copy_ids

    def take_fault(self, statement: str) -> dict[str, str] | None:
        for index, (pattern, fields) in enumerate(self.faults):
            if re.search(pattern, statement):
                del self.faults[index]
                return fields
        return None


class DoubleConnection:
    """redshift_connector.Connection's surface as the engine uses it."""

    def __init__(self, server: RecordedRedshift, session: int) -> None:
        self.server = server
        self.session = session
        self.autocommit = True
        self.aborted = False
        self.pending_ledger: list[dict[str, Any]] = []
        self.pending_rows: dict[str, int] = {}
        self.pending_rows_by_file: dict[tuple[str, int | None], int] = {}
        self.copy_targets: dict[str, int] = {}
        # AWS-DG PG_LAST_COPY_ID: "updated when the COPY command begins the load process …
        # If the COPY transaction is rolled back, the COPY ID is not updated."
        self.last_copy_id = -1
        self.committed_copy_id = -1
        self._transaction_started: datetime | None = None

    def cursor(self) -> DoubleCursor:
        return DoubleCursor(self)

    def transaction_started(self) -> datetime:
        """When the open transaction began: its first statement (the driver begins one
        implicitly when autocommit is off)."""
        if self._transaction_started is None:
            self._transaction_started = self.server.tick()
        return self._transaction_started

    def commit(self) -> None:
        fault = self.server.take_fault("COMMIT")
        if self.aborted:
            # PostgreSQL/Redshift answer COMMIT of an aborted transaction with a rollback.
            self.rollback()
            return
        if fault is not None:
            self.rollback()
            raise redshift_connector.ProgrammingError(fault)
        self.server.ledger += self.pending_ledger
        for table, rows in self.pending_rows.items():
            self.server.staged_rows[table] = self.server.staged_rows.get(table, 0) + rows
        for source, rows in self.pending_rows_by_file.items():
            by_file = self.server.staged_rows_by_file
            by_file[source] = by_file.get(source, 0) + rows
        self.committed_copy_id = self.last_copy_id
        self._reset()

    def rollback(self) -> None:
        self.last_copy_id = self.committed_copy_id
        self._reset()

    def _reset(self) -> None:
        self._transaction_started = None
        self.aborted = False
        self.pending_ledger = []
        self.pending_rows = {}
        self.pending_rows_by_file = {}
        self.copy_targets = {}

    def close(self) -> None:
        pass


class DoubleCursor:
    """redshift_connector.Cursor's surface: ``paramstyle``, ``execute``, ``fetchall``,
    ``rowcount``."""

    def __init__(self, connection: DoubleConnection) -> None:
        self.connection = connection
        self.server = connection.server
        self.paramstyle = "format"
        self.rowcount = -1
        self._rows: list[tuple] = []

    def fetchall(self) -> list[tuple]:
        return self._rows

    def execute(self, statement: str, args: Mapping[str, Any] | None = None) -> None:
        params = dict(args or {})
        self.server.statements.append(statement)
        self.server.parameters.append(params)
        if args is not None:
            # rc core.py:161 convert_paramstyle: one $N per distinct %(name)s.
            count = len(dict.fromkeys(_PLACEHOLDER.findall(statement)))
            if count > BIND_PARAMETER_LIMIT:  # rc core.py:1813-1817, raised before sending
                raise redshift_connector.DataError(
                    f"Prepared statement exceeds bind parameter limit {BIND_PARAMETER_LIMIT}. "
                    f"{count} bind parameters were provided. Please retry with fewer bind "
                    "parameters."
                )
        if self.connection.aborted:
            raise redshift_connector.ProgrammingError(dict(ABORTED))
        self.rowcount, self._rows = -1, []
        try:
            fault = self.server.take_fault(statement)
            if fault is not None:
                raise redshift_connector.ProgrammingError(dict(fault))
            self._run(statement, params)
        except redshift_connector.ProgrammingError:
            self.connection.aborted = True
            raise

    # -- statements -----------------------------------------------------------------------------

    def _run(self, statement: str, params: dict[str, Any]) -> None:
        text = " ".join(statement.split())
        if self.server.kind == "serverless" and re.search(r"\bstl_\w+", text):
            raise redshift_connector.ProgrammingError(dict(STL_DENIED))
        if text == "SELECT 1":
            self._rows = [(1,)]
        elif text.startswith("LOCK "):
            self.rowcount = 0
        elif text == "SELECT SYSDATE":
            # AWS-DG SYSDATE: "the date and time … at the start of the current transaction".
            self._rows = [(self.connection.transaction_started(),)]
        elif text.startswith("SELECT COUNT(*) FROM stl_load_commits WHERE 1 = 0"):
            self._rows = [(0,)]
        elif text.startswith("SELECT key, etag FROM load_ledger"):
            self._find_versions(params)
        elif text.startswith("INSERT INTO load_ledger"):
            self._insert_ledger(params)
        elif text.startswith("CREATE TEMP TABLE copy_"):
            if text.split()[3] in self.connection.copy_targets:
                raise redshift_connector.ProgrammingError(dict(TABLE_EXISTS))
            self.connection.copy_targets[text.split()[3]] = 0
        elif text.startswith("COPY copy_"):
            self._copy(text)
        elif text.startswith("INSERT INTO staging_"):
            target = re.search(r"FROM (copy_\w+)", text)
            assert target is not None
            self.rowcount = self.connection.copy_targets[target.group(1)]
            table = text.split()[2]
            pending = self.connection.pending_rows
            pending[table] = pending.get(table, 0) + self.rowcount
            source = (table, params.get("file_no"))
            by_file = self.connection.pending_rows_by_file
            by_file[source] = by_file.get(source, 0) + self.rowcount
        elif text.startswith("DROP TABLE copy_"):
            self.connection.copy_targets.pop(text.split()[2])
        elif "load_errors" in text and "FROM" in text:
            self._load_view(text, params, errors=True)
        elif "lines_scanned" in text:
            self._load_view(text, params, errors=False)
        elif text.startswith(("UPDATE merge_runs SET", "INSERT INTO merge_runs")):
            self._check_varchar("merge_runs", params)
            self.rowcount = 1
        elif text.startswith("SELECT merge_id, expires_at FROM merge_lease"):
            self._rows = []  # no merge holds the lease: the double keeps no lease rows
        elif text.startswith("SELECT COUNT(*), COUNT(DISTINCT load_id) FROM load_ledger"):
            staged = [row for row in self.server.ledger if row["status"] == "staged"]
            self._rows = [(len(staged), len({row["load_id"] for row in staged}))]
        elif text.startswith("UPDATE load_ledger SET merge_id"):
            self.rowcount = sum(row["status"] == "staged" for row in self.server.ledger)
        elif text.startswith(("INSERT INTO merge_lease", "DELETE FROM merge_requests")):
            self.rowcount = 1
        elif text.startswith("ANALYZE staging_"):
            # AWS-DG r_ANALYZE: allowed in a transaction block; a utility statement, no rows.
            self.rowcount = -1
        elif text.startswith(("UPDATE merge_lease", "DELETE FROM merge_lease")):
            self.rowcount = 1
        elif text.startswith("DELETE FROM work_"):
            # A failed merge drops its work rows (merge.Merge.fail): none in the double.
            self.rowcount = 0
        else:
            raise NotImplementedError(f"the double has not recorded: {text[:120]}")

    def _check_varchar(self, table: str, values: Mapping[str, Any]) -> None:
        """AWS-DG Character types: "CHAR and VARCHAR data types are defined in terms of bytes,
        not characters"; a longer string fails the statement (SQLSTATE 22001)."""
        for (column_table, column), limit in _VARCHAR_COLUMNS.items():
            value = values.get(column)
            too_long = isinstance(value, str) and len(value.encode("utf-8")) > limit
            if column_table == table and too_long:
                raise redshift_connector.ProgrammingError(
                    {
                        "S": "ERROR",
                        "C": "22001",
                        "M": f"value too long for type character varying({limit})",
                    }
                )

    def _find_versions(self, params: dict[str, Any]) -> None:
        keys = {value for name, value in params.items() if re.fullmatch(r"key\d+", name)}
        etags = {value for name, value in params.items() if re.fullmatch(r"etag\d+", name)}
        visible = self.server.ledger + self.connection.pending_ledger
        self._rows = [
            (row["key"], row["etag"])
            for row in visible
            if row["bucket"] == params["bucket"]
            and row["key"] in keys
            and row["etag"] in etags
            and row["status"] not in ("missing", "superseded")
        ]

    def _insert_ledger(self, params: dict[str, Any]) -> None:
        rows: dict[int, dict[str, Any]] = {}
        for name, value in params.items():
            match = re.fullmatch(r"v(\d+)_(\d+)", name)
            assert match is not None, name
            rows.setdefault(int(match.group(1)), {})[_LEDGER_COLUMNS[int(match.group(2))]] = value
        for row in rows.values():
            self._check_varchar("load_ledger", row)
        self.connection.pending_ledger += [rows[index] for index in sorted(rows)]
        self.rowcount = len(rows)

    def _copy(self, text: str) -> None:
        target = text.split()[1]
        manifest_url = re.search(r"FROM '([^']*)'", text)
        assert manifest_url is not None
        bucket, _, key = manifest_url.group(1).removeprefix("s3://").partition("/")
        manifest = json.loads(self.server.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        urls = [entry["url"] for entry in manifest["entries"]]
        copy_id = self.server.next_copy_id()
        self.connection.last_copy_id = copy_id  # updated when the load begins (AWS-DG)
        started = self.server.tick()
        noload = text.endswith("NOLOAD")
        bad = [url for url in urls if url in self.server.bad_files]
        for url in bad if noload else bad[:1]:  # MAXERROR 0 stops at the first bad file
            self.server.load_views.append(
                LoadViewRow(
                    self.connection.session,
                    copy_id,
                    started,
                    url[:256],
                    error=self.server.bad_files[url],
                )
            )
        if bad and not noload:
            raise redshift_connector.ProgrammingError(dict(LOAD_FAILED))
        rows = 0
        for url in urls:
            if url in bad:
                continue
            file_bucket, _, file_key = url.removeprefix("s3://").partition("/")
            body = self.server.s3.get_object(Bucket=file_bucket, Key=file_key)["Body"].read()
            lines = sum(1 for line in body.splitlines() if line.strip())
            self.server.load_views.append(
                LoadViewRow(self.connection.session, copy_id, started, url[:256], lines=lines)
            )
            rows += lines
        self.connection.copy_targets[target] = 0 if noload else rows

    def _load_view(self, text: str, params: dict[str, Any], *, errors: bool) -> None:
        """The load views, filtered the way the statement asks: by ``pg_last_copy_id()`` (the
        connection's, reverted by a rollback) or by session, start time and file names."""
        names = {value for name, value in params.items() if re.fullmatch(r"file\d+", name)}
        if "pg_last_copy_id()" in text:
            selected = [
                row for row in self.server.load_views if row.copy_id == self.connection.last_copy_id
            ]
        else:
            assert "pg_backend_pid()" in text and names, "a load view read filters its rows"
            selected = [
                row
                for row in self.server.load_views
                if row.session == self.connection.session
                and row.started >= params["since"]
                and row.file_name in names
            ]
        if errors:
            first: dict[str, LoadViewRow] = {}
            for row in selected:
                if row.error is not None:
                    first.setdefault(row.file_name, row)
            self._rows = [
                (name, row.error[0], row.error[1], row.error[2])
                for name, row in first.items()
                if row.error is not None
            ]
        else:
            totals: dict[str, int] = {}
            for row in selected:
                if row.error is None:
                    totals[row.file_name] = totals.get(row.file_name, 0) + row.lines
            self._rows = list(totals.items())
