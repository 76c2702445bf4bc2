"""The scheduled Reconcile function's real handler, in a worker process with its template
environment, against moto's bucket and stage queue and the embedded PostgreSQL's ledger: files
in the ledger, files no event announced (older than the grace: unaccounted) and files just
written (in flight). It re-announces exactly the unaccounted ones as S3 would, a drain stages
them once, and the next run finds the bucket complete."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from sparkify_loader.completeness.landing import Version, landing_rules
from sparkify_loader.completeness.scheduled import StackLanding, reconcile_landing
from sparkify_loader.events import parse_batch
from sparkify_loader.warehouse.postgres import PostgresWarehouse
from sparkify_local.pipeline import LocalPipeline
from sparkify_local.runtime.resources import STAGE_QUEUE
from tests.support.documents import event, lines, song
from tests.support.handlers import EmfRecord, emf_records, function_in_worker

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageTypeDef

FUNCTION = "ReconcileFunction"
# Long enough for a warm invocation, a drain of the stage queue and a second invocation to
# happen while the recent files are still in flight (a few seconds on this machine, loaded);
# the older files are made unaccounted by waiting it out once.
GRACE_SECONDS = 30


def _put(pipeline: LocalPipeline, files: dict[str, str]) -> dict[str, str]:
    """Put the files into the landing bucket; return key -> etag."""
    stack = pipeline.stack
    return {
        key: stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=body.encode())["ETag"].strip(
            '"'
        )
        for key, body in files.items()
    }


def _put_without_events(pipeline: LocalPipeline, files: dict[str, str]) -> dict[str, str]:
    with pipeline.stack.notifications_suspended():
        return _put(pipeline, files)


def _announcements(pipeline: LocalPipeline) -> list[MessageTypeDef]:
    """Every S3 ObjectCreated message waiting in the stage queue, read and then made visible
    again for the drain (the s3:TestEvent of a restored notification configuration is left)."""
    sqs, queue_url = pipeline.stack.sqs, pipeline.stack.queue_url(STAGE_QUEUE)
    messages: list[MessageTypeDef] = []
    while batch := sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60
    ).get("Messages", []):
        messages += batch
    if messages:
        for start in range(0, len(messages), 10):
            sqs.change_message_visibility_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                    for index, m in enumerate(messages[start : start + 10])
                ],
            )
    return [m for m in messages if '"ObjectCreated:' in m["Body"]]


def _run(
    invoke: Callable[[dict[str, Any]], dict[str, Any]], log: Path, request: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """One invocation's result and the Reconcile metrics it printed."""
    offset = log.stat().st_size
    outcome = invoke(request)
    assert "payload" in outcome, outcome
    return outcome["payload"], _printed_metrics(log, offset)


def _printed_metrics(log: Path, offset: int) -> dict[str, list[float]]:
    text = log.read_text(encoding="utf-8")[offset:]
    records: list[EmfRecord] = [
        record
        for record in emf_records(text)
        if record.dimensions == {"service": "sparkify-reconcile"}
    ]
    assert len(records) == 1, text
    assert records[0].namespace == "Sparkify"
    return records[0].values


def _expected(staged: int, unaccounted_keys: list[str]) -> dict[str, Any]:
    """A run's result over the scenario's 7 files, 2 of them in flight."""
    return {
        "grace_seconds": GRACE_SECONDS,
        "listed": 7,
        "in_ledger": {"staged": staged},
        "in_flight": 2,
        "unaccounted": len(unaccounted_keys),
        "reannounced": len(unaccounted_keys),
        "unaccounted_keys": unaccounted_keys,
        "complete": not unaccounted_keys,
    }


def _metrics_of(result: dict[str, Any]) -> dict[str, list[float]]:
    return {
        "FilesListed": [result["listed"]],
        "FilesInFlight": [result["in_flight"]],
        "FilesUnaccounted": [result["unaccounted"]],
        "FilesReannounced": [result["reannounced"]],
    }


def _ledger(pipeline: LocalPipeline) -> list[tuple[str, str, str]]:
    return sorted(pipeline.warehouse.session().query("SELECT key, etag, status FROM load_ledger"))


@pytest.mark.slow  # waits out the grace once: 35-45 s measured on this machine
def test_reconcile_reannounces_exactly_the_unaccounted_files_once(
    pipeline: LocalPipeline, tmp_path: Path
) -> None:
    # Given two files announced and staged as usual (in the ledger)
    ledgered = _put(
        pipeline,
        {
            "song_data/A/A/A/SOLEDGER1.json": json.dumps(song(song_id="SOLEDGER1")),
            "log_data/2018/11/2018-11-01-events.json": lines(event(), event(itemInSession=1)),
        },
    )
    assert pipeline.stage(progress=False).failed_messages == 0
    # And three files no event announced, one with a key S3 URL-encodes, plus two objects
    # outside the notification rules that reconcile must not count
    unaccounted = _put_without_events(
        pipeline,
        {
            "song_data/B/B/B/SOLOST1.json": json.dumps(song(song_id="SOLOST1")),
            "song_data/B/B/B/lost + found ü.json": json.dumps(song(song_id="SOLOST2")),
            "log_data/2018/11/2018-11-02-events.json": lines(event(ts=1541207134796)),
            "_loader/manifests/old.json": "{}",
            "song_data/README.txt": "not a dataset file",
        },
    )
    unaccounted = {key: etag for key, etag in unaccounted.items() if key.endswith(".json")}
    del unaccounted["_loader/manifests/old.json"]
    written = time.monotonic()
    log = tmp_path / f"{FUNCTION}.log"
    parameters = {"ReconcileGraceSeconds": str(GRACE_SECONDS)}
    with function_in_worker(pipeline, FUNCTION, log, parameters) as invoke:
        # And a warm function environment (its cold start is not part of the timing below):
        # a payload that fits no request fails, naming the field
        refused = invoke({"grace": 0})
        assert refused["errorType"] == "ValidationError", refused
        assert "grace" in refused["errorMessage"]
        # And the unaccounted files older than the grace (S3 times have whole seconds)
        time.sleep(max(0.0, written + GRACE_SECONDS + 1.5 - time.monotonic()))
        # And two files written just now, not announced yet (in flight)
        recent = _put_without_events(
            pipeline,
            {
                "song_data/C/C/C/SORECENT1.json": json.dumps(song(song_id="SORECENT1")),
                "log_data/2018/11/2018-11-03-events.json": lines(event(ts=1541293534796)),
            },
        )
        recent_written = time.monotonic()

        # When the schedule invokes the Reconcile function
        request = {"execution_id": "run-1", "scheduled_time": "2026-12-02T05:00:00Z"}
        first, printed = _run(invoke, log, request)

        # Then it counted each file where it belongs and re-announced the 3 unaccounted ones,
        # named in listing order (dataset prefix by prefix, keys in UTF-8 order within each)
        listing_order = [
            key for rule in landing_rules() for key in sorted(unaccounted) if rule.matches(key)
        ]
        assert first == _expected(staged=2, unaccounted_keys=listing_order)
        assert first["reannounced"] == 3
        # And it printed the same counts as EMF metrics
        assert printed == _metrics_of(first)
        # And the stage queue holds one S3 ObjectCreated notification per unaccounted file,
        # which the stage function's own parser reads as S3's
        messages = _announcements(pipeline)
        batch = parse_batch(
            [SQSRecord({"messageId": m["MessageId"], "body": m["Body"]}) for m in messages]
        )
        assert batch.malformed == {}
        assert {obj.key: obj.etag for obj in batch.objects} == unaccounted
        assert all(obj.bucket == pipeline.stack.bucket for obj in batch.objects)
        assert any("lost+%2B+found+%C3%BC.json" in m["Body"] for m in messages)

        # When the stage queue is drained by the stage function
        drained = pipeline.stage(progress=False)

        # Then each re-announced file is staged once, and no other file changed
        assert drained.failed_messages == 0
        assert _ledger(pipeline) == sorted(
            (key, etag, "staged") for key, etag in {**ledgered, **unaccounted}.items()
        )

        # When the schedule invokes it again (the recent files still within the grace)
        assert time.monotonic() - recent_written < GRACE_SECONDS, "too slow to test in flight"
        second, printed = _run(invoke, log, {"execution_id": "run-2"})

        # Then nothing is unaccounted and nothing is announced
        assert second == _expected(staged=5, unaccounted_keys=[])
        assert printed == _metrics_of(second)
        assert printed["FilesUnaccounted"] == printed["FilesReannounced"] == [0]
        assert _announcements(pipeline) == []
        assert set(recent).isdisjoint(key for key, _, _ in _ledger(pipeline))


@pytest.mark.slow  # 2,100 puts and as many announcements through moto: 15-25 s here
def test_each_listing_page_is_announced_before_the_next_is_read(
    pipeline: LocalPipeline, warehouse: PostgresWarehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 2,100 files no event announced: three listing pages (S3 lists 1,000 keys a page)
    stack = pipeline.stack
    keys = [f"log_data/2018/11/{number:05d}.json" for number in range(2_100)]
    with stack.notifications_suspended(), ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda key: stack.s3.put_object(Bucket=stack.bucket, Key=key), keys))
    # And the function's environment (its AWS clients are made from it)
    wiring = stack.function(FUNCTION)
    for name, value in stack.function_environment(wiring).items():
        monkeypatch.setenv(name, value)
    # And the stack's landing as the function sees it, noting the stage queue's depth each
    # time a listing page reaches the ledger
    depths: list[int] = []

    class QueueWatchingLanding(StackLanding):
        def ledger_versions(self, versions: Sequence[Version]) -> dict[Version, str]:
            depths.append(stack.queue_depth(STAGE_QUEUE).waiting)
            return super().ledger_versions(versions)

    landing = QueueWatchingLanding(stack.bucket, stack.queue_url(STAGE_QUEUE), warehouse)
    emitted: dict[str, float] = {}

    # When reconcile runs with no grace
    result = reconcile_landing(
        landing, 0, lambda name, unit, value: emitted.update({str(name): value})
    )

    # Then every file was re-announced, one page's worth before the next page was read: the
    # queue grew by a page between two ledger queries (it starts with the s3:TestEvent of the
    # restored notification configuration)
    assert (result.listed, result.unaccounted, result.reannounced) == (2_100, 2_100, 2_100)
    assert [later - earlier for earlier, later in pairwise(depths)] == [
        1_000,
        1_000,
    ]
    assert stack.queue_depth(STAGE_QUEUE).waiting - depths[0] == 2_100
    # And only the first keys are kept for the log, not the listing
    assert result.unaccounted_keys == keys[:20]
    assert emitted == {
        "FilesListed": 2_100,
        "FilesInFlight": 0,
        "FilesUnaccounted": 2_100,
        "FilesReannounced": 2_100,
    }
