"""The real sample through the real stage path: exact counts, and redelivery adds nothing."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from sparkify_local.pipeline import LocalPipeline
from sparkify_local.runtime.resources import STAGE_QUEUE
from tests.support.raw_files import RawCounts
from tests.support.stack import staging_snapshot

EPOCH = datetime(1970, 1, 1)


def _staged_event_keys(pipeline: LocalPipeline) -> list[tuple]:
    rows = pipeline.warehouse.session().query(
        "SELECT session_id, item_in_session, user_id, ts FROM staging_events"
    )
    return [
        (
            session,
            item,
            "" if user is None else str(user),
            (ts - EPOCH) // timedelta(milliseconds=1),
        )
        for session, item, user, ts in rows
    ]


def test_real_sample_stages_every_row_once(
    pipeline: LocalPipeline, sample_dir: Path, sample_counts: RawCounts
) -> None:
    # Given the real sample, counted independently from its raw files
    # When it is loaded through notifications and the stage handler
    summary = pipeline.load([sample_dir], progress=False)

    # Then every file is staged, with exactly the raw rows, each once
    assert summary.ok, summary.render()
    assert dict(summary.statuses) == {"staged": sample_counts.log_files + sample_counts.song_files}
    staged = _staged_event_keys(pipeline)
    assert len(staged) == sample_counts.events
    assert set(staged) == sample_counts.event_keys
    song_ids = pipeline.warehouse.session().query("SELECT song_id FROM staging_songs")
    raw_song_ids = {
        json.loads(path.read_text())["song_id"]
        for path in (sample_dir / "song_data").rglob("*.json")
    }
    assert sorted(row[0] for row in song_ids) == sorted(raw_song_ids)
    assert summary.rows == {"events": sample_counts.events, "songs": sample_counts.song_files}


def test_timestamps_keep_milliseconds(pipeline: LocalPipeline, sample_dir: Path) -> None:
    # Given the sample's first log line
    first_file = sorted((sample_dir / "log_data").rglob("*.json"))[0]
    first = json.loads(first_file.read_text().splitlines()[0])

    # When the sample is staged
    pipeline.load([sample_dir], progress=False)

    # Then its ts is the epoch-milliseconds instant, milliseconds kept
    (ts,) = pipeline.warehouse.session().query(
        "SELECT ts FROM staging_events WHERE session_id = %(s)s AND item_in_session = %(i)s",
        {"s": first["sessionId"], "i": first["itemInSession"]},
    )[0]
    assert ts == EPOCH + timedelta(milliseconds=first["ts"])
    assert ts.microsecond % 1000 == 0 and ts.microsecond == (first["ts"] % 1000) * 1000


def test_reloading_the_same_files_adds_nothing(pipeline: LocalPipeline, sample_dir: Path) -> None:
    # Given the sample staged once
    pipeline.load([sample_dir], progress=False)
    before = staging_snapshot(pipeline)

    # When the same files are uploaded again (same content, same etags)
    summary = pipeline.load([sample_dir], progress=False)

    # Then no staging or ledger row changed
    assert summary.ok
    assert staging_snapshot(pipeline) == before


def test_each_event_delivered_three_times_stages_once(
    pipeline: LocalPipeline, sample_dir: Path, sample_counts: RawCounts
) -> None:
    # Given the sample uploaded, its notifications still queued
    pipeline.upload([sample_dir], progress=False)
    queue_url = pipeline.stack.queue_url(STAGE_QUEUE)
    sqs = pipeline.stack.sqs
    bodies = []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
        "Messages", []
    ):
        bodies += [message["Body"] for message in messages]
        for message in messages:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    # When every notification is delivered three times
    for body in bodies * 3:
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    pipeline.stage(progress=False)

    # Then every row is staged exactly once and the ledger holds one row per file
    staged = _staged_event_keys(pipeline)
    assert len(staged) == sample_counts.events
    (files,) = pipeline.warehouse.session().query("SELECT COUNT(*) FROM load_ledger")[0]
    assert files == sample_counts.log_files + sample_counts.song_files
