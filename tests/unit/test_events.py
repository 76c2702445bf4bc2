"""S3 notifications delivered through SQS become landed objects: keys decoded once, test events
ignored, other prefixes collected, malformed messages named by their message id."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from sparkify_loader.datasets import EVENTS, SONGS
from sparkify_loader.events import parse_batch
from tests.support.events import object_created, s3_test_event_record, sqs_record


def parse(*records: dict):
    return parse_batch([SQSRecord(record) for record in records])


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        ("song_data/two+words.json", "song_data/two words.json"),
        ("song_data/a%2Bb.json", "song_data/a+b.json"),
        ("song_data/it%27s.json", "song_data/it's.json"),
        ("song_data/caf%C3%A9.json", "song_data/café.json"),
        ("song_data/%E6%97%A5%E6%9C%AC.json", "song_data/日本.json"),
        ("song_data/%F0%9F%8E%B8.json", "song_data/🎸.json"),
        ("song_data/%2541.json", "song_data/%41.json"),
        ("song_data/say+%22hi%22.json", 'song_data/say "hi".json'),
        # moto (and some S3 clients) encode the slash too
        ("log_data%2F2018%2F11%2Fday.json", "log_data/2018/11/day.json"),
    ],
)
def test_keys_are_url_decoded_once(encoded: str, decoded: str) -> None:
    # Given a notification whose key S3 URL-encoded
    record = object_created(decoded, "etag", encoded_key=encoded)

    # When the batch is parsed
    batch = parse(record)

    # Then the object's key is the key as it is in the bucket, decoded exactly once
    assert [obj.key for obj in batch.objects] == [decoded]
    assert batch.malformed == {}


def test_object_created_becomes_a_landed_object() -> None:
    # Given the sample ObjectCreated notification for a log file
    record = object_created(
        "log_data/2018/11/2018-11-01-events.json",
        '"9b2cf535f27731c974343645a3985328"',
        size=7151,
        sequencer="0055AED6DCD90281E5",
        message_id="m-1",
    )

    # When the batch is parsed
    batch = parse(record)

    # Then every field the stage needs is there, the etag without its quotes
    (obj,) = batch.objects
    assert obj.message_id == "m-1"
    assert obj.bucket == "sparkify-landing"
    assert obj.key == "log_data/2018/11/2018-11-01-events.json"
    assert obj.etag == "9b2cf535f27731c974343645a3985328"
    assert obj.size == 7151
    assert obj.sequencer == "0055AED6DCD90281E5"
    assert obj.event_time == datetime(2018, 11, 2, 1, 23, 45, 678000)
    assert obj.dataset is EVENTS
    assert obj.version == ("sparkify-landing", obj.key, "9b2cf535f27731c974343645a3985328")


def test_song_files_belong_to_the_songs_dataset() -> None:
    batch = parse(object_created("song_data/A/B/C/TRABC.json", "e"))
    assert [obj.dataset for obj in batch.objects] == [SONGS]


def test_s3_test_event_is_counted_and_ignored() -> None:
    # Given the s3:TestEvent S3 sends when the notification is configured
    # When it is parsed
    batch = parse(s3_test_event_record())

    # Then it announces no object and is not an error
    assert batch.test_events == 1
    assert batch.objects == []
    assert batch.malformed == {}
    assert batch.unknown_prefix == []


def test_keys_outside_the_landing_prefixes_are_collected_not_staged() -> None:
    # Given notifications for keys under other prefixes, and one good key
    records = [
        object_created("_loader/manifests/batch.json", "e1"),
        object_created("archive/song_data/x.json", "e2"),
        object_created("Song_Data/x.json", "e3"),
        object_created("song_data/ok.json", "e4"),
    ]

    # When they are parsed
    batch = parse(*records)

    # Then only the landing key becomes an object; the others are collected, not errors
    assert [obj.key for obj in batch.objects] == ["song_data/ok.json"]
    assert batch.unknown_prefix == [
        "_loader/manifests/batch.json",
        "archive/song_data/x.json",
        "Song_Data/x.json",
    ]
    assert batch.malformed == {}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("this is not JSON", "message body is not JSON"),
        ("", "message body is not JSON"),
        ('["Records"]', "message body is not a JSON object"),
        ('{"Message": "hello"}', "message body has no S3 'Records'"),
        ('{"Records": "not a list"}', "message body has no S3 'Records'"),
        ('{"Records": [{"eventName": "ObjectCreated:Put"}]}', "not an S3 event notification"),
        (
            '{"Records": [{"s3": {"bucket": {"name": "b"}, "object": {"key": "song_data/x.json",'
            ' "eTag": "e", "size": "big"}}}]}',
            "not an S3 event notification",
        ),
    ],
)
def test_malformed_message_is_reported_by_message_id(body: str, reason: str) -> None:
    # Given a malformed message in the same batch as a good one
    good = object_created("song_data/good.json", "e", message_id="good")
    bad = sqs_record(body, message_id="bad")

    # When the batch is parsed
    batch = parse(good, bad)

    # Then the malformed message is named with its reason, and the good one still parses
    assert list(batch.malformed) == ["bad"]
    assert reason in batch.malformed["bad"]
    assert [obj.message_id for obj in batch.objects] == ["good"]


def test_one_message_with_several_records_yields_each_object() -> None:
    # Given one message whose notification carries two records (S3 may batch them)
    first = object_created("song_data/one.json", "e1")
    notification = json.loads(first["body"])
    second_record = json.loads(json.dumps(notification["Records"][0]))
    second_record["s3"]["object"].update(key="log_data/two.json", eTag="e2")
    notification["Records"].append(second_record)
    record = sqs_record(json.dumps(notification), message_id="m")

    # When it is parsed
    batch = parse(record)

    # Then both objects are there, attributed to that message
    assert [(obj.message_id, obj.key, obj.etag) for obj in batch.objects] == [
        ("m", "song_data/one.json", "e1"),
        ("m", "log_data/two.json", "e2"),
    ]
