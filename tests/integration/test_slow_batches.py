"""The local event source hides a received message only for a few seconds at first (a killed
command's messages come back soon) and gives it the queue's visibility timeout only once its batch
has run for a while. A batch that runs longer than that first visibility must still be delivered
once: its messages must not reappear and reach the other execution environment."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg

from sparkify_local.pipeline import LocalPipeline
from sparkify_local.runtime.event_source import PROVISIONAL_VISIBILITY_S, VisibilityKeeper
from sparkify_local.runtime.resources import STAGE_QUEUE
from tests.support.locks import WAIT_S, wait_until_blocked


def test_a_batch_slower_than_the_first_visibility_is_delivered_once(
    pipeline: LocalPipeline, tmp_path: Path
) -> None:
    # Given one announced song file
    song = tmp_path / "song_data" / "slow" / "song.json"
    song.parent.mkdir(parents=True)
    song.write_text(json.dumps({"song_id": "SO-SLOW", "title": "t", "num_songs": 1}))
    pipeline.upload([tmp_path], progress=False)
    deadline = time.monotonic() + WAIT_S
    while pipeline.stack.queue_depth(STAGE_QUEUE).waiting < 1:
        assert time.monotonic() < deadline, "the upload's notification never reached the queue"
        time.sleep(0.05)

    # When its batch waits on the ledger lock longer than the first visibility lasts
    with psycopg.connect(pipeline.endpoints.warehouse_url, autocommit=True) as holder:
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE load_ledger IN SHARE MODE")
        with ThreadPoolExecutor(1) as pool:
            drained = pool.submit(pipeline.stage, progress=False)
            try:
                wait_until_blocked(holder, backends=1)
                time.sleep(PROVISIONAL_VISIBILITY_S + 2)
            finally:
                holder.execute("ROLLBACK")  # the batch must never wait on a failed test
            stats = drained.result(timeout=WAIT_S)

    # Then the message reached the function once, and the file is staged once
    assert (stats.invocations, stats.messages, stats.function_errors) == (1, 1, [])
    assert pipeline.warehouse.session().query(
        "SELECT (SELECT COUNT(*) FROM staging_songs WHERE song_id = 'SO-SLOW'),"
        " (SELECT COUNT(*) FROM load_ledger WHERE key LIKE 'song_data/slow/%')"
    ) == [(1, 1)]


def test_held_messages_stay_hidden_while_the_delivery_loop_waits_elsewhere(
    pipeline: LocalPipeline,
) -> None:
    # Given a message received with the provisional visibility, held by the keeper (in a queue
    # of its own: the stage queue's reset cannot take back a message hidden for a minute)
    sqs = pipeline.stack.sqs
    queue_url = sqs.create_queue(QueueName="visibility-keeper-test")["QueueUrl"]
    try:
        sqs.send_message(QueueUrl=queue_url, MessageBody="{}")
        received = sqs.receive_message(
            QueueUrl=queue_url, VisibilityTimeout=PROVISIONAL_VISIBILITY_S
        )["Messages"]

        def extend(handles: list[str]) -> None:
            sqs.change_message_visibility_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": 60}
                    for index, handle in enumerate(handles)
                ],
            )

        with VisibilityKeeper(extend) as keeper:
            keeper.hold({message["MessageId"]: message["ReceiptHandle"] for message in received})
            # When the thread that received it waits on something else past that visibility (a
            # progress bar's ledger query behind a merge's lock, say)
            time.sleep(PROVISIONAL_VISIBILITY_S + 2)

        # Then the message is still hidden: nobody else could receive it
        assert sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0).get("Messages", []) == []
    finally:
        sqs.delete_queue(QueueUrl=queue_url)
