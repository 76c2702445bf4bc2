"""The Redshift engine and the stage against a recorded-behaviour double of redshift-connector
and Redshift (tests/support/redshift_double.py): Serverless and provisioned load diagnostics,
retryable conflicts, the driver's bind-parameter limit, byte-sized VARCHARs. The engine, the
stage and the merge's failure record are the real code; S3 is moto."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING

import boto3
import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from moto import mock_aws

from sparkify_loader.config import MergeSettings
from sparkify_loader.datasets import EVENTS
from sparkify_loader.events import LandedObject, ParsedBatch, parse_batch
from sparkify_loader.merge import Merge
from sparkify_loader.merge_steps import CaughtError
from sparkify_loader.sqlfiles import render_sql
from sparkify_loader.stage import StageReport, stage_batch
from sparkify_loader.varchar import (
    LEDGER_ERROR_BYTES,
    MERGE_RUN_ERROR_BYTES,
    MERGE_RUN_EXECUTION_BYTES,
    fit_varchar,
)
from sparkify_loader.warehouse.redshift import ManifestWriter, RedshiftSession
from tests.support.events import LANDING_BUCKET, object_created
from tests.support.redshift_double import (
    BIND_PARAMETER_LIMIT,
    DEADLOCK,
    SERIALIZABLE_VIOLATION,
    SNAPSHOT_CONFLICT,
    Kind,
    RecordedRedshift,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ROLE = "arn:aws:iam::123456789012:role/sparkify-copy"
EVENT_LINE = b'{"ts": 1541105830796, "page": "NextSong", "userId": "7"}\n'
SONG_LINE = b'{"song_id": "SOUPIRU12A6D4FA1E1", "num_songs": 1, "duration": 218.93}\n'
# The template's largest StageBatchSize.
LARGEST_BATCH = 10_000


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Client]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=LANDING_BUCKET)
        yield client


def redshift(s3: S3Client, kind: Kind) -> tuple[RecordedRedshift, RedshiftSession]:
    server = RecordedRedshift(kind=kind, s3=s3)
    session = RedshiftSession(
        server.connect(),  # type: ignore[arg-type]  # redshift-connector's shape, recorded
        s3=s3,
        manifests=ManifestWriter(s3, LANDING_BUCKET),
        copy_role_arn=ROLE,
        kind=kind,
    )
    return server, session


def land(s3: S3Client, files: dict[str, bytes]) -> ParsedBatch:
    records = []
    for key, body in files.items():
        etag = s3.put_object(Bucket=LANDING_BUCKET, Key=key, Body=body)["ETag"]
        records.append(object_created(key, etag))
    return parse_batch([SQSRecord(record) for record in records])


def stage(session: RedshiftSession, batch: ParsedBatch) -> StageReport:
    return stage_batch(session, batch, max_attempts=3, sleep=lambda _: None)


def url(key: str) -> str:
    return f"s3://{LANDING_BUCKET}/{key}"


def outcomes_by_key(report: StageReport) -> dict[str, tuple[str, int, str | None]]:
    return {key: (o.status, o.rows, o.error) for (_, key, _), o in report.outcomes.items()}


# -- Load diagnostics by warehouse kind -------------------------------------------------------


@pytest.mark.parametrize("kind", ["serverless", "provisioned"])
def test_a_bad_file_is_rejected_alone_on_either_kind(s3: S3Client, kind: Kind) -> None:
    # Given a batch of two good log files and a bad one, on a warehouse of that kind
    server, session = redshift(s3, kind)
    batch = land(
        s3,
        {
            "log_data/a.json": EVENT_LINE * 2,
            "log_data/b.json": b"not json\n",
            "log_data/c.json": EVENT_LINE * 3,
        },
    )
    server.bad_files[url("log_data/b.json")] = (1, "", "Invalid JSONPath format")

    # When the batch is staged
    report = stage(session, batch)

    # Then the bad file is rejected with its reason and the others staged with their rows
    assert outcomes_by_key(report) == {
        "log_data/a.json": ("staged", 2, None),
        "log_data/b.json": ("rejected", 0, "line 1: Invalid JSONPath format"),
        "log_data/c.json": ("staged", 3, None),
    }
    assert server.staged_rows == {"staging_events": 5}
    assert len(server.ledger) == 3
    # ... reading only the views the kind has (Serverless refuses STL with 42501), and never
    # the COPY id, which a rollback leaves pointing at an older COPY
    sent = "\n".join(server.statements)
    assert ("stl_" in sent) is (kind == "provisioned")
    assert "pg_last_copy_id" not in sent


def test_the_bad_file_is_named_when_the_noload_diagnosis_fails_too(s3: S3Client) -> None:
    # Given a batch with a bad file, whose diagnostic NOLOAD COPY fails as well
    server, session = redshift(s3, "provisioned")
    batch = land(s3, {"log_data/good.json": EVENT_LINE, "log_data/bad.json": b"{\n"})
    server.bad_files[url("log_data/bad.json")] = (1, "", "Unknown parse error")
    server.faults.append((r"NOLOAD$", {"S": "ERROR", "C": "XX000", "M": "too many errors"}))

    # When the batch is staged
    report = stage(session, batch)

    # Then the first COPY's own load errors name the bad file (read by session, time and file
    # name after the rollback, not by the rolled-back pg_last_copy_id), and the rest loads
    assert outcomes_by_key(report) == {
        "log_data/good.json": ("staged", 1, None),
        "log_data/bad.json": ("rejected", 0, "line 1: Unknown parse error"),
    }


def test_an_earlier_error_of_the_same_file_in_the_session_is_not_read_again(
    s3: S3Client,
) -> None:
    # Given a file rejected by an earlier batch of this session, then fixed and uploaded again
    # under the same key, in a batch with another bad file
    server, session = redshift(s3, "serverless")
    server.bad_files[url("log_data/fixed.json")] = (4, "ts", "Invalid timestamp")
    stage(session, land(s3, {"log_data/fixed.json": b"{bad\n"}))
    del server.bad_files[url("log_data/fixed.json")]
    server.bad_files[url("log_data/other.json")] = (2, "", "Invalid JSON")
    batch = land(s3, {"log_data/fixed.json": EVENT_LINE, "log_data/other.json": b"x\n"})

    # When the new batch is staged
    report = stage(session, batch)

    # Then the fixed file loads: its old error row predates this COPY
    assert outcomes_by_key(report) == {
        "log_data/fixed.json": ("staged", 1, None),
        "log_data/other.json": ("rejected", 0, "line 2: Invalid JSON"),
    }


def test_a_failed_per_file_count_costs_a_rerun_not_the_batch(s3: S3Client) -> None:
    # Given a Serverless workgroup that the settings call provisioned: the per-file row count of
    # a multi-file COPY (one-song files share one) reads an STL view inside the stage
    # transaction, and Serverless refuses it (42501), which aborts the transaction
    server = RecordedRedshift(kind="serverless", s3=s3)
    session = RedshiftSession(
        server.connect(),  # type: ignore[arg-type]
        s3=s3,
        manifests=ManifestWriter(s3, LANDING_BUCKET),
        copy_role_arn=ROLE,
        kind="provisioned",
    )
    batch = land(s3, {"song_data/a.json": SONG_LINE, "song_data/b.json": SONG_LINE})

    # When the batch is staged
    report = stage(session, batch)

    # Then the transaction ran again without the count and staged both files once, their rows
    # recorded as not counted (NULL), not as a wrong number
    assert report.attempts == 2
    assert {key: (o.status, o.counted) for (_, key, _), o in report.outcomes.items()} == {
        "song_data/a.json": ("staged", False),
        "song_data/b.json": ("staged", False),
    }
    assert server.staged_rows == {"staging_songs": 2}
    assert [(row["key"], row["status"], row["rows"]) for row in server.ledger] == [
        ("song_data/a.json", "staged", None),
        ("song_data/b.json", "staged", None),
    ]

    # And the next batch counts again (it fails the same way here, so it reruns as well)
    again = stage(session, land(s3, {"song_data/c.json": SONG_LINE, "song_data/d.json": b""}))
    assert again.attempts == 2
    assert sum(statement.startswith("COPY") for statement in server.statements) == 4


def test_each_log_file_is_copied_alone_so_its_rows_name_it(s3: S3Client) -> None:
    # Given a batch of three log files and two one-song files, the first log file deleted
    # before it could load (so each file's number, its place in the batch, is not its place
    # among the files copied)
    server, session = redshift(s3, "serverless")
    batch = land(
        s3,
        {
            "log_data/0-gone.json": EVENT_LINE * 4,
            "log_data/a.json": EVENT_LINE * 2,
            "log_data/b.json": EVENT_LINE,
            "log_data/c.json": EVENT_LINE * 3,
            "song_data/x.json": SONG_LINE,
            "song_data/y.json": SONG_LINE,
        },
    )
    s3.delete_object(Bucket=LANDING_BUCKET, Key="log_data/0-gone.json")

    # When the batch is staged
    report = stage(session, batch)

    # Then each log file had a COPY of its own, and its rows carry the file number the ledger
    # gives it, so a corrected version of it can replace exactly its rows; the song files share
    # one COPY (the merge keys songs by song_id), their rows not attributed to a file
    assert report.attempts == 1
    copies = [s for s in server.statements if s.startswith("COPY") and "NOLOAD" not in s]
    assert len(copies) == 3 + 1
    events = {
        row["key"]: row
        for row in server.ledger
        if row["dataset"] == "events" and row["status"] == "staged"
    }
    assert {
        key: server.staged_rows_by_file[("staging_events", row["file_no"])]
        for key, row in events.items()
    } == {"log_data/a.json": 2, "log_data/b.json": 1, "log_data/c.json": 3}
    assert {key: row["rows"] for key, row in events.items()} == {
        "log_data/a.json": 2,
        "log_data/b.json": 1,
        "log_data/c.json": 3,
    }
    assert outcomes_by_key(report)["log_data/0-gone.json"][0] == "missing"
    assert server.staged_rows_by_file[("staging_songs", None)] == 2
    # and a log file's exact count is its own INSERT's: no load view is read for it
    assert not any(
        "lines_scanned" in s for s in server.statements[: server.statements.index(copies[-1])]
    )


def test_every_bad_log_file_is_named_by_the_first_failed_copy(s3: S3Client) -> None:
    # Given a batch of log files where the second and the third are bad
    server, session = redshift(s3, "provisioned")
    batch = land(
        s3,
        {
            "log_data/a.json": EVENT_LINE,
            "log_data/b.json": b"not json\n",
            "log_data/c.json": b"[]\n",
            "log_data/d.json": EVENT_LINE * 2,
        },
    )
    server.bad_files[url("log_data/b.json")] = (1, "", "Invalid JSONPath format")
    server.bad_files[url("log_data/c.json")] = (1, "", "Invalid JSON object")

    # When the batch is staged
    report = stage(session, batch)

    # Then the first failure's diagnosis named both (the batch's files, read with NOLOAD), so
    # one rerun staged the good files
    assert report.attempts == 2
    assert outcomes_by_key(report) == {
        "log_data/a.json": ("staged", 1, None),
        "log_data/b.json": ("rejected", 0, "line 1: Invalid JSONPath format"),
        "log_data/c.json": ("rejected", 0, "line 1: Invalid JSON object"),
        "log_data/d.json": ("staged", 2, None),
    }
    assert server.staged_rows == {"staging_events": 3}
    # and the rerun's files carry their numbers in the rerun's batch, as the ledger does
    staged = {row["key"]: row["file_no"] for row in server.ledger if row["status"] == "staged"}
    assert {
        key: server.staged_rows_by_file[("staging_events", file_no)]
        for key, file_no in staged.items()
    } == {"log_data/a.json": 1, "log_data/d.json": 2}


@pytest.mark.parametrize(
    ("kind", "probed"), [("serverless", "serverless"), ("provisioned", "provisioned")]
)
def test_the_kind_is_probed_outside_any_transaction_when_settings_do_not_tell(
    s3: S3Client, kind: Kind, probed: str
) -> None:
    # Given a connection whose kind the settings could not tell (a secret, a custom domain)
    server = RecordedRedshift(kind=kind, s3=s3)
    session = RedshiftSession(
        server.connect(),  # type: ignore[arg-type]
        s3=s3,
        manifests=ManifestWriter(s3, LANDING_BUCKET),
        copy_role_arn=ROLE,
    )

    # When it detects the kind
    detected = session.detect_kind()

    # Then the STL probe decided it (42501 means Serverless), and the session is still usable
    assert detected == probed == session.kind
    assert session.query("SELECT 1") == [(1,)]


# -- Retryable conflicts ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "conflict",
    [SNAPSHOT_CONFLICT, SERIALIZABLE_VIOLATION, DEADLOCK],
    ids=["snapshot-conflict", "1023", "40P01"],
)
# Where the race is lost: at COMMIT, or at a statement of the transaction (its COPY, its ledger
# insert), which then aborts it. Either way the whole transaction runs again.
@pytest.mark.parametrize(
    "where", ["COMMIT", r"^COPY ", r"^INSERT INTO load_ledger"], ids=["commit", "copy", "ledger"]
)
def test_a_lost_race_is_retried(s3: S3Client, conflict: dict[str, str], where: str) -> None:
    # Given a warehouse whose first transaction loses a race with a concurrent one, at a
    # statement or at its commit
    server, session = redshift(s3, "serverless")
    server.faults.append((where, conflict))
    batch = land(s3, {"log_data/a.json": EVENT_LINE})

    # When the batch is staged
    report = stage(session, batch)

    # Then the transaction ran again and staged the file once
    assert report.attempts == 2
    assert outcomes_by_key(report) == {"log_data/a.json": ("staged", 1, None)}
    assert len(server.ledger) == 1


def test_the_ledger_is_locked_before_it_is_read(s3: S3Client) -> None:
    # Given a batch
    server, session = redshift(s3, "provisioned")
    batch = land(s3, {"log_data/a.json": EVENT_LINE, "song_data/s.json": b'{"song_id": "S"}'})

    # When it is staged
    stage(session, batch)

    # Then the transaction's first statement locks the ledger, and events precede songs
    assert server.statements[0] == "LOCK load_ledger"
    copies = [
        statement.split()[1] for statement in server.statements if statement.startswith("COPY")
    ]
    assert copies == ["copy_events", "copy_songs"]


# -- The driver's bind-parameter limit --------------------------------------------------------


def test_the_largest_batch_stays_within_the_drivers_bind_limit(s3: S3Client) -> None:
    # Given the largest batch the template allows: one key announced in 10,000 versions (the
    # newest loads, the others are recorded superseded: 12 parameters per ledger row)
    etag = s3.put_object(Bucket=LANDING_BUCKET, Key="log_data/k.json", Body=EVENT_LINE)["ETag"]
    objects = [
        LandedObject(
            message_id=f"m{index}",
            bucket=LANDING_BUCKET,
            key="log_data/k.json",
            etag=etag.strip('"') if index == LARGEST_BATCH - 1 else f"{index:032x}",
            size=len(EVENT_LINE),
            version_id=None,
            event_time=datetime(2026, 12, 1),
            sequencer=f"{index:016X}",
            dataset=EVENTS,
        )
        for index in range(LARGEST_BATCH)
    ]
    server, session = redshift(s3, "serverless")

    # When it is staged (the double raises DataError past 32,767 parameters, as the driver does)
    report = stage(session, ParsedBatch(objects=objects))

    # Then every version has its ledger row, written in statements within the limit
    assert report.count("superseded") == LARGEST_BATCH - 1 and report.count("staged") == 1
    assert len(server.ledger) == LARGEST_BATCH
    widest = max(statement.count("%(") for statement in server.statements)
    assert 12 * LARGEST_BATCH > BIND_PARAMETER_LIMIT >= widest


# -- Byte-sized VARCHARs ----------------------------------------------------------------------


def test_a_multibyte_rejection_reason_fits_the_ledgers_varchar(s3: S3Client) -> None:
    # Given a bad file whose reason is 3,000 two-byte characters (6,000 bytes > VARCHAR(4096))
    server, session = redshift(s3, "serverless")
    batch = land(s3, {"log_data/b.json": b"x\n"})
    server.bad_files[url("log_data/b.json")] = (1, "", "é" * 3000)

    # When the batch is staged
    report = stage(session, batch)

    # Then the ledger row holds the reason cut to 4,096 bytes, on a character boundary
    (row,) = server.ledger
    assert report.count("rejected") == 1
    assert len(row["error"].encode("utf-8")) <= 4096
    assert row["error"].startswith("line 1: éé") and row["error"].endswith("é")


def test_a_multibyte_merge_failure_fits_merge_runs_varchar(s3: S3Client) -> None:
    # Given a merge failure whose text is 4,000 characters of 2 to 4 bytes each
    server, session = redshift(s3, "serverless")
    settings = MergeSettings.model_validate(
        {"warehouse_engine": "postgres", "warehouse_url": "postgresql:///unused"}
    )
    cause = "ü🎵" * 2000

    # When the failure is recorded
    result = Merge(session, settings).fail("a" * 32, CaughtError(Error="Boom", Cause=cause))

    # Then the recorded error fits VARCHAR(4096) in bytes, no character split
    recorded = next(
        params["error"]
        for statement, params in zip(server.statements, server.parameters, strict=True)
        if statement.startswith("UPDATE merge_runs")
    )
    assert len(recorded.encode("utf-8")) <= 4096
    assert f"Boom: {cause}".startswith(recorded) and result.released


def test_a_long_multibyte_execution_name_fits_merge_runs_varchar(s3: S3Client) -> None:
    # Given a staged file, and an execution whose ARN holds a user-chosen name of 80 characters
    # of 2 to 4 bytes each (Step Functions counts characters; merge_runs.execution is
    # VARCHAR(256), in bytes)
    server, session = redshift(s3, "serverless")
    stage(session, land(s3, {"log_data/a.json": EVENT_LINE}))
    settings = MergeSettings.model_validate(
        {"warehouse_engine": "postgres", "warehouse_url": "postgresql:///unused"}
    )
    execution = "arn:aws:states:us-west-2:123456789012:execution:sparkify-merge:" + "ü🎵" * 40

    # When a merge started by that execution takes the lease
    lease = Merge(session, settings).lease(execution)

    # Then its run is recorded with the ARN cut to 256 bytes, no character split
    recorded = next(
        params["execution"]
        for statement, params in zip(server.statements, server.parameters, strict=True)
        if statement.startswith("INSERT INTO merge_runs")
    )
    assert lease.acquired
    assert len(execution.encode("utf-8")) > 256 >= len(recorded.encode("utf-8"))
    assert execution.startswith(recorded) and len(recorded.encode("utf-8")) > 250


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("abc", 3, "abc"),
        ("abcd", 3, "abc"),
        ("aé", 2, "a"),  # é is 2 bytes: never half of it
        ("🎵🎵", 7, "🎵"),
        ("é" * 3000, 4096, "é" * 2048),
    ],
)
def test_fit_varchar_cuts_by_utf8_bytes_on_a_character_boundary(
    text: str, limit: int, expected: str
) -> None:
    # Given a text and a VARCHAR size in bytes
    # When it is fitted
    fitted = fit_varchar(text, limit)

    # Then it is the longest prefix within the bytes
    assert fitted == expected
    assert len(fitted.encode("utf-8")) <= limit


@pytest.mark.parametrize(
    ("schema_file", "column", "limit"),
    [
        ("030_load_ledger.sql", "error", LEDGER_ERROR_BYTES),
        ("100_merge_runs.sql", "error", MERGE_RUN_ERROR_BYTES),
        ("100_merge_runs.sql", "execution", MERGE_RUN_EXECUTION_BYTES),
    ],
)
def test_each_byte_limit_is_its_columns_varchar_size(
    schema_file: str, column: str, limit: int
) -> None:
    # Given the schema file that creates the column
    schema = render_sql(f"schema/{schema_file}")

    # Then the limit the code cuts to is the column's declared size
    assert re.search(rf"^\s*{column}\s+VARCHAR\({limit}\)", schema, re.MULTILINE), schema
