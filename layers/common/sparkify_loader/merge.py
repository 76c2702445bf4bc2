"""Staging -> star schema as write, audit, publish: one Step Functions state per step here.

Write steps build the batch's de-duplicated rows once into work tables keyed by the merge
(``work_*``, real tables: they outlive each step's session); the audit checks them before
anything is visible; publish changes all five tables, the ledger and staging in one
transaction, so analysts see all of a batch or none of it. Write steps replace their own work
rows and publish is atomic, so a run that dies after any step and is run again ends in the same
tables as an uninterrupted run.

One merge at a time: ``lease`` locks ``merge_lease`` and takes a row in it (under SNAPSHOT and
SERIALIZABLE alike); each later step checks or renews it, and stops (LeaseLostError) if it
expired and another merge took over. Every merge transaction locks ``load_ledger`` then
``merge_lease`` before its first read (sql/merge/lock.sql): one lock order with the lease and
the stage, and a snapshot taken after the wait, not before it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import assert_never

from aws_lambda_powertools.metrics import MetricUnit

from sparkify_loader.arrival import REQUEST_TTL
from sparkify_loader.config import MergeSettings
from sparkify_loader.merge_steps import (
    AuditResult,
    AuditStep,
    CaughtError,
    CheckCounts,
    DryRunReport,
    DryRunStep,
    FailStep,
    FailureResult,
    FinalizeResult,
    FinalizeStep,
    LeaseResult,
    LeaseStep,
    MergeStepInput,
    PublishedTable,
    PublishResult,
    PublishStep,
    StepResult,
    TablePublished,
    WorkSet,
    WriteResult,
    WriteStep,
)
from sparkify_loader.observability import MetricName, logger
from sparkify_loader.sqlfiles import Fragment, Identifier, Slot, render_sql, sql_dir_files
from sparkify_loader.varchar import (
    MERGE_RUN_ERROR_BYTES,
    MERGE_RUN_EXECUTION_BYTES,
    fit_varchar,
)
from sparkify_loader.warehouse import Session, Warehouse, WarehouseError

Clock = Callable[[], datetime]


class LeaseLostError(RuntimeError):
    """This merge's lease expired and may belong to another merge now: stop, change nothing."""


class AuditFailedError(RuntimeError):
    """An audit check found a problem in the work tables: nothing is published, the loads stay
    staged, and the message names each failed check with its row count."""


@dataclass(frozen=True)
class Publish:
    """One published table: the work table it comes from and the key both share."""

    target: PublishedTable
    work_table: str
    key: str


PUBLISHES: dict[PublishedTable, Publish] = {
    "users": Publish("users", "work_users", "user_id"),
    "songs": Publish("songs", "work_songs", "song_id"),
    "artists": Publish("artists", "work_artists", "artist_id"),
    "time": Publish("time", "work_time", "start_time"),
    "songplays": Publish("songplays", "work_songplays", "songplay_id"),
}
# Each write step's work tables, in the order it writes them: the songs a corrected song file
# dropped first (plays must not match them), then the plays, their new time rows, the plays a
# corrected log file dropped, and the earlier plays whose song changes.
WRITES: dict[WorkSet, tuple[str, ...]] = {
    "users": ("users",),
    "songs": ("songs",),
    "artists": ("artists",),
    "songplays": ("retract_songs", "songplays", "time", "retract_plays", "rematch"),
}
# Written only when the merge publishes a newer version of a key published before: they scan
# the published tables, which a merge of new files only must not pay for.
RETRACTIONS: tuple[str, ...] = ("retract_songs", "retract_plays")
# What publishing removes, per table, in order: songs, then plays, then the time rows no play
# references any more.
RETRACTED: dict[PublishedTable, str] = {
    "songs": "retract_songs",
    "songplays": "retract_plays",
    "time": "retract_time",
}
WORK_TABLES: tuple[str, ...] = tuple(
    f"work_{table}" for tables in WRITES.values() for table in tables
)
# Dimensions first (plays reference them), then the fact and the earlier plays' new songs.
PUBLISH_ORDER: tuple[PublishedTable, ...] = ("users", "songs", "artists", "time", "songplays")

CLAIMED_LOADS = Fragment("merge/fragments/claimed_loads.sql")
SONG_MATCH = Fragment("merge/fragments/song_match.sql")
KNOWN_SONGS = Fragment("merge/fragments/known_songs.sql")
REPLACED_FILES = Fragment("merge/fragments/replaced_files.sql")
STAGED_PLAYS = Fragment(
    "merge/fragments/staged_plays.sql",
    {"claimed_loads": CLAIMED_LOADS, "replaced_files": REPLACED_FILES},
)
BATCH_PLAYS = Fragment("merge/fragments/batch_plays.sql", {"staged_plays": STAGED_PLAYS})
# The fragments each merge file splices in (sql/merge/fragments); a file not listed has none.
MERGE_FRAGMENTS: dict[str, dict[str, Slot]] = {
    "merge/work/users.sql": {"claimed_loads": CLAIMED_LOADS},
    "merge/work/songs.sql": {"claimed_loads": CLAIMED_LOADS, "replaced_files": REPLACED_FILES},
    "merge/work/artists.sql": {"claimed_loads": CLAIMED_LOADS},
    "merge/work/songplays.sql": {
        "batch_plays": BATCH_PLAYS,
        "known_songs": KNOWN_SONGS,
        "song_match": SONG_MATCH,
    },
    "merge/work/rematch.sql": {"known_songs": KNOWN_SONGS, "song_match": SONG_MATCH},
    "merge/work/count_replaced.sql": {"replaced_files": REPLACED_FILES},
    "merge/work/retract_songs.sql": {"replaced_files": REPLACED_FILES},
    "merge/work/retract_plays.sql": {"replaced_files": REPLACED_FILES},
    "merge/audit/staged_plays_not_written.sql": {"staged_plays": STAGED_PLAYS},
    "merge/publish/delete_staging_events.sql": {"claimed_loads": CLAIMED_LOADS},
    "merge/publish/delete_staging_songs.sql": {"claimed_loads": CLAIMED_LOADS},
}


def _fit_execution(execution: str | None) -> str | None:
    # An execution ARN ends in a user-chosen name of up to 80 characters, any of them
    # multibyte: it can pass merge_runs.execution's 256 bytes.
    return None if execution is None else fit_varchar(execution, MERGE_RUN_EXECUTION_BYTES)


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def merge_sql(name: str, **tables: str) -> str:
    """A merge statement with the fragments MERGE_FRAGMENTS lists for it, and our own table and
    column names (``tables``) in its other slots."""
    identifiers = {slot: Identifier(table) for slot, table in tables.items()}
    return render_sql(name, **MERGE_FRAGMENTS.get(name, {}), **identifiers)


def _seconds_since(now: datetime, then: datetime | None) -> float | None:
    # In Python, to the millisecond: EXTRACT(EPOCH) of a TIMESTAMP is whole seconds on Redshift.
    return None if then is None else round((now - then) / timedelta(milliseconds=1) / 1000, 3)


class Merge:
    """The merge steps against one warehouse session."""

    def __init__(self, session: Session, settings: MergeSettings, now: Clock = utc_now) -> None:
        self._session = session
        self._settings = settings
        self._now = now

    # -- lease ---------------------------------------------------------------------------------

    def lease(self, execution: str | None = None) -> LeaseResult:
        """Claim everything staged so far, unless another merge runs or nothing is staged."""
        with self._session.transaction():
            # First: one lease attempt at a time, and a stage batch committing meanwhile is
            # either counted below or requests the next merge itself (sparkify_loader.arrival).
            self._session.execute(merge_sql("merge/lease/lock.sql"))
            # Read the clock once the lock is ours: the run starts when it holds the lease, not
            # while it waited for a publishing merge to commit.
            now = self._now()
            self._session.execute(merge_sql("merge/lease/clear.sql"), {"now": now})
            holder = self._session.query(merge_sql("merge/lease/read.sql"))
            recorded_execution = _fit_execution(execution)
            if holder:
                holder_id, expires_at = holder[0]
                if (own := self._own_run(holder_id, recorded_execution)) is not None:
                    # This execution took the lease and lost the reply: the same merge goes on.
                    logger.info("merge lease already ours", extra={"merge_id": holder_id})
                    files, loads = own
                    return LeaseResult(acquired=True, merge_id=holder_id, files=files, loads=loads)
                # The request stays pending: a run waiting for the lease serves it.
                self._session.execute(
                    merge_sql("merge/request/confirm.sql"),
                    {"now": now, "confirm_before": now - REQUEST_TTL / 2},
                )
                return LeaseResult(
                    acquired=False,
                    busy=True,
                    reason=f"merge {holder_id} holds the lease until {expires_at:%H:%M:%S}",
                )
            self._session.execute(merge_sql("merge/request/clear.sql"))
            files, loads = self._session.query(merge_sql("merge/lease/count_staged.sql"))[0]
            if files == 0:
                return LeaseResult(acquired=False, reason="nothing staged", files=0, loads=0)
            merge_id = uuid.uuid4().hex
            params = {
                "merge_id": merge_id,
                "now": now,
                "expires_at": now + timedelta(seconds=self._settings.merge_lease_seconds),
                "execution": recorded_execution,
                "files": files,
                "loads": loads,
            }
            self._session.execute(merge_sql("merge/lease/take.sql"), params)
            self._session.execute(merge_sql("merge/lease/claim_loads.sql"), params)
            self._session.execute(merge_sql("merge/lease/run_started.sql"), params)
            for work_table in WORK_TABLES:
                self._session.execute(
                    merge_sql("merge/work/clear_others.sql", work_table=work_table), params
                )
        for table in ("events", "songs"):
            self._analyze_staging(table)
        logger.info("merge lease taken", extra={"merge_id": merge_id, "files": files})
        return LeaseResult(acquired=True, merge_id=merge_id, files=files, loads=loads)

    def _own_run(self, merge_id: str, execution: str | None) -> tuple[int, int] | None:
        """The files and loads of ``merge_id`` if this execution started it and it runs."""
        if execution is None:
            return None
        run = self._session.query(
            merge_sql("merge/lease/own_run.sql"), {"merge_id": merge_id, "execution": execution}
        )
        return (run[0][0], run[0][1]) if run else None

    def _analyze_staging(self, table: str) -> None:
        """Fresh statistics for a staging table, after the lease committed: an optimisation, so
        a failure is logged and the merge goes on with the old ones. Raised, it would end the
        run at the Lease state (no Catch: nothing to release before the lease exists) with the
        lease held until it expires, and a retry would find its own lease held by another."""
        try:
            self._session.execute(merge_sql(f"merge/analyze_staging_{table}.sql"))
        except WarehouseError as error:
            logger.warning(
                "could not analyze a staging table; merging with its old statistics",
                extra={"table": f"staging_{table}", "error": str(error)},
            )

    @contextmanager
    def _locked_transaction(self) -> Iterator[None]:
        """A transaction whose first statement locks the ledger and the lease, in that order.

        Under SNAPSHOT isolation the snapshot is taken at the first read: a lease check or a
        ledger read before the lock would wait for a stage batch or a lease with a snapshot
        older than the wait, and a lease check holds merge_lease while it waits for
        load_ledger, the lease's order crossed (a deadlock). The lock costs the parallel write
        steps their overlap with each other; a write step's ledger read already made stage
        batches wait for it.
        """
        with self._session.transaction():
            self._session.execute(merge_sql("merge/lock.sql"))
            yield

    @contextmanager
    def _leased_transaction(self, merge_id: str, *, renew: bool = True) -> Iterator[None]:
        """A locked transaction that first proves (and, in sequential steps, extends) the
        lease."""
        with self._locked_transaction():
            # Read the clock once the lock is ours: a step that waited while another merge took
            # over an expired lease must judge the lease by the time it got the lock.
            now = self._now()
            params = {
                "merge_id": merge_id,
                "now": now,
                "expires_at": now + timedelta(seconds=self._settings.merge_lease_seconds),
            }
            if renew:
                held = self._session.execute(merge_sql("merge/lease/renew.sql"), params)
            else:
                held = self._session.query(merge_sql("merge/lease/check.sql"), params)[0][0]
            if held != 1:
                raise LeaseLostError(f"merge {merge_id} no longer holds the lease")
            yield

    # -- write ---------------------------------------------------------------------------------

    def write(self, table: WorkSet, merge_id: str) -> WriteResult:
        """Write one part of the batch into its work tables, replacing what an earlier attempt
        of this step wrote. Parallel branches run it: it checks the lease, never renews it."""
        with self._leased_transaction(merge_id, renew=False):
            return self._write(table, merge_id)

    def _write(self, table: WorkSet, merge_id: str) -> WriteResult:
        params = {"merge_id": merge_id}
        replaces = False
        if table == "songplays":
            self._analyze("work_songs")
            (replaced,) = self._session.query(merge_sql("merge/work/count_replaced.sql"), params)[0]
            replaces = replaced > 0
        rows: dict[str, int] = {}
        for part in WRITES[table]:
            work_table = f"work_{part}"
            self._session.execute(merge_sql("merge/work/clear.sql", work_table=work_table), params)
            if part in RETRACTIONS and not replaces:
                continue
            if part == "rematch" and not self._songs_change(merge_id):
                continue
            rows[work_table] = self._session.execute(merge_sql(f"merge/work/{part}.sql"), params)
            self._analyze(work_table)
        return WriteResult(table=table, rows=rows)

    def _songs_change(self, merge_id: str) -> bool:
        """Whether this merge writes or retracts any song: only then can an earlier play's
        song change (a batch of logs alone must not pay the rematch's scan of songplays)."""
        return any(
            self._session.query(
                merge_sql("merge/work/count.sql", work_table=work_table), {"merge_id": merge_id}
            )[0][0]
            for work_table in ("work_songs", "work_retract_songs")
        )

    def _analyze(self, work_table: str) -> None:
        self._session.execute(merge_sql("merge/work/analyze.sql", work_table=work_table))

    # -- audit ---------------------------------------------------------------------------------

    def audit(self, merge_id: str) -> AuditResult:
        """Run every check in sql/merge/audit; any non-zero count fails the run, publishing
        nothing."""
        with self._leased_transaction(merge_id):
            checks = self._audit(merge_id)
        failed = {name: count for name, count in checks.items() if count}
        if failed:
            raise AuditFailedError(
                "audit failed, nothing published: "
                + ", ".join(f"{name}={count}" for name, count in sorted(failed.items()))
            )
        return AuditResult(checks=checks)

    def _audit(self, merge_id: str) -> CheckCounts:
        return {
            name.removesuffix(".sql"): self._session.query(
                merge_sql(f"merge/audit/{name}"), {"merge_id": merge_id}
            )[0][0]
            for name in sql_dir_files("merge/audit")
        }

    # -- publish -------------------------------------------------------------------------------

    def publish(self, merge_id: str) -> PublishResult:
        """Make the audited batch visible in one transaction and close the run."""
        if self._already_published(merge_id):
            return PublishResult(
                tables=[], rematched=0, files_merged=0, latency_max_s=None, latency_min_s=None
            )
        with self._leased_transaction(merge_id):
            result = self._publish(merge_id)
            params = {"merge_id": merge_id, "now": self._now(), "status": "succeeded"}
            self._session.execute(
                merge_sql("merge/finalize/run_finished.sql"), {**params, "error": None}
            )
            # Published: the next merge may start (only this merge's work rows are left).
            self._session.execute(merge_sql("merge/lease/release.sql"), params)
        for table in ("staging_events", "staging_songs"):
            self._session.reclaim_space(table)
        return result

    def _already_published(self, merge_id: str) -> bool:
        # A retry after a publish that committed but whose reply was lost (Lambda timeout).
        status = self._session.query(
            merge_sql("merge/publish/run_status.sql"), {"merge_id": merge_id}
        )
        return bool(status) and status[0][0] == "succeeded"

    def _publish(self, merge_id: str) -> PublishResult:
        now = self._now()
        params = {"merge_id": merge_id, "now": now}
        files, oldest, newest = self._session.query(merge_sql("merge/publish/latency.sql"), params)[
            0
        ]
        published = {
            table: self._publish_table(PUBLISHES[table], params) for table in PUBLISH_ORDER
        }
        for table, retraction in RETRACTED.items():
            deleted = self._session.execute(merge_sql(f"merge/publish/{retraction}.sql"), params)
            published[table] = published[table].model_copy(update={"deleted": deleted})
        tables = [published[table] for table in PUBLISH_ORDER]
        rematched = self._session.execute(merge_sql("merge/publish/rematch.sql"), params)
        self._session.execute(merge_sql("merge/publish/delete_staging_events.sql"), params)
        self._session.execute(merge_sql("merge/publish/delete_staging_songs.sql"), params)
        merged = self._session.execute(merge_sql("merge/publish/mark_merged.sql"), params)
        return PublishResult(
            tables=tables,
            rematched=rematched,
            files_merged=merged,
            latency_max_s=_seconds_since(now, oldest) if files else None,
            latency_min_s=_seconds_since(now, newest) if files else None,
        )

    def _publish_table(self, publish: Publish, params: Mapping[str, object]) -> TablePublished:
        (matched,) = self._session.query(
            merge_sql(
                "merge/publish/count_matched.sql",
                work_table=publish.work_table,
                target=publish.target,
                key=publish.key,
            ),
            params,
        )[0]
        changed = self._session.execute(merge_sql(f"merge/publish/{publish.target}.sql"), params)
        return TablePublished(table=publish.target, inserted=changed - matched, updated=matched)

    # -- the end -------------------------------------------------------------------------------

    def finalize(self, merge_id: str) -> FinalizeResult:
        """Remove the published merge's work rows (the lease is already free: only rows keyed
        by this merge are touched)."""
        params = {"merge_id": merge_id}
        # Locked although it reads neither the ledger nor the lease: the next merge's lease
        # (clear_others.sql) deletes these rows too, and must not meet this delete mid-way.
        with self._locked_transaction():
            removed = self._clear_work(params)
        for work_table in WORK_TABLES:
            self._session.reclaim_space(work_table)
        return FinalizeResult(work_rows_removed=removed)

    def _clear_work(self, params: Mapping[str, object]) -> int:
        return sum(
            self._session.execute(merge_sql("merge/work/clear.sql", work_table=table), params)
            for table in WORK_TABLES
        )

    def fail(self, merge_id: str | None, error: CaughtError) -> FailureResult:
        """Record the failure, drop its work rows and free the lease; nothing was published,
        the loads stay staged for the next run."""
        described = error.one_line()
        if merge_id:
            params = {
                "merge_id": merge_id,
                "now": self._now(),
                "status": "failed",
                "error": fit_varchar(described, MERGE_RUN_ERROR_BYTES),
            }
            with self._locked_transaction():
                self._session.execute(merge_sql("merge/finalize/run_finished.sql"), params)
                self._session.execute(merge_sql("merge/lease/release.sql"), params)
                self._clear_work(params)
        logger.error("merge failed", extra={"merge_id": merge_id, "error": described})
        return FailureResult(
            merge_id=merge_id, released=bool(merge_id), error=described, error_type=error.name
        )

    def dry_run(self) -> DryRunReport:
        """Everything a merge would do now, in one transaction that is rolled back."""
        try:
            with self._locked_transaction():
                files, loads = self._session.query(merge_sql("merge/lease/count_staged.sql"))[0]
                merge_id = "dryrun" + uuid.uuid4().hex[:26]
                params = {"merge_id": merge_id}
                self._session.execute(merge_sql("merge/lease/claim_loads.sql"), params)
                writes = [self._write(table, merge_id) for table in ("users", "songs", "artists")]
                writes.append(self._write("songplays", merge_id))
                checks = self._audit(merge_id)
                # Other merges' work rows (a crashed run's) are not this dry run's concern.
                checks.pop("foreign_work_rows")
                report = DryRunReport(
                    files=files,
                    loads=loads,
                    writes=writes,
                    checks=checks,
                    publish=None if any(checks.values()) else self._publish(merge_id),
                )
                raise _RollBack
        except _RollBack:
            return report


class _RollBack(Exception):
    pass


def run_merge_step(
    step: MergeStepInput,
    warehouse: Warehouse,
    settings: MergeSettings,
    add_metric: Callable[..., None],
    add_dimension: Callable[[str, str], None],
    now: Clock = utc_now,
) -> StepResult:
    """Run the step one state machine Task asked for; emit the step's metrics."""
    merge = Merge(warehouse.session(), settings, now)
    started = time.perf_counter()
    result = _run_step(merge, step)
    add_dimension("Step", step.step)
    if isinstance(step, WriteStep):
        add_dimension("Table", step.table)
    add_metric(
        name=MetricName.STEP_DURATION_MS,
        unit=MetricUnit.Milliseconds,
        value=(time.perf_counter() - started) * 1000,
    )
    _emit_step_metrics(result, add_metric)
    logger.info(
        "merge step done",
        extra={
            "step": step.step,
            "payload": step.model_dump(mode="json"),
            "result": result.model_dump(mode="json"),
        },
    )
    return result


def _run_step(merge: Merge, step: MergeStepInput) -> StepResult:
    match step:
        case LeaseStep():
            return merge.lease(step.execution)
        case DryRunStep():
            return merge.dry_run()
        case WriteStep():
            return merge.write(step.table, step.merge_id)
        case AuditStep():
            return merge.audit(step.merge_id)
        case PublishStep():
            return merge.publish(step.merge_id)
        case FinalizeStep():
            return merge.finalize(step.merge_id)
        case FailStep():
            return merge.fail(step.merge_id, step.error)
    assert_never(step)


def _emit_step_metrics(result: StepResult, add_metric: Callable[..., None]) -> None:
    match result:
        case PublishResult():
            add_metric(
                name=MetricName.ROWS_INSERTED,
                unit=MetricUnit.Count,
                value=sum(table.inserted for table in result.tables),
            )
            add_metric(
                name=MetricName.ROWS_UPDATED,
                unit=MetricUnit.Count,
                value=sum(table.updated for table in result.tables),
            )
            add_metric(
                name=MetricName.PLAYS_REMATCHED, unit=MetricUnit.Count, value=result.rematched
            )
            add_metric(
                name=MetricName.FILES_MERGED, unit=MetricUnit.Count, value=result.files_merged
            )
            if result.latency_max_s is not None:
                add_metric(
                    name=MetricName.END_TO_END_LATENCY_S,
                    unit=MetricUnit.Seconds,
                    value=result.latency_max_s,
                )
        case FailureResult():
            add_metric(name=MetricName.MERGE_FAILED, unit=MetricUnit.Count, value=1)
            if result.error_type == AuditFailedError.__name__:
                add_metric(name=MetricName.QUALITY_CHECK_FAILURES, unit=MetricUnit.Count, value=1)
