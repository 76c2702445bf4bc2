"""Landing -> staging: one transaction per batch, exactly once per S3 object version.

The ledger is read and written in the same transaction as the staging rows, so a version is
staged at most once however often S3 delivers its event, and a crash before commit leaves
nothing behind for the redelivered message to trip over.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from sparkify_loader.arrival import request_merge
from sparkify_loader.config import StageSettings
from sparkify_loader.events import LandedObject, ParsedBatch, parse_batch
from sparkify_loader.observability import MetricName, logger, metrics
from sparkify_loader.sqlfiles import BoundList, BoundRows, bind_chunks, render_sql
from sparkify_loader.varchar import LEDGER_ERROR_BYTES, fit_varchar
from sparkify_loader.warehouse import (
    FileLoad,
    RetryWithout,
    SerializationConflict,
    Session,
    TransientError,
    Warehouse,
    WarehouseError,
)
from sparkify_loader.warehouse.base import ObjectVersion


class BatchItemFailed(RuntimeError):
    """Raised for a message that must go back to the queue (retry, then DLQ)."""


def stage_sqs_event(
    event: dict, warehouse: Warehouse, settings: StageSettings, context: LambdaContext | None
) -> PartialItemFailureResponse:
    """Stage one SQS batch of S3 notifications; report the messages to retry.

    Malformed messages fail alone. A failed stage transaction (transient or not) fails every
    message that announced an object, so SQS redelivers them and, past maxReceiveCount, parks
    them in the DLQ; nothing was committed, so a redelivery loads them once.
    """
    batch = parse_batch([SQSRecord(record) for record in event.get("Records", [])])
    failures = dict(batch.malformed)
    for message_id, reason in batch.malformed.items():
        logger.error("malformed message", extra={"message_id": message_id, "reason": reason})
    if batch.unknown_prefix:
        logger.info(
            "skipped keys outside the landing prefixes", extra={"keys": batch.unknown_prefix}
        )
    if batch.objects:
        try:
            report = stage_batch(
                warehouse.session(), batch, max_attempts=settings.stage_max_attempts
            )
        except (TransientError, WarehouseError) as error:
            logger.exception("stage transaction failed; the batch will be redelivered")
            failures.update({obj.message_id: str(error) for obj in batch.objects})
        else:
            _log_report(report)
            emit_metrics(report, batch, metrics.add_metric)
            if settings.merge_on_arrival and report.count("staged"):
                _request_merge(warehouse, settings)

    def fail_if_unstaged(record: SQSRecord) -> None:
        if record.message_id in failures:
            raise BatchItemFailed(failures[record.message_id])

    return process_partial_response(
        event=event,
        record_handler=fail_if_unstaged,
        processor=BatchProcessor(event_type=EventType.SQS),
        context=context,
    )


def _request_merge(warehouse: Warehouse, settings: StageSettings) -> None:
    """Start the merge for what this batch staged (debounced: sparkify_loader.arrival)."""
    if settings.merge_state_machine_arn is None:  # the settings validator requires it
        raise ValueError("MERGE_STATE_MACHINE_ARN is not set")
    try:
        request_merge(
            warehouse.session(), settings.merge_state_machine_arn, _stepfunctions().start_execution
        )
    except (TransientError, WarehouseError):
        # The batch is committed: failing its messages now would only redeliver duplicates.
        # The next batch, or the schedule, starts the merge instead.
        logger.exception("could not request a merge; the next batch or the schedule will")


@cache
def _stepfunctions() -> Any:
    # Created on first use and kept while warm; AWS_ENDPOINT_URL points it at moto locally.
    return boto3.client("stepfunctions")


def _log_report(report: StageReport) -> None:
    for (bucket, key, etag), outcome in report.outcomes.items():
        if outcome.status != "staged":
            logger.warning(
                f"file {outcome.status}",
                extra={"bucket": bucket, "key": key, "etag": etag, "reason": outcome.error},
            )
    logger.info(
        "batch staged",
        extra={
            "load_id": report.load_id,
            "staged": report.count("staged"),
            "rejected": report.count("rejected"),
            "duplicates": report.duplicates,
            "event_rows": report.rows("events"),
            "song_rows": report.rows("songs"),
            "attempts": report.attempts,
        },
    )


@dataclass
class StageReport:
    """What one batch did, per object version and in total."""

    load_id: str = ""
    outcomes: dict[ObjectVersion, FileLoad] = field(default_factory=dict)
    datasets: dict[ObjectVersion, str] = field(default_factory=dict)
    duplicates: int = 0
    attempts: int = 0
    copy_seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for outcome in self.outcomes.values() if outcome.status == status)

    def rows(self, dataset_name: str) -> int:
        return sum(
            outcome.rows
            for version, outcome in self.outcomes.items()
            if self.datasets[version] == dataset_name
        )


def stage_batch(
    session: Session,
    batch: ParsedBatch,
    *,
    max_attempts: int,
    now: Callable[[], datetime] = lambda: datetime.now(UTC).replace(tzinfo=None),
    sleep: Callable[[float], None] = time.sleep,
) -> StageReport:
    """Stage every new object version of the batch in one transaction.

    Serialization conflicts (a concurrent batch won) are retried with backoff; after
    ``max_attempts`` they surface as a TransientError, which fails the batch's messages so SQS
    redelivers them. Files that COPY rejects are recorded with their reason and the rest loads.
    """
    objects, superseded, repeats = _collapse(batch.objects)
    started = time.perf_counter()
    _prepare_copies(session, objects)
    prepare_seconds = time.perf_counter() - started
    report = StageReport()
    rejected_by_copy: dict[ObjectVersion, str] = {}
    for attempt in range(1, max_attempts + 1):
        report = StageReport(load_id=uuid.uuid4().hex, attempts=attempt)
        try:
            with session.transaction():
                _stage_in_transaction(session, objects, superseded, report, rejected_by_copy, now())
            report.duplicates += repeats
            report.copy_seconds += prepare_seconds  # the COPY's work done before the lock
            return report
        except RetryWithout as retry:
            # The engine's transaction was spoiled (Redshift): by bad files, run it again
            # without them; or by a diagnostic read, which the engine leaves out of the rerun.
            # Each round removes at least one file or that read, so this ends.
            rejected_by_copy.update(retry.rejections)
            logger.info(
                "rerunning stage transaction",
                extra={"reason": str(retry), "rejected": [key for _, key, _ in retry.rejections]},
            )
        except SerializationConflict as conflict:
            if attempt == max_attempts:
                raise
            delay = min(0.05 * 2**attempt, 2.0)
            logger.warning(
                "serialization conflict, retrying",
                extra={"attempt": attempt, "delay_s": delay, "error": str(conflict)},
            )
            sleep(delay)
    raise TransientError(f"stage transaction did not settle in {max_attempts} attempts")


def _prepare_copies(session: Session, objects: list[LandedObject]) -> None:
    """Let the engine read the batch's files before the transaction: only what the ledger
    decides waits for its lock (Session.prepare_staging). Duplicates are not known yet; the
    transaction skips them as before."""
    for dataset_objects in _by_dataset(objects).values():
        session.prepare_staging(dataset_objects[0].dataset, dataset_objects)


def _by_dataset(objects: list[LandedObject]) -> dict[str, list[LandedObject]]:
    """The objects per dataset, in the one table order every transaction writes in."""
    by_dataset: dict[str, list[LandedObject]] = defaultdict(list)
    for obj in objects:
        by_dataset[obj.dataset.name].append(obj)
    return dict(sorted(by_dataset.items()))


def _stage_in_transaction(
    session: Session,
    objects: list[LandedObject],
    superseded: list[LandedObject],
    report: StageReport,
    rejected_by_copy: dict[ObjectVersion, str],
    staged_at: datetime,
) -> None:
    # First, before anything reads the ledger: see sql/stage/lock_ledger.sql.
    session.execute(render_sql("stage/lock_ledger.sql"))
    known = _versions_in_ledger(session, objects + superseded)
    fresh = [obj for obj in objects + superseded if obj.version not in known]
    report.duplicates = len(objects) + len(superseded) - len(fresh)
    report.datasets = {obj.version: obj.dataset.name for obj in fresh}
    superseded_versions = {obj.version for obj in superseded}
    to_copy: list[LandedObject] = []
    for obj in fresh:
        if obj.version in superseded_versions:
            report.outcomes[obj.version] = FileLoad(
                "superseded", 0, "a newer version of the key arrived in the same batch"
            )
        elif obj.version in rejected_by_copy:
            report.outcomes[obj.version] = FileLoad.rejected(rejected_by_copy[obj.version])
        else:
            to_copy.append(obj)
    by_dataset = _by_dataset(to_copy)
    started = time.perf_counter()
    # One table order in every transaction (load_ledger, staging_events, staging_songs), so two
    # batches never wait on each other crosswise (deadlock, 40P01).
    for dataset_objects in by_dataset.values():
        report.outcomes.update(
            session.copy_into_staging(dataset_objects[0].dataset, dataset_objects, report.load_id)
        )
    report.copy_seconds = time.perf_counter() - started
    # Each staged file's number within its dataset's COPY, as its staging rows carry it.
    file_numbers = {
        obj.version: file_no
        for dataset_objects in by_dataset.values()
        for file_no, obj in enumerate(dataset_objects)
    }
    _record_ledger(session, fresh, report, staged_at, file_numbers)


def _collapse(
    objects: list[LandedObject],
) -> tuple[list[LandedObject], list[LandedObject], int]:
    """Split a batch into the newest version per key, older versions, and repeats.

    At-least-once delivery can put the same event in one batch twice: it counts as a duplicate.
    Two versions of one key are ordered by S3's sequencer (hex, compared left-padded), the
    newest is loaded and the older one is recorded as superseded.
    """
    unique: dict[ObjectVersion, LandedObject] = {}
    for obj in objects:
        unique.setdefault(obj.version, obj)
    newest: dict[tuple[str, str], LandedObject] = {}
    for obj in unique.values():
        current = newest.get((obj.bucket, obj.key))
        if current is None or _order(obj) > _order(current):
            newest[(obj.bucket, obj.key)] = obj
    latest = list(newest.values())
    older = [obj for obj in unique.values() if newest[(obj.bucket, obj.key)] is not obj]
    return latest, older, len(objects) - len(unique)


def _order(obj: LandedObject) -> tuple[str, str]:
    return (obj.sequencer.rjust(32, "0"), obj.event_time.isoformat() if obj.event_time else "")


def _versions_in_ledger(session: Session, objects: list[LandedObject]) -> set[ObjectVersion]:
    known: set[ObjectVersion] = set()
    by_bucket: dict[str, list[LandedObject]] = defaultdict(list)
    for obj in objects:
        by_bucket[obj.bucket].append(obj)
    for bucket, bucket_objects in by_bucket.items():
        # A key and an etag per object, plus the bucket.
        for chunk in bind_chunks(bucket_objects, 2, other_params=1):
            bound_keys = BoundList("key", [obj.key for obj in chunk])
            bound_etags = BoundList("etag", [obj.etag for obj in chunk])
            statement = render_sql(
                "stage/find_loaded_versions.sql", keys=bound_keys, etags=bound_etags
            )
            params = {"bucket": bucket, **bound_keys.params, **bound_etags.params}
            for key, etag in session.query(statement, params):
                known.add((bucket, key, etag))
    return known


def _record_ledger(
    session: Session,
    objects: list[LandedObject],
    report: StageReport,
    staged_at: datetime,
    file_numbers: dict[ObjectVersion, int],
) -> None:
    if not objects:
        return
    rows = [
        (
            obj.bucket,
            obj.key,
            obj.etag,
            obj.version_id,
            obj.dataset.name,
            obj.size,
            report.outcomes[obj.version].status,
            report.outcomes[obj.version].ledger_rows,
            _ledger_error(report.outcomes[obj.version].error),
            report.load_id,
            file_numbers.get(obj.version),
            obj.event_time,
            staged_at,
        )
        for obj in objects
    ]
    for chunk in bind_chunks(rows, len(rows[0])):
        bound_rows = BoundRows("v", chunk)
        session.execute(render_sql("stage/record_ledger.sql", rows=bound_rows), bound_rows.params)


def _ledger_error(error: str | None) -> str | None:
    return None if error is None else fit_varchar(error, LEDGER_ERROR_BYTES)


def emit_metrics(report: StageReport, batch: ParsedBatch, add_metric: Callable[..., None]) -> None:
    """Counts of what the batch did, under the names the dashboard uses."""
    add_metric(name=MetricName.FILES_STAGED, unit="Count", value=report.count("staged"))
    add_metric(name=MetricName.FILES_REJECTED, unit="Count", value=report.count("rejected"))
    add_metric(name=MetricName.FILES_SUPERSEDED, unit="Count", value=report.count("superseded"))
    add_metric(name=MetricName.FILES_MISSING, unit="Count", value=report.count("missing"))
    add_metric(name=MetricName.FILES_SKIPPED_DUPLICATE, unit="Count", value=report.duplicates)
    add_metric(
        name=MetricName.UNKNOWN_PREFIX_SKIPPED, unit="Count", value=len(batch.unknown_prefix)
    )
    add_metric(name=MetricName.TEST_EVENTS_IGNORED, unit="Count", value=batch.test_events)
    add_metric(
        name=MetricName.STAGE_SERIALIZATION_RETRIES, unit="Count", value=max(report.attempts - 1, 0)
    )
    add_metric(
        name=MetricName.COPY_DURATION_MS, unit="Milliseconds", value=report.copy_seconds * 1000
    )
    for dataset_name, metric in (
        ("events", MetricName.EVENT_ROWS_STAGED),
        ("songs", MetricName.SONG_ROWS_STAGED),
    ):
        add_metric(name=metric, unit="Count", value=report.rows(dataset_name))
