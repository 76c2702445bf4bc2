"""The emulated COPY types most lines in Python (``json_typing.RowTyper``) and the rest in SQL;
both paths must store exactly the same rows and reject exactly the same files with the same
reasons. Each case below is loaded twice, by the two paths together and by the SQL path alone,
and every staged value, row count and rejection is compared. Each case also says which path the
typer gives it, so the comparison is never between two runs of the SQL path."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import psycopg
import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from psycopg import sql

from sparkify_loader.datasets import EVENTS, SONGS, Dataset
from sparkify_loader.events import LandedObject, parse_batch
from sparkify_loader.warehouse.base import FileLoad
from sparkify_loader.warehouse.json_copy import S3JsonCopy
from sparkify_local.pipeline import LocalPipeline
from tests.support.events import object_created

# One log line's keys as raw JSON text: a case overrides some (None drops the key).
BASE_EVENT = {
    "artist": '"Des\'ree"',
    "auth": '"Logged In"',
    "firstName": '"Kaylee"',
    "gender": '"F"',
    "itemInSession": "1",
    "lastName": '"Summers"',
    "length": "246.30812",
    "level": '"free"',
    "location": '"Phoenix-Mesa-Scottsdale, AZ"',
    "method": '"PUT"',
    "page": '"NextSong"',
    "registration": "1540344794796.0",
    "sessionId": "139",
    "song": '"You Gotta Be"',
    "status": "200",
    "ts": "1541106106796",
    "userAgent": '"Mozilla\\/5.0 (Windows NT 6.1; WOW64)"',
    "userId": '"8"',
}


def event(**raw: str | None) -> str:
    fields = {**BASE_EVENT, **raw}
    return "{" + ",".join(f'"{key}":{value}' for key, value in fields.items() if value) + "}"


# Lines the typer types: the SQL path must agree on every value.
TYPED_EVENTS = [
    event(),
    event(userId='""'),
    event(userId='"039"'),
    event(userId="39"),
    event(itemInSession="2147483647", sessionId="-2147483648", status="0"),
    event(ts='"1541105830796"'),
    event(registration="1e2", sessionId='"12"'),
    event(ts="9007199254740"),
    event(ts="-9007199254740"),
    event(length="12345678901234567890123"),
    event(length="1.7976931348623157e308", registration="-2.2250738585072014e-308"),
    event(length="0.1", registration="123456789.123456789123456789"),
    event(artist='"Beyonc\\u00e9 \\ud83d\\ude00"'),
    event(artist='"Beyoncé 😀"'),
    event(gender='"éééééééé"'),  # 16 bytes: VARCHAR(16) holds it
    event(gender='"' + "\\u00e9" * 8 + '"'),
    event(gender='"0123456789abcdef"'),
    event(page='"Home","page":"Logout"'),  # the last of duplicate keys wins
    event(page=None, extra='{"page": "nested"}', **{"p\\u0061ge": '"Escaped key"'}),
    event(artist="null", song="null", length="null", userId="null"),
    '{"ts": 1541106106796}',
    event() + "\r",
    "  " + event() + "\t ",
]

# Lines the SQL path types alone (the typer declines them): the result must be what it always was.
DECLINED_EVENTS = [
    event(artist='""'),
    event(userId='" 39"'),
    event(userId='"+39"'),
    event(userId='"1_000"'),
    event(userId='"0x1F"'),
    event(gender="5"),
    event(page="true"),
    event(page='{"a": [1, 2]}'),
    event(length="0"),
    event(length="-0.0"),
    event(length="4.9e-324"),
    event(length='"246.3"'),
    event(ts="-62135596800000"),
    event(ts="253402300799999"),
    event(ts="9007199254741"),
    event(artist='"tab\there"'),
    event(sessionId='"-12"'),
    event(extra="[" * 2000 + "]" * 2000),  # deeper than msgspec's recursion, in an unread key
]

# Valid JSON whose strings PostgreSQL text cannot hold.
NUL_EVENT = event(artist='"nul \\u0000 here"')
LONE_SURROGATE_EVENT = event(artist='"\\ud800"')
# Lines that make their file bad: each in a file of its own, after a good line, so the reason
# (line 2, the field, why) is compared too.
BAD_EVENTS = [
    event(userId='"39.0"'),
    event(userId="39.5"),
    event(userId='"abc"'),
    event(itemInSession="2147483648"),
    event(itemInSession="1e2"),
    event(length="1e309"),
    event(length="1e-400"),
    event(length='"NaN"'),
    event(ts="253402300800000"),
    event(ts="1.5"),
    event(gender='"ééééééééé"'),  # 18 bytes
    event(gender='"' + "\\u00e9" * 9 + '"'),
    event(gender='"0123456789abcdefg"'),
    NUL_EVENT,
    LONE_SURROGATE_EVENT,
    "[1, 2]",
    '"just a string"',
    event()[:-1],
]

SONG = '{"num_songs": 1, "artist_id": "AR1", "artist_latitude": 35.14968, "artist_longitude": -90.04892, "artist_location": "Memphis, TN", "artist_name": "Tesla", "song_id": "SO1", "title": "Caught In A Dream", "duration": 290.29832, "year": 2004}'  # noqa: E501
TYPED_SONGS = [
    SONG,
    SONG.replace(', "', ',\n  "').replace("{", "{\n  "),  # laid out over lines
    SONG.replace("35.14968", "null").replace("2004", "0"),
    SONG.replace('"year": 2004', '"year": ""'),
]
DECLINED_SONGS = [
    SONG.replace("Memphis, TN", ""),
    SONG.replace("Caught In", "Caught\nIn"),  # a raw newline in a string: COPY reads a space
]
BAD_SONGS = ["[]", SONG.replace("2004", "20.04")]
EMPTY_SONGS = ["", " \n\t\n"]


def fuzzed_events(count: int, seed: int) -> list[str]:
    """Numbers of every shape the typer takes: decimal and exponent floats of 1 to 25 digits
    (rounding must match PostgreSQL's float8in), integers to the edges of their columns."""
    rng = random.Random(seed)

    def decimal() -> str:
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 25)))
        digits = digits.lstrip("0") or "1"
        point = rng.randint(0, len(digits))
        mantissa = digits[:point] + ("." + digits[point:] if point < len(digits) else "")
        exponent = f"e{rng.randint(-280, 280)}" if rng.random() < 0.5 else ""
        return ("-" if rng.random() < 0.3 else "") + (mantissa.lstrip(".") or "1") + exponent

    return [
        event(
            length=decimal(),
            registration=decimal(),
            itemInSession=str(rng.randint(-(2**31), 2**31 - 1)),
            sessionId=f'"{rng.randint(0, 2**31 - 1)}"',
            ts=str(rng.randint(-(2**53 // 1000), 2**53 // 1000)),
        )
        for _ in range(count)
    ]


def land(pipeline: LocalPipeline, files: dict[str, str]) -> list[LandedObject]:
    records = []
    for key, body in files.items():
        etag = pipeline.stack.s3.put_object(
            Bucket=pipeline.stack.bucket, Key=key, Body=body.encode()
        )["ETag"]
        records.append(SQSRecord(object_created(key, etag)))
    return parse_batch(records).objects


def staged(
    pipeline: LocalPipeline, dataset: Dataset, objects: Sequence[LandedObject], typed_path: bool
) -> tuple[list[FileLoad], list[tuple[Any, ...]]]:
    """Each file's outcome and the staged rows (file_no last), sorted; rolled back after."""
    with psycopg.connect(pipeline.endpoints.warehouse_url) as connection:
        copier = S3JsonCopy(connection, pipeline.stack.s3, typed_path=typed_path)
        outcomes = copier.copy(dataset, objects, "json-typing")
        rows = connection.execute(
            sql.SQL("SELECT * FROM {} WHERE load_id = 'json-typing'").format(
                sql.Identifier(dataset.staging_table)
            )
        ).fetchall()
        connection.rollback()
    return [outcomes[obj.version] for obj in objects], sorted(rows, key=repr)


def assert_paths_agree(
    pipeline: LocalPipeline, dataset: Dataset, files: dict[str, str]
) -> list[FileLoad]:
    objects = land(pipeline, files)
    both = staged(pipeline, dataset, objects, typed_path=True)
    sql_only = staged(pipeline, dataset, objects, typed_path=False)
    assert both[0] == sql_only[0]
    assert len(both[1]) == len(sql_only[1])
    for row_both, row_sql in zip(both[1], sql_only[1], strict=True):
        assert row_both == row_sql
    return both[0]


def test_the_typed_path_takes_exactly_the_lines_it_can_type(pipeline: LocalPipeline) -> None:
    with psycopg.connect(pipeline.endpoints.warehouse_url) as connection:
        copier = S3JsonCopy(connection, pipeline.stack.s3)
        events, songs = copier.row_typer(EVENTS), copier.row_typer(SONGS)
    assert events is not None and songs is not None
    for line in TYPED_EVENTS + fuzzed_events(200, seed=1):
        assert events.row(line.encode()) is not None, line
    for line in DECLINED_EVENTS + BAD_EVENTS:
        assert events.row(line.encode()) is None, line
    for document in TYPED_SONGS:
        assert songs.row(document.encode()) is not None, document
    for document in DECLINED_SONGS + BAD_SONGS:
        assert songs.row(document.encode()) is None, document


def test_log_lines_load_the_same_on_both_paths(pipeline: LocalPipeline) -> None:
    files = {
        "log_data/typing/good.json": "\n".join(TYPED_EVENTS + DECLINED_EVENTS),
        # blank lines count in line numbers and stage nothing
        "log_data/typing/blank-lines.json": "\n\n  \n" + event() + "\n\n",
        "log_data/typing/fuzzed.json": "\n".join(fuzzed_events(3000, seed=14)),
    }
    files.update(
        {
            f"log_data/typing/bad-{index}.json": event() + "\n" + line
            for index, line in enumerate(BAD_EVENTS)
        }
    )
    outcomes = assert_paths_agree(pipeline, EVENTS, files)
    assert outcomes[2].error is None, outcomes[2].error
    assert [outcome.rows for outcome in outcomes[:3]] == [
        len(TYPED_EVENTS) + len(DECLINED_EVENTS),
        1,
        3000,
    ]
    assert {outcome.status for outcome in outcomes[3:]} == {"rejected"}
    assert all(str(outcome.error).startswith("line 2: ") for outcome in outcomes[3:])
    # Valid JSON PostgreSQL cannot hold as text is a bad file too, not a failed batch.
    reasons = {line: outcome.error for line, outcome in zip(BAD_EVENTS, outcomes[3:], strict=True)}
    assert reasons[NUL_EVENT] == (
        "line 2: cannot be stored as text: unsupported Unicode escape sequence: "
        "\\u0000 cannot be converted to text."
    )
    assert reasons[LONE_SURROGATE_EVENT] == (
        "line 2: cannot be stored as text: invalid input syntax for type json: "
        "Unicode low surrogate must follow a high surrogate."
    )


@pytest.mark.parametrize("kind", ["typed", "declined", "bad", "empty"])
def test_song_files_load_the_same_on_both_paths(pipeline: LocalPipeline, kind: str) -> None:
    documents = {
        "typed": TYPED_SONGS,
        "declined": DECLINED_SONGS,
        "bad": BAD_SONGS,
        "empty": EMPTY_SONGS,
    }[kind]
    files = {
        f"song_data/typing/{kind}-{index}.json": document
        for index, document in enumerate(documents)
    }
    outcomes = assert_paths_agree(pipeline, SONGS, files)
    expected = {
        "typed": ("staged", 1),
        "declined": ("staged", 1),
        "bad": ("rejected", 0),
        "empty": ("staged", 0),
    }[kind]
    assert {(outcome.status, outcome.rows) for outcome in outcomes} == {expected}
