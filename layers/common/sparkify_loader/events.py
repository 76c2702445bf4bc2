"""S3 ObjectCreated notifications delivered through SQS, turned into landed-object records.

Powertools' data classes do the parsing. Keys arrive URL-encoded (a space is ``+``, a ``+`` is
``%2B``) and are decoded here, once. A message that is not an S3 notification at all is a poison
message: it fails alone and reaches the DLQ after the queue's retries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from sparkify_loader.datasets import Dataset, dataset_for_key


class MalformedMessageError(ValueError):
    """An SQS message whose body is not an S3 event notification."""


@dataclass(frozen=True)
class LandedObject:
    """One S3 object version announced by one notification."""

    message_id: str
    bucket: str
    key: str
    etag: str
    size: int
    version_id: str | None
    event_time: datetime | None
    sequencer: str
    dataset: Dataset

    @property
    def version(self) -> tuple[str, str, str]:
        return (self.bucket, self.key, self.etag)


@dataclass
class ParsedBatch:
    objects: list[LandedObject] = field(default_factory=list)
    test_events: int = 0
    unknown_prefix: list[str] = field(default_factory=list)
    malformed: dict[str, str] = field(default_factory=dict)  # message_id -> reason


def parse_batch(records: list[SQSRecord]) -> ParsedBatch:
    """Split a batch into landed objects, ignorable messages and malformed ones."""
    parsed = ParsedBatch()
    for record in records:
        try:
            _parse_record(record, parsed)
        except MalformedMessageError as error:
            parsed.malformed[record.message_id] = str(error)
    return parsed


def _parse_record(record: SQSRecord, parsed: ParsedBatch) -> None:
    try:
        body = json.loads(record.body)
    except (TypeError, json.JSONDecodeError) as error:
        raise MalformedMessageError(f"message body is not JSON: {error}") from None
    if not isinstance(body, dict):
        raise MalformedMessageError("message body is not a JSON object")
    # S3 sends one s3:TestEvent when a notification is configured; it announces no object.
    if body.get("Event") == "s3:TestEvent":
        parsed.test_events += 1
        return
    if not isinstance(body.get("Records"), list):
        raise MalformedMessageError("message body has no S3 'Records'")
    try:
        for s3_record in S3Event(body).records:
            obj = s3_record.s3.get_object
            key = unquote_plus(obj.key)
            dataset = dataset_for_key(key)
            if dataset is None:
                parsed.unknown_prefix.append(key)
                continue
            parsed.objects.append(
                LandedObject(
                    message_id=record.message_id,
                    bucket=s3_record.s3.bucket.name,
                    key=key,
                    etag=obj.etag.strip('"'),
                    size=int(obj.size or 0),
                    version_id=obj.version_id or None,
                    event_time=_parse_time(s3_record.get("eventTime")),
                    sequencer=obj.get("sequencer") or "",
                    dataset=dataset,
                )
            )
    except (KeyError, TypeError, ValueError) as error:
        raise MalformedMessageError(f"not an S3 event notification: {error!r}") from None


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).replace(tzinfo=None)
