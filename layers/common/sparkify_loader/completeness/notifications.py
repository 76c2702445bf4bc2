"""S3 ObjectCreated notifications for objects S3 never announced (or whose message was lost),
made as S3 makes them, so the stage function reads them as any other
(``sparkify_loader.events.parse_batch``), and sent to the stage queue in batches of 10."""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from typing import TYPE_CHECKING
from urllib.parse import quote_plus

from sparkify_loader.completeness.listing import ListedObject

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

    from sparkify_loader.completeness.landing import Landing

SEND_MESSAGE_BATCH_MAX = 10  # SQS's limit of entries per SendMessageBatch
ANNOUNCE_THREADS = 8
# Who "created" the object, for whoever reads a message: the announcement, not an uploader.
ANNOUNCER = "sparkify-backfill"


class AnnounceError(RuntimeError):
    """SQS refused some entries of a SendMessageBatch."""


def object_created_notification(
    bucket: str, obj: ListedObject, region: str, version_id: str | None = None
) -> str:
    """The JSON body S3 sends to SQS for an ObjectCreated:Put of ``obj``."""
    modified = obj.last_modified.astimezone(UTC)
    s3_object: dict[str, object] = {
        # S3 URL-encodes keys in notifications as a form value: a space is '+', '/' stays.
        "key": quote_plus(obj.key, safe="/"),
        "size": obj.size,
        "eTag": obj.etag,
        # Hex, increasing for later writes of a key, as S3's; the stage orders versions by it.
        "sequencer": f"{int(modified.timestamp() * 1_000_000):016X}",
    }
    if version_id:
        s3_object["versionId"] = version_id
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": modified.strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{modified.microsecond // 1000:03d}Z",
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": ANNOUNCER},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": ANNOUNCER,
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": s3_object,
        },
    }
    return json.dumps({"Records": [record]})


def announce(sqs: SQSClient, queue_url: str, bodies: Sequence[str]) -> int:
    """Send each body as one message, ten per SendMessageBatch, several batches at once (each
    call is a round trip of tens of milliseconds on SQS; moto serves them nearly one at a time,
    so locally it gains little: 280 -> 314 objects/s for 5,000); return how many were sent."""

    def send(start: int) -> None:
        entries: list[SendMessageBatchRequestEntryTypeDef] = [
            {"Id": str(index), "MessageBody": body}
            for index, body in enumerate(bodies[start : start + SEND_MESSAGE_BATCH_MAX])
        ]
        failed = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries).get("Failed", [])
        if failed:
            reasons = "; ".join(f"{entry['Code']}: {entry.get('Message', '')}" for entry in failed)
            raise AnnounceError(f"the stage queue refused {len(failed)} message(s): {reasons}")

    starts = range(0, len(bodies), SEND_MESSAGE_BATCH_MAX)
    with ThreadPoolExecutor(ANNOUNCE_THREADS) as pool:
        for _ in pool.map(send, starts):  # raises the first refusal
            pass
    return len(bodies)


def announce_objects(landing: Landing, objects: Sequence[ListedObject]) -> int:
    """Announce each object to the landing's stage queue as S3 would have; return how many."""
    region = landing.s3.meta.region_name
    bodies = [object_created_notification(landing.bucket, obj, region) for obj in objects]
    return announce(landing.sqs, landing.stage_queue_url, bodies)
