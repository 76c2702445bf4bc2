"""The Redshift session (one connection) and warehouse (a session reused while warm).

A batch's files reach Redshift through ``COPY … MANIFEST`` into a session-private copy target,
whose rows move into the staging table tagged with the batch's load_id and, where one COPY read
one file, its file_no. A manifest COPY does not say which row came from which file, and a
corrected file can only replace its rows if they name their file (issue 12): so log files, each
many rows, are copied one file per COPY; one-song files, whose rows the merge keys by song_id,
one COPY per batch. A batch with many log files pays one COPY each (README, "Stage timeout").

Redshift aborts the whole transaction when COPY meets a bad file. The session then rolls back,
reads the load errors to name the bad files (running the same COPY again with NOLOAD and a
large MAXERROR, so every bad file is named in one go) and raises ``RetryWithout``: the caller
reruns its transaction without them.

Load diagnostics come from the views the warehouse kind has: STL_LOAD_ERRORS / STL_LOAD_COMMITS
on a provisioned cluster, SYS_LOAD_ERROR_DETAIL / SYS_LOAD_DETAIL on Serverless (which refuses
every STL view with 42501). They are filtered by this session (``pg_backend_pid()``), the
manifest's file names and the warehouse's clock read right before the COPY, never by
``pg_last_copy_id()``: a rolled-back COPY does not update it, and the SYS views' query ids are
not the STL ones. Any error inside a Redshift transaction aborts it, so the load errors are only
read after the rollback, each read guarded; inside the stage transaction only the per-file row
count of a multi-file COPY is read, and if that read fails the transaction is run again without
it (see ``_rows_per_file``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, NoReturn

import redshift_connector
from aws_lambda_powertools.utilities import parameters

from sparkify_loader.config import RedshiftKind, StageSettings, WarehouseSettings
from sparkify_loader.observability import logger
from sparkify_loader.sqlfiles import BoundList, bind_chunks, render_sql, schema_files
from sparkify_loader.warehouse.base import FileLoad, ObjectVersion, Session, Warehouse
from sparkify_loader.warehouse.errors import (
    RetryWithout,
    SerializationConflict,
    TransientWarehouseError,
    WarehouseError,
)
from sparkify_loader.warehouse.migrations import add_missing_columns
from sparkify_loader.warehouse.redshift.attribution import (
    load_error_reasons,
    rows_by_version,
    stored_file_names,
)
from sparkify_loader.warehouse.redshift.connect import SecretFetcher, connect
from sparkify_loader.warehouse.redshift.copy_sql import (
    copy_target,
    create_copy_target_sql,
    drop_copy_target_sql,
    insert_from_copy_target_sql,
    render_copy,
)
from sparkify_loader.warehouse.redshift.driver_errors import (
    ObjectChangedDuringCopy,
    is_auth_failure,
    is_insufficient_privilege,
    translated_errors,
)
from sparkify_loader.warehouse.redshift.manifests import ManifestWriter, precheck_objects

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from sparkify_loader.datasets import Dataset
    from sparkify_loader.events import LandedObject

# A warm Lambda's connection may have been dropped by Redshift while the sandbox was frozen;
# after this long without use, a cheap ping decides whether to reconnect.
IDLE_PING_SECONDS = 30.0


class RedshiftSession(Session):
    """One connection. Outside ``transaction()`` every statement commits on its own, as on the
    PostgreSQL engine, so a stray query never leaves a snapshot open in a warm Lambda."""

    def __init__(
        self,
        connection: redshift_connector.Connection,
        *,
        s3: S3Client,
        manifests: ManifestWriter | None,
        copy_role_arn: str,
        kind: RedshiftKind | None = None,
    ) -> None:
        self.connection = connection
        self.kind = kind
        self._cursor = connection.cursor()
        self._cursor.paramstyle = "pyformat"  # our statements use %(name)s
        self._s3 = s3
        self._manifests = manifests
        self._copy_role_arn = copy_role_arn
        self._in_transaction = False
        # Set when a per-file row count spoiled a transaction: its rerun does without, until a
        # transaction commits.
        self._skip_file_counts = False
        self.broken = False
        self.closed = False
        self.last_used = time.monotonic()

    # -- plumbing -------------------------------------------------------------------------------

    @contextmanager
    def _driver_calls(self) -> Iterator[None]:
        """Translate driver errors; a connection that failed at the transport is not reused."""
        self.last_used = time.monotonic()
        try:
            with translated_errors():
                yield
        except TransientWarehouseError as error:
            if not isinstance(error, SerializationConflict):
                self.broken = True
            raise

    def _statement_scope(self) -> AbstractContextManager[None]:
        return nullcontext() if self._in_transaction else self.transaction()

    def _rollback(self) -> None:
        with self._driver_calls():
            self.connection.rollback()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._in_transaction:
            raise WarehouseError("transactions do not nest")
        self._in_transaction = True
        try:
            yield
            with self._driver_calls():
                self.connection.commit()
            self._skip_file_counts = False
        except BaseException as error:
            # A failed COMMIT (e.g. Redshift's 1023 at commit time) lands here too.
            try:
                self._rollback()
            except WarehouseError as rollback_error:
                error.add_note(f"rollback failed as well: {rollback_error}")
                self.broken = True
            raise
        finally:
            self._in_transaction = False

    def execute(self, statement: str, params: Mapping[str, Any] | None = None) -> int:
        # Without params the driver sends the text as is: no placeholder parsing at all.
        with self._statement_scope(), self._driver_calls():
            self._cursor.execute(statement, params)
            return self._cursor.rowcount

    def query(self, statement: str, params: Mapping[str, Any] | None = None) -> list[tuple]:
        with self._statement_scope(), self._driver_calls():
            self._cursor.execute(statement, params)
            return [tuple(row) for row in self._cursor.fetchall()]

    def reclaim_space(self, table: str) -> None:
        """Nothing to do: Redshift's automatic VACUUM DELETE reclaims deleted rows in the
        background, and an explicit VACUUM would queue behind the cluster's one vacuum."""

    def apply_schema(self) -> None:
        """The schema files run unchanged: they are Redshift dialect already."""
        with self.transaction():
            for name in schema_files():
                self.execute(render_sql(name))
            add_missing_columns(self)

    def detect_kind(self) -> RedshiftKind:
        """Find out, once per connection and outside any transaction, which load views this
        warehouse has, when the settings do not tell (a secret and a custom domain name)."""
        try:
            self.query(render_sql("stage/redshift/probe_provisioned_views.sql"))
        except WarehouseError as error:
            if not is_insufficient_privilege(error.__cause__):
                raise
            self.kind = "serverless"
        else:
            self.kind = "provisioned"
        logger.info("Redshift kind detected", extra={"kind": self.kind})
        return self.kind

    def ping(self) -> bool:
        """Whether the connection still answers; a failure marks it broken."""
        try:
            self.query("SELECT 1")
        except TransientWarehouseError as error:
            logger.info(
                "warehouse connection went stale; reconnecting", extra={"error": str(error)}
            )
            return False
        return True

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.connection.close()
        except (redshift_connector.InterfaceError, OSError) as error:
            # Closing a connection the server already dropped: there is nothing left to release.
            logger.debug("closing a dead warehouse connection", extra={"error": str(error)})

    # -- COPY -----------------------------------------------------------------------------------

    def copy_into_staging(
        self, dataset: Dataset, objects: Sequence[LandedObject], load_id: str
    ) -> dict[ObjectVersion, FileLoad]:
        if not self._in_transaction:
            raise WarehouseError("copy_into_staging must run inside transaction()")
        if self._manifests is None:
            raise WarehouseError("MANIFEST_BUCKET is not set: Redshift COPY needs a manifest")
        if self.kind is None:
            raise WarehouseError("the Redshift kind is unknown: detect_kind() before COPY")
        current, outcomes = precheck_objects(self._s3, objects)
        if not current:
            return outcomes
        # Each file's number is its position in ``objects``, as the ledger numbers it.
        file_numbers = {obj.version: file_no for file_no, obj in enumerate(objects)}
        groups = [current] if dataset.one_object_per_file else [[obj] for obj in current]
        # SYSDATE is the transaction's start: one read serves every COPY of it (the load views'
        # rows are told apart by file name, and an earlier attempt's began before it).
        since = self._server_time()
        for group in groups:
            file_no = file_numbers[group[0].version] if len(group) == 1 else None
            outcomes |= self._copy_files(dataset, group, current, load_id, file_no, since)
        self._raise_if_changed(current)
        return outcomes

    def _copy_files(
        self,
        dataset: Dataset,
        group: Sequence[LandedObject],
        batch: Sequence[LandedObject],
        load_id: str,
        file_no: int | None,
        since: datetime,
    ) -> dict[ObjectVersion, FileLoad]:
        """One COPY of ``group`` (a file of the batch, or the whole batch) into staging."""
        create_target = create_copy_target_sql(dataset)
        copy = self._copy_statement(dataset, group, load_id, file_no)
        self.execute(create_target)
        try:
            self.execute(copy())
        except TransientWarehouseError:
            raise  # connection trouble or a lost serializable race: the caller retries
        except WarehouseError as copy_error:
            # Name every bad file of the batch in one go: the diagnosis reads the failed COPY's
            # errors, then runs the batch's COPY (all its files) with NOLOAD.
            diagnosis = (
                self._copy_statement(dataset, batch, load_id, None)
                if len(group) < len(batch)
                else copy
            )
            self._name_bad_files(dataset, batch, create_target, diagnosis, copy_error, since)
        inserted = self.execute(
            insert_from_copy_target_sql(dataset), {"load_id": load_id, "file_no": file_no}
        )
        per_file = self._rows_per_file(group, since, inserted)
        self.execute(drop_copy_target_sql(dataset))
        return per_file

    def _copy_statement(
        self,
        dataset: Dataset,
        objects: Sequence[LandedObject],
        load_id: str,
        file_no: int | None,
    ) -> Callable[..., str]:
        """The COPY of the objects' manifest (written now), rendered on call (``noload=``)."""
        assert self._manifests is not None
        return partial(
            render_copy,
            dataset,
            manifest_uri=self._manifests.write_manifest(dataset, objects, load_id, file_no),
            copy_role_arn=self._copy_role_arn,
            jsonpaths_uri=self._manifests.jsonpaths_uri(dataset),
        )

    def _server_time(self) -> datetime:
        """The warehouse's clock now: the load views' rows of the next COPY start at or after
        it (the Lambda's clock may be skewed against it)."""
        return self.query(render_sql("stage/redshift/server_time.sql"))[0][0]

    def _diagnostic(
        self, name: str, objects: Sequence[LandedObject], since: datetime
    ) -> list[tuple]:
        """One of the kind's load-view queries for these files (as many statements as the bind
        limit needs)."""
        rows: list[tuple] = []
        for names in bind_chunks(stored_file_names(objects), 1, other_params=1):
            file_names = BoundList("file", names)
            statement = render_sql(f"stage/redshift/{self.kind}/{name}", file_names=file_names)
            rows += self.query(statement, {"since": since, **file_names.params})
        return rows

    def _rows_per_file(
        self, objects: Sequence[LandedObject], since: datetime, inserted: int
    ) -> dict[ObjectVersion, FileLoad]:
        """Rows per file of a successful COPY. A lone file's count is the INSERT's, exactly, and
        needs no query; several files need the kind's load view, read inside the transaction.

        Guarded by a rerun: any error aborts a Redshift transaction and there are no savepoints,
        so a failed read rolls back and asks for the transaction again, which then records the
        files' rows as not counted (NULL in the ledger). Not after the commit: the counts would
        leave the ledger's transaction and cost every batch a second commit, which Redshift
        serializes cluster-wide; the read almost never fails (a view the kind has), so its
        failure may cost one COPY more, not the batch.
        """
        if len(objects) == 1:
            return {objects[0].version: FileLoad.staged(inserted)}
        if self._skip_file_counts:
            logger.warning(
                "rows per file not counted: the load views could not be read",
                extra={"files": len(objects), "rows": inserted},
            )
            return {obj.version: FileLoad.staged_uncounted() for obj in objects}
        try:
            rows = self._diagnostic("rows_per_file.sql", objects, since)
        except TransientWarehouseError:
            raise  # the transaction is lost anyway: the caller retries it as a whole
        except WarehouseError as error:
            self._skip_file_counts = True
            raise RetryWithout({}, f"could not count rows per file: {error}") from error
        return {
            version: FileLoad.staged(count)
            for version, count in rows_by_version(rows, objects, inserted).items()
        }

    def _load_errors(self, objects: Sequence[LandedObject], since: datetime) -> list[tuple]:
        """The first load error of each bad file, read after a rollback; a failed read names no
        file (the caller then fails the batch with the COPY's own error) instead of hiding it."""
        try:
            return self._diagnostic("load_errors.sql", objects, since)
        except TransientWarehouseError:
            raise
        except WarehouseError as error:
            logger.warning("could not read the load errors", extra={"error": str(error)})
            self._rollback()
            return []

    def _raise_if_changed(self, loaded: Sequence[LandedObject]) -> None:
        """Close the race the pre-check only narrows: if any object changed while COPY ran,
        nobody knows which version COPY read, so the transaction is run again."""
        _, changed = precheck_objects(self._s3, loaded)
        if changed:
            raise ObjectChangedDuringCopy(
                f"{len(changed)} object(s) changed while COPY ran: "
                + ", ".join(repr(key) for _, key, _ in changed)
            )

    def _name_bad_files(
        self,
        dataset: Dataset,
        objects: Sequence[LandedObject],
        create_target: str,
        render: Callable[..., str],
        copy_error: WarehouseError,
        since: datetime,
    ) -> NoReturn:
        """After a failed COPY: raise RetryWithout naming every bad file, or the COPY's error
        when no file is to blame (permissions, a malformed manifest, …). Never returns."""
        # The failed COPY aborted the transaction: nothing else runs until it is rolled back.
        self._rollback()
        rejections, unattributed = load_error_reasons(self._load_errors(objects, since), objects)
        diagnosis_since = self._server_time()
        try:
            self.execute(create_target)
            self.execute(render(noload=True))
        except TransientWarehouseError:
            raise
        except WarehouseError as diagnosis_error:
            # The NOLOAD run failed too; its own load errors may still name further files.
            logger.warning("diagnostic NOLOAD COPY failed", extra={"error": str(diagnosis_error)})
            self._rollback()
        all_rejections, more_unattributed = load_error_reasons(
            self._load_errors(objects, diagnosis_since), objects
        )
        self._rollback()
        rejections = {**all_rejections, **rejections}
        if unattributed or more_unattributed:
            logger.warning(
                "load errors name files outside the batch's manifest",
                extra={"files": sorted(set(unattributed + more_unattributed))},
            )
        if rejections:
            raise RetryWithout(rejections) from copy_error
        self._raise_if_changed(objects)  # a file vanished or changed after the pre-check
        raise WarehouseError(
            f"COPY into {copy_target(dataset)} failed: {copy_error}"
        ) from copy_error


class RedshiftWarehouse(Warehouse):
    """Connects with a Secrets Manager secret, or with IAM auth (provisioned or Serverless)."""

    def __init__(
        self,
        settings: WarehouseSettings,
        *,
        s3: S3Client,
        fetch_secret: SecretFetcher = parameters.get_secret,
    ) -> None:
        super().__init__()
        if not settings.redshift_copy_role_arn:
            raise WarehouseError("REDSHIFT_COPY_ROLE_ARN is not set")
        self._settings = settings
        self._copy_role_arn = settings.redshift_copy_role_arn
        self._fetch_secret = fetch_secret
        self._s3 = s3
        # Only the stage function's settings (StageSettings) say where manifests go.
        self._manifests = (
            ManifestWriter(
                self._s3,
                settings.manifest_bucket,
                settings.manifest_prefix,
                settings.jsonpaths_prefix,
            )
            if isinstance(settings, StageSettings) and settings.manifest_bucket
            else None
        )

    def _open(self) -> Session:
        with translated_errors():
            try:
                connection = connect(self._settings, self._fetch_secret, force_fetch=False)
            except redshift_connector.InterfaceError as error:
                if not (self._settings.redshift_secret_arn and is_auth_failure(error)):
                    raise
                # The cached secret may predate a rotation: read it afresh, once.
                logger.info("Redshift refused the cached secret; fetching it again")
                connection = connect(self._settings, self._fetch_secret, force_fetch=True)
        session = RedshiftSession(
            connection,
            s3=self._s3,
            manifests=self._manifests,
            copy_role_arn=self._copy_role_arn,
            kind=self._settings.resolved_redshift_kind,
        )
        if session.kind is None and self._manifests is not None:
            session.detect_kind()  # only the stage COPYs, so only it needs the load views
        return session

    def _is_usable(self, session: Session) -> bool:
        assert isinstance(session, RedshiftSession)
        if session.broken or session.closed:
            return False
        if time.monotonic() - session.last_used < IDLE_PING_SECONDS:
            return True
        return session.ping()
