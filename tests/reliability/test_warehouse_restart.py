"""The warehouse crashes and restarts in the middle of a stage batch and of a merge step;
after recovery the star schema is the fault-free run's, row for row.

To hit "mid-batch" every time rather than by timing luck, the test holds a lock on the tables
the work writes; once PostgreSQL shows that work's open transaction waiting on the lock, the
warehouse is crashed (immediate shutdown, WAL replay on start) and started again.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
from psycopg import sql

from sparkify_local.pipeline import LocalPipeline
from sparkify_local.runtime import processes
from tests.support.raw_files import RawCounts
from tests.support.stack import assert_converged, assert_sample_recovered

BLOCKED_TIMEOUT_S = 60.0


@contextlib.contextmanager
def tables_held(pipeline: LocalPipeline, *tables: str) -> Iterator[None]:
    """Hold an exclusive lock on the tables (in an open transaction) while the block runs.

    A checkpoint first: crash recovery then replays only this test's work, not the WAL of every
    earlier test in the session (a slow replay would outlast the queue's redeliveries)."""
    with psycopg.connect(pipeline.endpoints.warehouse_url, autocommit=True) as admin:
        admin.execute("CHECKPOINT")
    connection = psycopg.connect(pipeline.endpoints.warehouse_url)
    try:
        connection.execute(
            sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(
                sql.SQL(", ").join(map(sql.Identifier, tables))
            )
        )
        yield
    finally:
        with contextlib.suppress(psycopg.Error):  # the restart already closed it
            connection.close()


def wait_until_blocked(pipeline: LocalPipeline, *tables: str) -> None:
    """Return once another session's transaction waits for a lock on one of the tables."""
    deadline = time.monotonic() + BLOCKED_TIMEOUT_S
    with psycopg.connect(pipeline.endpoints.warehouse_url, autocommit=True) as probe:
        while time.monotonic() < deadline:
            waiting = probe.execute(
                "SELECT COUNT(*) FROM pg_locks WHERE NOT granted"
                " AND relation = ANY(%s::text[]::regclass[])",
                (list(tables),),
            ).fetchone()
            if waiting and waiting[0]:
                return
            time.sleep(0.05)
    raise AssertionError(f"nothing waited on {tables} within {BLOCKED_TIMEOUT_S}s")


def test_warehouse_restarted_mid_stage_batch_loses_and_duplicates_nothing(
    pipeline: LocalPipeline,
    sample_dir: Path,
    sample_counts: RawCounts,
    sample_reference: dict,
) -> None:
    # Given the real sample in the landing bucket
    uploaded = pipeline.upload([sample_dir], progress=False)

    # When the warehouse crashes while a stage batch's transaction is open, and comes back
    staging_tables = ("staging_events", "staging_songs")
    with ThreadPoolExecutor(1) as runner:
        with tables_held(pipeline, *staging_tables):
            staging = runner.submit(pipeline.stage, progress=False)
            wait_until_blocked(pipeline, *staging_tables)
            pipeline.restart_warehouse()
        drain = staging.result()
    summary = pipeline.summarize(uploaded, drain)

    # Then the interrupted batch failed back to the queue and was staged on redelivery, once
    assert drain.failed_messages >= 1, summary.render()
    assert_sample_recovered(pipeline, summary, sample_counts, sample_reference)


def test_warehouse_restarted_mid_merge_step_is_retried_and_converges(
    pipeline: LocalPipeline, sample_dir: Path, sample_reference: dict
) -> None:
    # Given the real sample staged
    summary = pipeline.load([sample_dir], progress=False)
    assert summary.ok, summary.render()

    # When the warehouse crashes while a merge step's transaction is open, and comes back
    with ThreadPoolExecutor(1) as runner:
        with tables_held(pipeline, "songplays"):
            merging = runner.submit(pipeline.merge)
            wait_until_blocked(pipeline, "songplays")
            pipeline.restart_warehouse()
        outcome = merging.result()

    # Then the state machine's Retry ran the step again, and the run converged
    assert outcome.ok, outcome.render()
    history = pipeline.stack.sfn.get_execution_history(
        executionArn=outcome.execution_arn, maxResults=1000
    )["events"]
    failures = [
        event["taskFailedEventDetails"]["error"]
        for event in history
        if "taskFailedEventDetails" in event
    ]
    assert "TransientWarehouseError" in failures, failures
    assert_converged(pipeline, sample_reference)


def test_a_warm_session_outlives_a_warehouse_restart_without_failing_a_call(
    pipeline: LocalPipeline,
) -> None:
    # Given a warm session, as a warm function environment holds one
    warm = pipeline.warehouse.session()

    # When the warehouse restarts behind its back
    processes.restart_warehouse(pipeline.home)

    # Then the next call gets a live session instead of an error
    session = pipeline.warehouse.session()
    assert session is not warm
    assert session.query("SELECT 1") == [(1,)]
