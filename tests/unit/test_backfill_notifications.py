"""The notification ``sparkify backfill`` sends is S3's: the stage function's own parser reads it
back to the same object version, hostile keys included."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from sparkify_loader.completeness.landing import LandingRule, landing_rules
from sparkify_loader.completeness.listing import (
    ListedObject,
    PrefixOutsideDatasetsError,
    listing_prefixes,
)
from sparkify_loader.completeness.notifications import object_created_notification
from sparkify_loader.events import parse_batch
from sparkify_local.runtime.resources import BUCKET_RESOURCE, TEMPLATE_PATH
from sparkify_local.sam.loading import load_template
from sparkify_local.sam.template import bucket_notifications
from tests.support.events import sqs_record

RULES = [LandingRule("song_data/", ".json"), LandingRule("log_data/", ".json")]


@pytest.mark.parametrize(
    "key",
    [
        "log_data/2018/11/2018-11-01-events.json",
        "log_data/2018/11/a day with spaces.json",
        "song_data/A/B/plus+percent%20and 'quote'.json",
        "song_data/Ü/Beyoncé Halo 😀 日本.json",
    ],
)
def test_the_stage_parser_reads_the_announced_key_back(key: str) -> None:
    # Given an object as the listing shows it
    modified = datetime(2018, 11, 2, 1, 23, 45, 678000, tzinfo=UTC)
    obj = ListedObject(
        key=key, etag="0cc175b9c0f1b6a831c399e269772661", size=42, last_modified=modified
    )

    # When backfill makes its notification
    body = object_created_notification("sparkify-landing", obj, "us-east-1")

    # Then it is S3's JSON, the key URL-encoded as S3 encodes it (no space, no raw non-ASCII)
    record = json.loads(body)["Records"][0]
    assert record["eventSource"] == "aws:s3"
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["bucket"] == {
        "name": "sparkify-landing",
        "arn": "arn:aws:s3:::sparkify-landing",
    }
    encoded = record["s3"]["object"]["key"]
    assert " " not in encoded and encoded.isascii()
    assert "versionId" not in record["s3"]["object"]

    # And the stage function's parser reads back the same version
    parsed = parse_batch([SQSRecord(sqs_record(body))])
    assert not parsed.malformed and not parsed.unknown_prefix
    (landed,) = parsed.objects
    assert (landed.bucket, landed.key, landed.etag, landed.size) == (
        "sparkify-landing",
        key,
        obj.etag,
        42,
    )
    assert landed.event_time == modified.replace(tzinfo=None)


def test_a_later_write_gets_a_later_sequencer() -> None:
    # Given two writes of one key, a millisecond apart
    first, second = (
        ListedObject("log_data/a.json", "e", 1, datetime(2018, 11, 2, 0, 0, 0, ms * 1000, UTC))
        for ms in (1, 2)
    )

    # When both are announced
    sequencers = [
        json.loads(object_created_notification("b", obj, "us-east-1"))["Records"][0]["s3"][
            "object"
        ]["sequencer"]
        for obj in (first, second)
    ]

    # Then the stage orders them as written (hex compared left-padded, as it compares S3's)
    assert sequencers[0].rjust(32, "0") < sequencers[1].rjust(32, "0")


def test_a_version_id_is_passed_on_when_present() -> None:
    obj = ListedObject("log_data/a.json", "e", 1, datetime(2018, 11, 2, tzinfo=UTC))
    body = object_created_notification("b", obj, "us-east-1", version_id="v1")
    (landed,) = parse_batch([SQSRecord(sqs_record(body))]).objects
    assert landed.version_id == "v1"


@pytest.mark.parametrize(
    ("prefix", "listed"),
    [
        (None, ["song_data/", "log_data/"]),
        ("log_data/2018/11/", ["log_data/2018/11/"]),
        ("log_data", ["log_data/"]),
        ("", ["song_data/", "log_data/"]),
    ],
)
def test_a_prefix_narrows_the_listing_to_the_dataset_prefixes(
    prefix: str | None, listed: list[str]
) -> None:
    assert [first for first, _ in listing_prefixes(RULES, prefix)] == listed


def test_a_prefix_outside_the_dataset_prefixes_is_refused() -> None:
    with pytest.raises(PrefixOutsideDatasetsError, match="outside the dataset prefixes"):
        listing_prefixes(RULES, "song_data_old/")


def test_the_landing_rules_are_the_buckets_notification_filters() -> None:
    # The deployed CLI and the Reconcile function list what these rules say; the bucket
    # announces what template.yaml's filters say: the two must be the same rules.
    template = load_template(TEMPLATE_PATH)
    filters = [
        LandingRule(rule.prefix, rule.suffix)
        for rule in bucket_notifications(template, BUCKET_RESOURCE)
    ]
    assert sorted(filters, key=str) == sorted(landing_rules(), key=str)
