"""Staging -> star schema, one Step Functions state per function here.

Every step is an idempotent upsert computed from the staging rows of the loads the merge
claimed; staging rows are only removed by ``finalize``. So a run that dies after any step and
is run again ends in the same tables as an uninterrupted run.

One merge at a time: ``lease`` locks ``merge_lease`` and takes a row in it (under SNAPSHOT and
SERIALIZABLE alike); each later step renews it, and stops (LeaseLostError) if it expired and
another merge took over.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import assert_never

from aws_lambda_powertools.metrics import MetricUnit

from sparkify_loader.config import MergeSettings
from sparkify_loader.merge_steps import (
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
    QualityResult,
    QualityStep,
    RematchResult,
    RematchStep,
    StepResult,
    UpsertResult,
    UpsertStep,
    UpsertTable,
)
from sparkify_loader.observability import MetricName, logger
from sparkify_loader.sqlfiles import Fragment, Identifier, Slot, render_sql, sql_dir_files
from sparkify_loader.varchar import MERGE_RUN_ERROR_BYTES, fit_varchar
from sparkify_loader.warehouse import Session, Warehouse

Clock = Callable[[], datetime]


class LeaseLostError(RuntimeError):
    """This merge's lease expired and may belong to another merge now: stop, change nothing."""


class QualityCheckFailedError(RuntimeError):
    """A quality check found a problem: the run fails and the loads stay staged."""


@dataclass(frozen=True)
class Upsert:
    """One MERGE: its de-duplicated batch table and the target's key."""

    target: UpsertTable
    batch_table: str
    key: str


UPSERTS: dict[UpsertTable, Upsert] = {
    "users": Upsert("users", "users_batch", "user_id"),
    "songs": Upsert("songs", "songs_batch", "song_id"),
    "artists": Upsert("artists", "artists_batch", "artist_id"),
    "time": Upsert("time", "time_batch", "start_time"),
    "songplays": Upsert("songplays", "songplays_batch", "songplay_id"),
}
DIMENSIONS: tuple[UpsertTable, ...] = ("users", "songs", "artists", "time")

CLAIMED_LOADS = Fragment("merge/fragments/claimed_loads.sql")
SONG_MATCH = Fragment("merge/fragments/song_match.sql")
BATCH_PLAYS = Fragment("merge/fragments/batch_plays.sql", {"claimed_loads": CLAIMED_LOADS})
# The fragments each merge file splices in (sql/merge/fragments); a file not listed has none.
MERGE_FRAGMENTS: dict[str, dict[str, Slot]] = {
    "merge/artists_batch.sql": {"claimed_loads": CLAIMED_LOADS},
    "merge/count_claimed_songs.sql": {"claimed_loads": CLAIMED_LOADS},
    "merge/finalize/delete_staging_events.sql": {"claimed_loads": CLAIMED_LOADS},
    "merge/finalize/delete_staging_songs.sql": {"claimed_loads": CLAIMED_LOADS},
    "merge/plays_batch.sql": {"batch_plays": BATCH_PLAYS},
    "merge/quality/duplicate_artists.sql": {"claimed_loads": CLAIMED_LOADS},
    "merge/quality/duplicate_songs.sql": {"claimed_loads": CLAIMED_LOADS},
    "merge/rematch_batch.sql": {"song_match": SONG_MATCH, "claimed_loads": CLAIMED_LOADS},
    "merge/songplays_batch.sql": {"song_match": SONG_MATCH},
    "merge/songs_batch.sql": {"claimed_loads": CLAIMED_LOADS},
    "merge/time_batch.sql": {"batch_plays": BATCH_PLAYS},
    "merge/users_batch.sql": {"claimed_loads": CLAIMED_LOADS},
}


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def merge_sql(name: str, **tables: str) -> str:
    """A merge statement with the fragments MERGE_FRAGMENTS lists for it, and our own table and
    column names (``tables``) in its other slots."""
    identifiers = {slot: Identifier(table) for slot, table in tables.items()}
    return render_sql(name, **MERGE_FRAGMENTS.get(name, {}), **identifiers)


class Merge:
    """The merge steps against one warehouse session."""

    def __init__(self, session: Session, settings: MergeSettings, now: Clock = utc_now) -> None:
        self._session = session
        self._settings = settings
        self._now = now

    # -- lease ---------------------------------------------------------------------------------

    def lease(self, execution: str | None = None) -> LeaseResult:
        """Claim everything staged so far, unless another merge runs or nothing is staged."""
        now = self._now()
        with self._session.transaction():
            self._session.execute(merge_sql("merge/lease/lock.sql"))
            self._session.execute(merge_sql("merge/lease/clear.sql"), {"now": now})
            holder = self._session.query(merge_sql("merge/lease/read.sql"))
            if holder:
                holder_id, expires_at = holder[0]
                return LeaseResult(
                    acquired=False,
                    reason=f"merge {holder_id} holds the lease until {expires_at:%H:%M:%S}",
                )
            files, loads = self._session.query(merge_sql("merge/lease/count_staged.sql"))[0]
            if files == 0:
                return LeaseResult(acquired=False, reason="nothing staged", files=0, loads=0)
            merge_id = uuid.uuid4().hex
            params = {
                "merge_id": merge_id,
                "now": now,
                "expires_at": now + timedelta(seconds=self._settings.merge_lease_seconds),
                "execution": execution,
                "files": files,
                "loads": loads,
            }
            self._session.execute(merge_sql("merge/lease/take.sql"), params)
            self._session.execute(merge_sql("merge/lease/claim_loads.sql"), params)
            self._session.execute(merge_sql("merge/lease/run_started.sql"), params)
        for table in ("events", "songs"):
            self._session.execute(merge_sql(f"merge/analyze_staging_{table}.sql"))
        logger.info("merge lease taken", extra={"merge_id": merge_id, "files": files})
        return LeaseResult(acquired=True, merge_id=merge_id, files=files, loads=loads)

    @contextmanager
    def _leased_transaction(self, merge_id: str, *, renew: bool = True) -> Iterator[None]:
        """A transaction that first proves (and, in sequential steps, extends) the lease."""
        now = self._now()
        params = {
            "merge_id": merge_id,
            "now": now,
            "expires_at": now + timedelta(seconds=self._settings.merge_lease_seconds),
        }
        with self._session.transaction():
            if renew:
                held = self._session.execute(merge_sql("merge/lease/renew.sql"), params)
            else:
                held = self._session.query(merge_sql("merge/lease/check.sql"), params)[0][0]
            if held != 1:
                raise LeaseLostError(f"merge {merge_id} no longer holds the lease")
            yield

    # -- upserts -------------------------------------------------------------------------------

    def upsert(self, table: UpsertTable, merge_id: str) -> UpsertResult:
        """MERGE one table from its de-duplicated batch; report inserted and updated rows."""
        # Dimensions run side by side: they only check the lease, the later steps renew it.
        with self._leased_transaction(merge_id, renew=table not in DIMENSIONS):
            return self._upsert(UPSERTS[table], merge_id)

    def _upsert(self, upsert: Upsert, merge_id: str) -> UpsertResult:
        params = {"merge_id": merge_id}
        # The fact's batch joins the plays twice (plays, song candidates): build them once.
        if upsert.target == "songplays":
            self._build_batch("plays_batch", merge_id)
        self._build_batch(upsert.batch_table, merge_id)
        (rows,) = self._session.query(
            merge_sql("merge/count_batch.sql", batch_table=upsert.batch_table)
        )[0]
        (matched,) = self._session.query(
            merge_sql(
                "merge/count_matched.sql",
                batch_table=upsert.batch_table,
                target=upsert.target,
                key=upsert.key,
            )
        )[0]
        self._session.execute(merge_sql(f"merge/{upsert.target}.sql"), params)
        return UpsertResult(
            table=upsert.target, rows=rows, inserted=rows - matched, updated=matched
        )

    def _build_batch(self, batch_table: str, merge_id: str) -> None:
        """(Re)create one temp batch table from its SQL file, with fresh statistics."""
        self._session.execute(merge_sql("merge/drop_batch_table.sql", batch_table=batch_table))
        self._session.execute(merge_sql(f"merge/{batch_table}.sql"), {"merge_id": merge_id})
        self._session.execute(merge_sql("merge/analyze_table.sql", table=batch_table))

    def rematch(self, merge_id: str) -> RematchResult:
        """Match earlier song-less plays against this merge's songs."""
        with self._leased_transaction(merge_id):
            return self._rematch(merge_id)

    def _rematch(self, merge_id: str) -> RematchResult:
        params = {"merge_id": merge_id}
        (new_songs,) = self._session.query(merge_sql("merge/count_claimed_songs.sql"), params)[0]
        if new_songs == 0:
            return RematchResult(rematched=0, reason="no new songs")
        self._build_batch("rematch_batch", merge_id)
        rematched = self._session.execute(merge_sql("merge/rematch.sql"), params)
        return RematchResult(rematched=rematched)

    # -- checks and the end --------------------------------------------------------------------

    def quality(self, merge_id: str) -> QualityResult:
        """Run every check in sql/merge/quality; any non-zero count fails the run."""
        with self._leased_transaction(merge_id):
            checks = self._quality(merge_id)
        failed = {name: count for name, count in checks.items() if count}
        if failed:
            raise QualityCheckFailedError(
                "quality checks failed: " + ", ".join(f"{n}={c}" for n, c in sorted(failed.items()))
            )
        return QualityResult(checks=checks)

    def _quality(self, merge_id: str) -> CheckCounts:
        self._build_batch("plays_batch", merge_id)
        return {
            name.removesuffix(".sql"): self._session.query(
                merge_sql(f"merge/quality/{name}"), {"merge_id": merge_id}
            )[0][0]
            for name in sql_dir_files("merge/quality")
        }

    def finalize(self, merge_id: str) -> FinalizeResult:
        """Remove the merged staging rows, mark the files merged, close the run, free the lease."""
        with self._leased_transaction(merge_id):
            # The stage's table order (sql/stage/lock_ledger.sql): ledger before staging tables.
            self._session.execute(render_sql("stage/lock_ledger.sql"))
            now = self._now()
            params = {"merge_id": merge_id, "now": now, "status": "succeeded", "error": None}
            files, oldest, average = self._session.query(
                merge_sql("merge/finalize/latency.sql"), params
            )[0]
            self._session.execute(merge_sql("merge/finalize/delete_staging_events.sql"), params)
            self._session.execute(merge_sql("merge/finalize/delete_staging_songs.sql"), params)
            merged = self._session.execute(merge_sql("merge/finalize/mark_merged.sql"), params)
            self._session.execute(merge_sql("merge/finalize/run_finished.sql"), params)
            self._session.execute(merge_sql("merge/lease/release.sql"), params)
        for table in ("staging_events", "staging_songs"):
            self._session.reclaim_space(table)
        epoch_now = (now - datetime(1970, 1, 1)).total_seconds()
        return FinalizeResult(
            files_merged=merged,
            latency_max_s=round(epoch_now - float(oldest), 3) if files else None,
            latency_avg_s=round(epoch_now - float(average), 3) if files else None,
        )

    def fail(self, merge_id: str | None, error: CaughtError) -> FailureResult:
        """Record the failure and free the lease; the loads stay staged for the next run."""
        described = error.one_line()
        if merge_id:
            params = {
                "merge_id": merge_id,
                "now": self._now(),
                "status": "failed",
                "error": fit_varchar(described, MERGE_RUN_ERROR_BYTES),
            }
            with self._session.transaction():
                self._session.execute(merge_sql("merge/finalize/run_finished.sql"), params)
                self._session.execute(merge_sql("merge/lease/release.sql"), params)
        logger.error("merge failed", extra={"merge_id": merge_id, "error": described})
        return FailureResult(
            merge_id=merge_id, released=bool(merge_id), error=described, error_type=error.name
        )

    def dry_run(self) -> DryRunReport:
        """Everything a merge would do now, in one transaction that is rolled back."""
        try:
            with self._session.transaction():
                files, loads = self._session.query(merge_sql("merge/lease/count_staged.sql"))[0]
                merge_id = "dryrun" + uuid.uuid4().hex[:26]
                params = {"merge_id": merge_id}
                self._session.execute(merge_sql("merge/lease/claim_loads.sql"), params)
                report = DryRunReport(
                    files=files,
                    loads=loads,
                    tables=[
                        self._upsert(UPSERTS[table], merge_id)
                        for table in (*DIMENSIONS, "songplays")
                    ],
                    rematch=self._rematch(merge_id),
                    checks=self._quality(merge_id),
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
    if isinstance(step, UpsertStep):
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
        case UpsertStep():
            return merge.upsert(step.table, step.merge_id)
        case RematchStep():
            return merge.rematch(step.merge_id)
        case QualityStep():
            return merge.quality(step.merge_id)
        case FinalizeStep():
            return merge.finalize(step.merge_id)
        case FailStep():
            return merge.fail(step.merge_id, step.error)
    assert_never(step)


def _emit_step_metrics(result: StepResult, add_metric: Callable[..., None]) -> None:
    match result:
        case UpsertResult():
            add_metric(name=MetricName.ROWS_INSERTED, unit=MetricUnit.Count, value=result.inserted)
            add_metric(name=MetricName.ROWS_UPDATED, unit=MetricUnit.Count, value=result.updated)
        case RematchResult():
            add_metric(
                name=MetricName.PLAYS_REMATCHED, unit=MetricUnit.Count, value=result.rematched
            )
        case FinalizeResult():
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
            if result.error_type == QualityCheckFailedError.__name__:
                add_metric(name=MetricName.QUALITY_CHECK_FAILURES, unit=MetricUnit.Count, value=1)
