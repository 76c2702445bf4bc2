"""The stage handler's logic, called in-process with SQS events built from tests/events/, against
the real moto S3 and the real embedded PostgreSQL: every kind of message has its outcome."""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from sparkify_loader.config import StageSettings
from sparkify_loader.stage import stage_sqs_event
from sparkify_loader.warehouse.postgres import PostgresWarehouse
from sparkify_local.pipeline import LocalPipeline
from tests.support.documents import song as song_document
from tests.support.events import object_created, s3_test_event_record, sqs_event, sqs_record


def song(song_id: str, title: str = "Caught In A Dream") -> str:
    return json.dumps(song_document(song_id=song_id, title=title))


def put(pipeline: LocalPipeline, key: str, content: str) -> str:
    """Write one object to the landing bucket; return its etag as the notification carries it."""
    response = pipeline.stack.s3.put_object(
        Bucket=pipeline.stack.bucket, Key=key, Body=content.encode()
    )
    return response["ETag"].strip('"')


def ledger(pipeline: LocalPipeline) -> list[tuple]:
    return sorted(
        pipeline.warehouse.session().query(
            "SELECT key, etag, status, rows, error FROM load_ledger"
        ),
        key=repr,
    )


def staged_songs(pipeline: LocalPipeline) -> list[tuple]:
    return sorted(
        pipeline.warehouse.session().query("SELECT song_id, title FROM staging_songs"), key=repr
    )


def failed_ids(response: Mapping[str, Any]) -> set[str]:
    return {item["itemIdentifier"] for item in response["batchItemFailures"]}


def test_s3_test_event_is_ignored(
    pipeline: LocalPipeline, warehouse: PostgresWarehouse, stage_settings: StageSettings
) -> None:
    # Given the s3:TestEvent S3 sends when the notification is configured
    event = sqs_event(s3_test_event_record())

    # When it is staged
    response = stage_sqs_event(event, warehouse, stage_settings, None)

    # Then it is acknowledged and leaves no trace
    assert response == {"batchItemFailures": []}
    assert ledger(pipeline) == []


def test_key_outside_the_landing_prefixes_is_skipped(
    pipeline: LocalPipeline, warehouse: PostgresWarehouse, stage_settings: StageSettings
) -> None:
    # Given objects under other prefixes (present in the bucket, and valid JSON)
    keys = ["_loader/manifests/batch.json", "archive/song_data/old.json", "notes.json"]
    records = [object_created(key, put(pipeline, key, song("SOOTHER"))) for key in keys]

    # When their notifications are staged
    response = stage_sqs_event(sqs_event(*records), warehouse, stage_settings, None)

    # Then they are skipped: not a failure, no ledger row, no staging row
    assert response == {"batchItemFailures": []}
    assert ledger(pipeline) == []
    assert staged_songs(pipeline) == []


@pytest.mark.parametrize(
    "bad_body",
    ["this is not JSON", '{"Message": "no Records here"}'],
    ids=["body_not_json", "json_without_records"],
)
def test_malformed_message_fails_alone(
    pipeline: LocalPipeline,
    warehouse: PostgresWarehouse,
    stage_settings: StageSettings,
    bad_body: str,
) -> None:
    # Given a batch with a malformed message between two good ones
    first = put(pipeline, "song_data/first.json", song("SOFIRST"))
    second = put(pipeline, "song_data/second.json", song("SOSECOND"))
    event = sqs_event(
        object_created("song_data/first.json", first, message_id="good-1"),
        sqs_record(bad_body, message_id="poison"),
        object_created("song_data/second.json", second, message_id="good-2"),
    )

    # When the batch is staged
    response = stage_sqs_event(event, warehouse, stage_settings, None)

    # Then only the malformed message goes back to the queue, and the good ones are staged
    assert failed_ids(response) == {"poison"}
    assert ledger(pipeline) == [
        ("song_data/first.json", first, "staged", 1, None),
        ("song_data/second.json", second, "staged", 1, None),
    ]
    assert staged_songs(pipeline) == [
        ("SOFIRST", "Caught In A Dream"),
        ("SOSECOND", "Caught In A Dream"),
    ]


def test_object_deleted_before_staging_is_recorded_missing(
    pipeline: LocalPipeline, warehouse: PostgresWarehouse, stage_settings: StageSettings
) -> None:
    # Given an object whose notification is still queued when the object is deleted
    etag = put(pipeline, "song_data/gone.json", song("SOGONE"))
    pipeline.stack.s3.delete_object(Bucket=pipeline.stack.bucket, Key="song_data/gone.json")
    kept = put(pipeline, "song_data/kept.json", song("SOKEPT"))

    # When the notifications are staged
    response = stage_sqs_event(
        sqs_event(
            object_created("song_data/gone.json", etag), object_created("song_data/kept.json", kept)
        ),
        warehouse,
        stage_settings,
        None,
    )

    # Then the deleted object is recorded as missing (not retried forever), the other is staged
    assert response == {"batchItemFailures": []}
    rows = ledger(pipeline)
    assert [row[:4] for row in rows] == [
        ("song_data/gone.json", etag, "missing", 0),
        ("song_data/kept.json", kept, "staged", 1),
    ]
    assert "deleted" in rows[0][4]
    assert staged_songs(pipeline) == [("SOKEPT", "Caught In A Dream")]


def test_object_deleted_then_uploaded_again_is_staged(
    pipeline: LocalPipeline, warehouse: PostgresWarehouse, stage_settings: StageSettings
) -> None:
    # Given a file deleted before it could be staged (recorded missing) ...
    key = "song_data/back.json"
    etag = put(pipeline, key, song("SOBACK"))
    pipeline.stack.s3.delete_object(Bucket=pipeline.stack.bucket, Key=key)
    stage_sqs_event(
        sqs_event(object_created(key, etag, sequencer="0055AED6DCD90281E5")),
        warehouse,
        stage_settings,
        None,
    )
    # ... then uploaded again with the very same content (so the same etag)
    assert put(pipeline, key, song("SOBACK")) == etag

    # When the new upload's notification is staged
    response = stage_sqs_event(
        sqs_event(object_created(key, etag, sequencer="0055AED6DCD90281F0")),
        warehouse,
        stage_settings,
        None,
    )

    # Then the file that is in the bucket now is staged, not skipped as already seen
    assert response == {"batchItemFailures": []}
    assert ("staged", 1) in [(status, rows) for _, _, status, rows, _ in ledger(pipeline)]
    assert staged_songs(pipeline) == [("SOBACK", "Caught In A Dream")]


def test_object_overwritten_after_its_event_is_superseded_and_newer_version_stages(
    pipeline: LocalPipeline, warehouse: PostgresWarehouse, stage_settings: StageSettings
) -> None:
    # Given a key written twice before the first notification is staged
    key = "song_data/edited.json"
    old = put(pipeline, key, song("SOEDIT", title="Draft title"))
    new = put(pipeline, key, song("SOEDIT", title="Final title"))
    assert old != new

    # When the first version's notification is staged
    first = stage_sqs_event(
        sqs_event(object_created(key, old, sequencer="0055AED6DCD90281E5")),
        warehouse,
        stage_settings,
        None,
    )

    # Then that version is recorded superseded and none of its content (now gone) is staged
    assert first == {"batchItemFailures": []}
    assert [row[:4] for row in ledger(pipeline)] == [(key, old, "superseded", 0)]
    assert staged_songs(pipeline) == []

    # When the newer version's own notification is staged
    second = stage_sqs_event(
        sqs_event(object_created(key, new, sequencer="0055AED6DCD90281F0")),
        warehouse,
        stage_settings,
        None,
    )

    # Then the newer version is staged, with its content
    assert second == {"batchItemFailures": []}
    assert sorted(row[1:4] for row in ledger(pipeline)) == sorted(
        [(old, "superseded", 0), (new, "staged", 1)]
    )
    assert staged_songs(pipeline) == [("SOEDIT", "Final title")]


def test_two_versions_of_a_key_in_one_batch_load_the_newest(
    pipeline: LocalPipeline, warehouse: PostgresWarehouse, stage_settings: StageSettings
) -> None:
    # Given both versions' notifications in one batch, the newer one delivered first
    key = "song_data/twice.json"
    old = put(pipeline, key, song("SOTWICE", title="Old title"))
    new = put(pipeline, key, song("SOTWICE", title="New title"))
    event = sqs_event(
        object_created(key, new, sequencer="0055AED6DCD90281F0", message_id="new"),
        object_created(key, old, sequencer="0055AED6DCD90281E5", message_id="old"),
    )

    # When the batch is staged
    response = stage_sqs_event(event, warehouse, stage_settings, None)

    # Then the newest version is loaded and the older one is recorded superseded
    assert response == {"batchItemFailures": []}
    assert sorted(row[1:4] for row in ledger(pipeline)) == sorted(
        [(old, "superseded", 0), (new, "staged", 1)]
    )
    assert staged_songs(pipeline) == [("SOTWICE", "New title")]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(
    params=["no_socket_dir", "closed_port"],
)
def unreachable_warehouse(
    request: pytest.FixtureRequest, tmp_path: Path, pipeline: LocalPipeline
) -> PostgresWarehouse:
    """A PostgreSQL warehouse that cannot be reached: the transient fault of a real outage."""
    if request.param == "no_socket_dir":
        url = f"postgresql://postgres@/postgres?host={tmp_path / 'no-such-dir'}&connect_timeout=5"
    else:
        url = f"postgresql://postgres@127.0.0.1:{_closed_port()}/postgres?connect_timeout=5"
    return PostgresWarehouse(url, s3=pipeline.stack.warehouse_s3)


def test_unreachable_warehouse_fails_the_whole_batch_and_writes_nothing(
    pipeline: LocalPipeline,
    unreachable_warehouse: PostgresWarehouse,
    stage_settings: StageSettings,
) -> None:
    # Given a batch of two good files (a song and a log) while the warehouse is unreachable
    files = {
        "song_data/a.json": song("SOA"),
        "log_data/b.json": json.dumps({"page": "Home", "ts": 1, "userId": ""}),
    }
    records = [
        object_created(key, put(pipeline, key, content), message_id=f"m{index}")
        for index, (key, content) in enumerate(files.items())
    ]

    # When the batch is staged
    with pytest.raises(BatchProcessingError) as raised:
        stage_sqs_event(sqs_event(*records), unreachable_warehouse, stage_settings, None)

    # Then every message failed (Powertools raises, so Lambda retries the whole batch) ...
    assert len(raised.value.child_exceptions) == len(records)
    # ... and nothing was written
    assert ledger(pipeline) == []
    assert staged_songs(pipeline) == []


def test_unreachable_warehouse_reports_every_object_message(
    pipeline: LocalPipeline,
    unreachable_warehouse: PostgresWarehouse,
    stage_settings: StageSettings,
) -> None:
    # Given a batch with two object messages and a test event, warehouse unreachable
    first = put(pipeline, "song_data/one.json", song("SOONE"))
    second = put(pipeline, "song_data/two.json", song("SOTWO"))
    event = sqs_event(
        object_created("song_data/one.json", first, message_id="one"),
        s3_test_event_record(message_id="test-event"),
        object_created("song_data/two.json", second, message_id="two"),
    )

    # When the batch is staged
    response = stage_sqs_event(event, unreachable_warehouse, stage_settings, None)

    # Then each object's message is a batch item failure (to be retried), the test event is not
    assert failed_ids(response) == {"one", "two"}
    assert ledger(pipeline) == []


def test_the_same_event_delivered_again_adds_nothing(
    pipeline: LocalPipeline, warehouse: PostgresWarehouse, stage_settings: StageSettings
) -> None:
    # Given a file staged from its notification
    etag = put(pipeline, "song_data/once.json", song("SOONCE"))
    record = object_created("song_data/once.json", etag)
    stage_sqs_event(sqs_event(record), warehouse, stage_settings, None)
    before = (ledger(pipeline), staged_songs(pipeline))

    # When S3 delivers the same notification again, twice in one batch
    response = stage_sqs_event(sqs_event(record, record), warehouse, stage_settings, None)

    # Then nothing changes
    assert response == {"batchItemFailures": []}
    assert (ledger(pipeline), staged_songs(pipeline)) == before
    assert len(before[0]) == 1
