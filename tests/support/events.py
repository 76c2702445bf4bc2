"""Lambda events for the handlers, built from the sample events in tests/events/.

S3 URL-encodes the key in a notification (a space is ``+``); these builders encode it the same
way, so a test passes the key as it is in the bucket and the handler has to decode it.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from urllib.parse import quote_plus

LANDING_BUCKET = "sparkify-landing"
EVENTS_DIR = Path(__file__).resolve().parents[1] / "events"


def load_event(name: str) -> dict:
    """A sample Lambda event from tests/events/."""
    return json.loads((EVENTS_DIR / name).read_text())


def sqs_record(body: str, message_id: str | None = None) -> dict:
    """An SQS record as Lambda's event source mapping delivers it, carrying ``body``."""
    record = load_event("s3_object_created.json")
    record["body"] = body
    record["messageId"] = message_id or str(uuid.uuid4())
    return record


def object_created(
    key: str,
    etag: str,
    *,
    size: int = 0,
    sequencer: str = "0055AED6DCD90281E5",
    bucket: str = LANDING_BUCKET,
    message_id: str | None = None,
    encoded_key: str | None = None,
) -> dict:
    """An SQS record whose body is S3's ObjectCreated notification for one object version."""
    template = load_event("s3_object_created.json")
    notification = json.loads(template["body"])
    s3 = notification["Records"][0]["s3"]
    s3["bucket"]["name"] = bucket
    s3["bucket"]["arn"] = f"arn:aws:s3:::{bucket}"
    s3["object"].update(
        key=encoded_key if encoded_key is not None else quote_plus(key, safe="/"),
        eTag=etag,
        size=size,
        sequencer=sequencer,
    )
    return sqs_record(json.dumps(notification), message_id)


def s3_test_event_record(message_id: str | None = None) -> dict:
    """The s3:TestEvent message S3 sends once when the notification is configured."""
    return sqs_record(json.dumps(load_event("s3_test_event.json")), message_id)


def sqs_event(*records: dict) -> dict:
    return {"Records": list(records)}
