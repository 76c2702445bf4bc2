"""The same files in two concurrent stage batches are staged exactly once, under both isolation
levels Redshift runs: SNAPSHOT (its default since 2024; PostgreSQL's REPEATABLE READ) and
SERIALIZABLE.

Two threads, each with its own warehouse session (its own PostgreSQL connection, as two Lambda
environments have), stage the same parsed batch at once. Under SNAPSHOT nothing would conflict:
both would miss the files in the ledger and both insert. The stage transaction's first
statement, ``LOCK load_ledger``, makes the second wait until the first commits; it then finds
the files in the ledger.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from sparkify_loader.events import ParsedBatch, parse_batch
from sparkify_loader.stage import StageReport, stage_batch
from sparkify_loader.warehouse.base import Session
from sparkify_loader.warehouse.postgres import Isolation, PostgresWarehouse
from sparkify_local.pipeline import LocalPipeline
from tests.support.events import object_created
from tests.support.locks import wait_until_blocked

ROUNDS = 5
SONGS_PER_ROUND = 3
EVENTS_PER_FILE = 4
MAX_ATTEMPTS = 6
WAIT_S = 30.0


@pytest.fixture(params=["snapshot", "serializable"])
def two_sessions(
    pipeline: LocalPipeline, request: pytest.FixtureRequest
) -> Iterator[tuple[Session, Session]]:
    """Two independent connections at one isolation level, opened here; they share the stack's
    (thread-safe) S3 client."""
    isolation: Isolation = request.param
    warehouses = [
        PostgresWarehouse(
            pipeline.endpoints.warehouse_url, s3=pipeline.stack.warehouse_s3, isolation=isolation
        )
        for _ in range(2)
    ]
    yield warehouses[0].session(), warehouses[1].session()
    for warehouse in warehouses:
        warehouse.close()


@dataclass(frozen=True)
class Landed:
    batch: ParsedBatch
    song_ids: list[str]

    @property
    def keys(self) -> list[str]:
        return sorted(obj.key for obj in self.batch.objects)


def land(pipeline: LocalPipeline, prefix: str) -> Landed:
    """Put song files and a log file into the bucket; return the parsed batch announcing them."""
    contents = {
        f"song_data/{prefix}/song-{index}.json": json.dumps(
            {"song_id": f"SO-{prefix}-{index}", "title": "t", "num_songs": 1}
        )
        for index in range(SONGS_PER_ROUND)
    }
    contents[f"log_data/{prefix}/events.json"] = "\n".join(
        json.dumps({"page": "Home", "ts": 1, "sessionId": 1, "itemInSession": i, "userId": ""})
        for i in range(EVENTS_PER_FILE)
    )
    records = []
    for key, body in contents.items():
        response = pipeline.stack.s3.put_object(Bucket=pipeline.stack.bucket, Key=key, Body=body)
        records.append(object_created(key, response["ETag"]))
    song_ids = [f"SO-{prefix}-{index}" for index in range(SONGS_PER_ROUND)]
    return Landed(parse_batch([SQSRecord(record) for record in records]), song_ids)


def first_call_waits(barrier: threading.Barrier) -> Callable[[], datetime]:
    """stage_batch's clock, read once per attempt inside the transaction: the first attempt of
    each side waits for the other there, so both transactions are open at the same time."""
    waited = threading.local()

    def now() -> datetime:
        if not getattr(waited, "done", False):
            waited.done = True
            barrier.wait(timeout=WAIT_S)
        return datetime.now(UTC).replace(tzinfo=None)

    return now


def stage_both(sessions: tuple[Session, Session], batch: ParsedBatch) -> list[StageReport]:
    barrier = threading.Barrier(2)
    with ThreadPoolExecutor(2) as pool:
        futures = [
            pool.submit(
                stage_batch,
                session,
                batch,
                max_attempts=MAX_ATTEMPTS,
                now=first_call_waits(barrier),
            )
            for session in sessions
        ]
        return [future.result(timeout=WAIT_S) for future in futures]


def assert_staged_once(pipeline: LocalPipeline, landed: Landed) -> None:
    session = pipeline.warehouse.session()
    ledger = session.query(
        "SELECT key, status, load_id FROM load_ledger WHERE key = ANY(%(keys)s) ORDER BY key",
        {"keys": landed.keys},
    )
    assert [(key, status) for key, status, _ in ledger] == [(k, "staged") for k in landed.keys]
    songs = session.query(
        "SELECT song_id FROM staging_songs WHERE song_id = ANY(%(ids)s)", {"ids": landed.song_ids}
    )
    assert sorted(row[0] for row in songs) == sorted(landed.song_ids)
    (events,) = session.query(
        "SELECT COUNT(*) FROM staging_events WHERE load_id = ANY(%(loads)s)",
        {"loads": [load_id for _, _, load_id in ledger]},
    )[0]
    assert events == EVENTS_PER_FILE


def assert_one_side_staged_and_the_other_saw_duplicates(
    reports: list[StageReport], files: int
) -> None:
    winner, loser = sorted(reports, key=lambda report: report.count("staged"), reverse=True)
    assert winner.count("staged") == files
    assert loser.count("staged") == 0 and loser.outcomes == {}
    assert loser.duplicates == files


def test_same_files_in_two_concurrent_batches_stage_once(
    pipeline: LocalPipeline, two_sessions: tuple[Session, Session]
) -> None:
    for round_no in range(ROUNDS):
        # Given the same batch handed to two stage invocations at the same moment
        landed = land(pipeline, f"round{round_no}")

        # When both stage it, their transactions overlapping
        reports = stage_both(two_sessions, landed.batch)

        # Then the files are staged exactly once: one side loaded them, the other found them
        # in the ledger once the first had committed
        assert_staged_once(pipeline, landed)
        assert_one_side_staged_and_the_other_saw_duplicates(reports, len(landed.batch.objects))


def test_the_second_batch_waits_for_the_ledger_and_finds_the_files(
    pipeline: LocalPipeline, two_sessions: tuple[Session, Session]
) -> None:
    # Given the same batch for two invocations, and a third session holding a lock on the ledger
    # that lets reads pass, so that both stage transactions are open before either can go on
    landed = land(pipeline, "held")
    with psycopg.connect(pipeline.endpoints.warehouse_url, autocommit=True) as holder:
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE load_ledger IN SHARE MODE")
        with ThreadPoolExecutor(2) as pool:
            futures = [
                pool.submit(stage_batch, session, landed.batch, max_attempts=MAX_ATTEMPTS)
                for session in two_sessions
            ]
            # Both wait at their first statement, LOCK load_ledger, before reading the ledger
            wait_until_blocked(holder, backends=2)

            # When the holder lets go
            holder.execute("ROLLBACK")
            reports = [future.result(timeout=WAIT_S) for future in futures]

    # Then the second transaction ran after the first committed, with no conflict to retry,
    # and the files are staged exactly once
    assert [report.attempts for report in reports] == [1, 1]
    assert_one_side_staged_and_the_other_saw_duplicates(reports, len(landed.batch.objects))
    assert_staged_once(pipeline, landed)
