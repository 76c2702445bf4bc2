"""Staging -> star schema, one Step Functions state per function here.

Every step is an idempotent upsert computed from the staging rows of the loads the merge
claimed; staging rows are only removed by ``finalize``. So a run that dies after any step and
is run again ends in the same tables as an uninterrupted run.

One merge at a time: ``lease`` takes a row in ``merge_lease`` under serializable isolation; each
later step renews it, and stops (LeaseLostError) if it expired and another merge took over.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sparkify_loader.config import MergeSettings
from sparkify_loader.observability import MetricName, logger
from sparkify_loader.sqlfiles import load_sql, sql_dir_files
from sparkify_loader.warehouse import Session, Warehouse

Clock = Callable[[], datetime]


class LeaseLostError(RuntimeError):
    """This merge's lease expired and may belong to another merge now: stop, change nothing."""


class QualityCheckFailedError(RuntimeError):
    """A quality check found a problem: the run fails and the loads stay staged."""


class UnknownStepError(ValueError):
    """The state machine asked for a step this function does not have."""


@dataclass(frozen=True)
class Upsert:
    """One MERGE: its de-duplicated batch table and the target's key."""

    target: str
    batch_table: str
    key: str


UPSERTS = {
    "users": Upsert("users", "users_batch", "user_id"),
    "songs": Upsert("songs", "songs_batch", "song_id"),
    "artists": Upsert("artists", "artists_batch", "artist_id"),
    "time": Upsert("time", "time_batch", "start_time"),
    "songplays": Upsert("songplays", "songplays_batch", "songplay_id"),
}
DIMENSIONS = ("users", "songs", "artists", "time")
# In splicing order: a fragment may contain the ones after it.
MERGE_FRAGMENTS = ("batch_plays", "song_match", "claimed_loads")


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def merge_sql(name: str) -> str:
    """A merge SQL file with its fragments (sql/merge/fragments/NAME.sql for ``{NAME}``)
    spliced in; a fragment may use another (batch plays use the claimed loads)."""
    statement = load_sql(name)
    for fragment in MERGE_FRAGMENTS:
        statement = statement.replace(
            f"{{{fragment}}}", load_sql(f"merge/fragments/{fragment}.sql")
        )
    return statement


class Merge:
    """The merge steps against one warehouse session."""

    def __init__(self, session: Session, settings: MergeSettings, now: Clock = utc_now) -> None:
        self._session = session
        self._settings = settings
        self._now = now

    # -- lease ---------------------------------------------------------------------------------

    def lease(self, execution: str | None = None) -> dict[str, Any]:
        """Claim everything staged so far, unless another merge runs or nothing is staged."""
        now = self._now()
        with self._session.transaction():
            self._session.execute(load_sql("merge/lease/clear.sql"), {"now": now})
            holder = self._session.query(load_sql("merge/lease/read.sql"))
            if holder:
                holder_id, expires_at = holder[0]
                return {
                    "acquired": False,
                    "reason": f"merge {holder_id} holds the lease until {expires_at:%H:%M:%S}",
                }
            files, loads = self._session.query(load_sql("merge/lease/count_staged.sql"))[0]
            if files == 0:
                return {"acquired": False, "reason": "nothing staged", "files": 0, "loads": 0}
            merge_id = uuid.uuid4().hex
            params = {
                "merge_id": merge_id,
                "now": now,
                "expires_at": now + timedelta(seconds=self._settings.merge_lease_seconds),
                "execution": execution,
                "files": files,
                "loads": loads,
            }
            self._session.execute(load_sql("merge/lease/take.sql"), params)
            self._session.execute(load_sql("merge/lease/claim_loads.sql"), params)
            self._session.execute(load_sql("merge/lease/run_started.sql"), params)
        for table in ("events", "songs"):
            self._session.execute(load_sql(f"merge/analyze_staging_{table}.sql"))
        logger.info("merge lease taken", extra={"merge_id": merge_id, "files": files})
        return {"acquired": True, "merge_id": merge_id, "files": files, "loads": loads}

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
                held = self._session.execute(load_sql("merge/lease/renew.sql"), params)
            else:
                held = self._session.query(load_sql("merge/lease/check.sql"), params)[0][0]
            if held != 1:
                raise LeaseLostError(f"merge {merge_id} no longer holds the lease")
            yield

    # -- upserts -------------------------------------------------------------------------------

    def upsert(self, table: str, merge_id: str) -> dict[str, Any]:
        """MERGE one table from its de-duplicated batch; report inserted and updated rows."""
        # Dimensions run side by side: they only check the lease, the later steps renew it.
        with self._leased_transaction(merge_id, renew=table not in DIMENSIONS):
            return self._upsert(UPSERTS[table], merge_id)

    def _upsert(self, upsert: Upsert, merge_id: str) -> dict[str, Any]:
        params = {"merge_id": merge_id}
        names = {"batch_table": upsert.batch_table, "target": upsert.target, "key": upsert.key}
        # The fact's batch joins the plays twice (plays, song candidates): build them once.
        if upsert.target == "songplays":
            self._build_batch("plays_batch", merge_id)
        self._build_batch(upsert.batch_table, merge_id)
        (rows,) = self._session.query(_fill(load_sql("merge/count_batch.sql"), names))[0]
        (matched,) = self._session.query(_fill(load_sql("merge/count_matched.sql"), names))[0]
        self._session.execute(merge_sql(f"merge/{upsert.target}.sql"), params)
        return {
            "table": upsert.target,
            "rows": rows,
            "inserted": rows - matched,
            "updated": matched,
        }

    def _build_batch(self, batch_table: str, merge_id: str) -> None:
        """(Re)create one temp batch table from its SQL file, with fresh statistics."""
        names = {"batch_table": batch_table}
        self._session.execute(_fill(load_sql("merge/drop_batch_table.sql"), names))
        self._session.execute(merge_sql(f"merge/{batch_table}.sql"), {"merge_id": merge_id})
        self._session.execute(_fill(load_sql("merge/analyze_table.sql"), {"table": batch_table}))

    def rematch(self, merge_id: str) -> dict[str, Any]:
        """Match earlier song-less plays against this merge's songs."""
        with self._leased_transaction(merge_id):
            return self._rematch(merge_id)

    def _rematch(self, merge_id: str) -> dict[str, Any]:
        params = {"merge_id": merge_id}
        (new_songs,) = self._session.query(merge_sql("merge/count_claimed_songs.sql"), params)[0]
        if new_songs == 0:
            return {"table": "songplays", "rematched": 0, "reason": "no new songs"}
        self._build_batch("rematch_batch", merge_id)
        rematched = self._session.execute(merge_sql("merge/rematch.sql"), params)
        return {"table": "songplays", "rematched": rematched}

    # -- checks and the end --------------------------------------------------------------------

    def quality(self, merge_id: str) -> dict[str, Any]:
        """Run every check in sql/merge/quality; any non-zero count fails the run."""
        with self._leased_transaction(merge_id):
            checks = self._quality(merge_id)
        failed = {name: count for name, count in checks.items() if count}
        if failed:
            raise QualityCheckFailedError(
                "quality checks failed: " + ", ".join(f"{n}={c}" for n, c in sorted(failed.items()))
            )
        return {"checks": checks}

    def _quality(self, merge_id: str) -> dict[str, int]:
        self._build_batch("plays_batch", merge_id)
        return {
            name.removesuffix(".sql"): self._session.query(
                merge_sql(f"merge/quality/{name}"), {"merge_id": merge_id}
            )[0][0]
            for name in sql_dir_files("merge/quality")
        }

    def finalize(self, merge_id: str) -> dict[str, Any]:
        """Remove the merged staging rows, mark the files merged, close the run, free the lease."""
        with self._leased_transaction(merge_id):
            now = self._now()
            params = {"merge_id": merge_id, "now": now, "status": "succeeded", "error": None}
            files, oldest, average = self._session.query(
                load_sql("merge/finalize/latency.sql"), params
            )[0]
            self._session.execute(merge_sql("merge/finalize/delete_staging_events.sql"), params)
            self._session.execute(merge_sql("merge/finalize/delete_staging_songs.sql"), params)
            merged = self._session.execute(load_sql("merge/finalize/mark_merged.sql"), params)
            self._session.execute(load_sql("merge/finalize/run_finished.sql"), params)
            self._session.execute(load_sql("merge/lease/release.sql"), params)
        for table in ("staging_events", "staging_songs"):
            self._session.reclaim_space(table)
        epoch_now = (now - datetime(1970, 1, 1)).total_seconds()
        return {
            "files_merged": merged,
            "latency_max_s": round(epoch_now - float(oldest), 3) if files else None,
            "latency_avg_s": round(epoch_now - float(average), 3) if files else None,
        }

    def fail(self, merge_id: str | None, error: str) -> dict[str, Any]:
        """Record the failure and free the lease; the loads stay staged for the next run."""
        if merge_id:
            params = {
                "merge_id": merge_id,
                "now": self._now(),
                "status": "failed",
                "error": error[:4000],
            }
            with self._session.transaction():
                self._session.execute(load_sql("merge/finalize/run_finished.sql"), params)
                self._session.execute(load_sql("merge/lease/release.sql"), params)
        logger.error("merge failed", extra={"merge_id": merge_id, "error": error})
        return {"merge_id": merge_id, "released": bool(merge_id), "error": error}

    def dry_run(self) -> dict[str, Any]:
        """Everything a merge would do now, in one transaction that is rolled back."""
        report: dict[str, Any] = {"dry_run": True}
        try:
            with self._session.transaction():
                files, loads = self._session.query(load_sql("merge/lease/count_staged.sql"))[0]
                report.update(files=files, loads=loads)
                merge_id = "dryrun" + uuid.uuid4().hex[:26]
                params = {"merge_id": merge_id}
                self._session.execute(load_sql("merge/lease/claim_loads.sql"), params)
                report["tables"] = [
                    self._upsert(UPSERTS[table], merge_id) for table in (*DIMENSIONS, "songplays")
                ]
                report["rematch"] = self._rematch(merge_id)
                report["checks"] = self._quality(merge_id)
                raise _RollBack
        except _RollBack:
            pass
        return report


class _RollBack(Exception):
    pass


def _fill(template: str, names: dict[str, str]) -> str:
    """Put our own constant identifiers (never user input) into a statement's {slots}."""
    for slot, identifier in names.items():
        if not identifier.replace("_", "").isalnum():
            raise ValueError(f"not a plain identifier: {identifier!r}")
        template = template.replace("{" + slot + "}", identifier)
    return template


def run_merge_step(
    event: dict[str, Any],
    warehouse: Warehouse,
    settings: MergeSettings,
    add_metric: Callable[..., None],
    add_dimension: Callable[[str, str], None],
    now: Clock = utc_now,
) -> dict[str, Any]:
    """Dispatch one state machine Task to its step; emit the step's metrics."""
    step = event.get("step")
    merge = Merge(warehouse.session(), settings, now)
    merge_id = event.get("merge_id")
    started = time.perf_counter()
    if step == "lease":
        result = merge.lease(event.get("execution"))
    elif step == "dry_run":
        result = merge.dry_run()
    elif step == "upsert":
        result = merge.upsert(event["table"], merge_id)
    elif step == "rematch":
        result = merge.rematch(merge_id)
    elif step == "quality":
        result = merge.quality(merge_id)
    elif step == "finalize":
        result = merge.finalize(merge_id)
    elif step == "fail":
        result = merge.fail(merge_id, _describe_failure(event.get("error")))
    else:
        raise UnknownStepError(f"unknown merge step {step!r}")
    add_dimension("Step", str(step))
    if step == "upsert":
        add_dimension("Table", str(event["table"]))
    add_metric(
        name=MetricName.STEP_DURATION_MS,
        unit="Milliseconds",
        value=(time.perf_counter() - started) * 1000,
    )
    _emit_step_metrics(step, result, add_metric)
    logger.info("merge step done", extra={"step": step, "merge_id": merge_id, "result": result})
    return result


def _emit_step_metrics(step: str, result: dict[str, Any], add_metric: Callable[..., None]) -> None:
    if step == "upsert":
        add_metric(name=MetricName.ROWS_INSERTED, unit="Count", value=result["inserted"])
        add_metric(name=MetricName.ROWS_UPDATED, unit="Count", value=result["updated"])
    elif step == "rematch":
        add_metric(name=MetricName.PLAYS_REMATCHED, unit="Count", value=result["rematched"])
    elif step == "finalize":
        add_metric(name=MetricName.FILES_MERGED, unit="Count", value=result["files_merged"])
        if result["latency_max_s"] is not None:
            add_metric(
                name=MetricName.END_TO_END_LATENCY_S, unit="Seconds", value=result["latency_max_s"]
            )
    elif step == "fail":
        add_metric(name=MetricName.MERGE_FAILED, unit="Count", value=1)
        if "QualityCheckFailedError" in result["error"]:
            add_metric(name=MetricName.QUALITY_CHECK_FAILURES, unit="Count", value=1)


def _describe_failure(error: Any) -> str:
    """The Catch block's error object ({"Error", "Cause"}) as one line."""
    if isinstance(error, dict):
        return f"{error.get('Error', 'Error')}: {error.get('Cause', '')}"
    return str(error or "unknown error")
