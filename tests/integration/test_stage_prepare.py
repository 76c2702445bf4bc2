"""The PostgreSQL engine reads and parses a batch's files before the stage transaction takes the
ledger lock (``Session.prepare_staging``), so concurrent batches wait for each other only while
the ledger is decided, not while S3 is read; a rolled-back transaction keeps what was prepared
before it and forgets what was prepared inside it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from sparkify_loader.stage import stage_batch
from sparkify_loader.warehouse.base import Session
from sparkify_local.pipeline import LocalPipeline
from tests.integration.test_concurrency import (
    EVENTS_PER_FILE,
    MAX_ATTEMPTS,
    SONGS_PER_ROUND,
    WAIT_S,
    assert_staged_once,
    land,
)
from tests.support.locks import wait_until_blocked


class Rollback(Exception):
    """Raised inside a transaction to roll it back."""


def delete_objects(pipeline: LocalPipeline, keys: list[str]) -> None:
    pipeline.stack.s3.delete_objects(
        Bucket=pipeline.stack.bucket, Delete={"Objects": [{"Key": key} for key in keys]}
    )


def test_a_batch_reads_its_files_before_it_waits_for_the_ledger(
    pipeline: LocalPipeline,
) -> None:
    # Given a batch whose stage transaction queues behind another session's ledger lock
    landed = land(pipeline, "early-read")
    session = pipeline.warehouse.session()
    with psycopg.connect(pipeline.endpoints.warehouse_url, autocommit=True) as holder:
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE load_ledger IN SHARE MODE")
        with ThreadPoolExecutor(1) as pool:
            staged = pool.submit(stage_batch, session, landed.batch, max_attempts=MAX_ATTEMPTS)
            wait_until_blocked(holder, backends=1)

            # When its files are deleted from S3 while it waits, and the lock is released
            delete_objects(pipeline, landed.keys)
            holder.execute("ROLLBACK")
            report = staged.result(timeout=WAIT_S)

    # Then it had read every file before it waited: all are staged, none "missing"
    assert report.count("staged") == len(landed.keys)
    assert_staged_once(pipeline, landed)
    # and, committed, the warm session keeps none of the batch's rows in temporary tables
    assert session.query(
        "SELECT to_regclass('pg_temp.prepared_staging_events'),"
        " to_regclass('pg_temp.prepared_staging_songs'),"
        " (SELECT COUNT(*) FROM pg_temp.copy_lines)"
    ) == [(None, None, 0)]


@pytest.mark.parametrize("prepared_first", [True, False], ids=["prepared", "unprepared"])
def test_a_rolled_back_copy_stages_every_row_once_when_run_again(
    pipeline: LocalPipeline, prepared_first: bool
) -> None:
    # Given a batch's files, read ahead of the transaction or not
    landed = land(pipeline, f"rollback-{prepared_first}")
    session: Session = pipeline.warehouse.session()
    by_dataset = {obj.dataset.name: obj.dataset for obj in landed.batch.objects}
    objects = {
        name: [obj for obj in landed.batch.objects if obj.dataset.name == name]
        for name in by_dataset
    }
    if prepared_first:
        for name, dataset in by_dataset.items():
            session.prepare_staging(dataset, objects[name])

    # When a transaction copies them and rolls back, and the next one copies them again
    with pytest.raises(Rollback), session.transaction():
        for name, dataset in by_dataset.items():
            session.copy_into_staging(dataset, objects[name], "a" * 32)
        raise Rollback
    with session.transaction():
        outcomes = {
            version: outcome
            for name, dataset in by_dataset.items()
            for version, outcome in session.copy_into_staging(
                dataset, objects[name], "b" * 32
            ).items()
        }

    # Then the second copy stages each file's rows exactly once, counted
    rows = {key: outcome.rows for (_, key, _), outcome in outcomes.items()}
    assert rows == {
        key: EVENTS_PER_FILE if key.startswith("log_data/") else 1 for key in landed.keys
    }
    (events, songs) = session.query(
        "SELECT (SELECT COUNT(*) FROM staging_events WHERE load_id = %(load)s),"
        " (SELECT COUNT(*) FROM staging_songs WHERE load_id = %(load)s)",
        {"load": "b" * 32},
    )[0]
    assert (events, songs) == (EVENTS_PER_FILE, SONGS_PER_ROUND)
    (rolled_back,) = session.query(
        "SELECT COUNT(*) FROM staging_events WHERE load_id = %(load)s", {"load": "a" * 32}
    )[0]
    assert rolled_back == 0
