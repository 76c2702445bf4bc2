"""The Redshift engine's connection-free parts: literal quoting, COPY rendering, manifests and
the S3 pre-check (against moto), mapping load-table file names to object versions, connection
options and error translation. No Redshift exists here, and none is faked."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING

import boto3
import pytest
import redshift_connector
from moto import mock_aws

from sparkify_loader.config import WarehouseSettings
from sparkify_loader.datasets import EVENTS, SONGS, Dataset
from sparkify_loader.events import LandedObject
from sparkify_loader.sqlfiles import QuotedLiteral, schema_files, sql_path, sql_source
from sparkify_loader.warehouse.errors import (
    SerializationConflict,
    TransientWarehouseError,
    WarehouseError,
)
from sparkify_loader.warehouse.redshift import (
    ManifestWriter,
    attribute_files,
    connection_options,
    copy_columns,
    insert_from_copy_target_sql,
    load_error_reasons,
    precheck_objects,
    render_copy,
    rows_by_version,
    translated_errors,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

LANDING = "sparkify-landing"
ROLE = "arn:aws:iam::123456789012:role/sparkify-copy"
HOSTILE_KEYS = (
    "log_data/2018/11/plain.json",
    "log_data/2018/11/it's a quote.json",
    "log_data/2018/11/spaces and+plus %41.json",
    "log_data/2018/11/café 🎵 ünïcode.json",
)


def landed(key: str, etag: str = "0" * 32, dataset: Dataset = EVENTS) -> LandedObject:
    return LandedObject(
        message_id=f"msg-{key}",
        bucket=LANDING,
        key=key,
        etag=etag,
        size=10,
        version_id=None,
        event_time=None,
        sequencer="",
        dataset=dataset,
    )


def sql_literals(statement: str) -> list[str]:
    """The string literals of a statement, unquoted, by a quote-aware scan that skips ``--``
    comments; fails if a literal is left open."""
    literals: list[str] = []
    index = 0
    while index < len(statement):
        char = statement[index]
        if statement.startswith("--", index):
            index = statement.find("\n", index)
            index = len(statement) if index < 0 else index
        elif char == "'":
            value: list[str] = []
            index += 1
            while True:
                assert index < len(statement), f"unterminated literal in {statement!r}"
                if statement[index] == "'":
                    if statement.startswith("''", index):
                        value.append("'")
                        index += 2
                        continue
                    break
                value.append(statement[index])
                index += 1
            literals.append("".join(value))
        index += 1
    return literals


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Client]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=LANDING)
        yield client


def put(s3: S3Client, key: str, body: bytes) -> LandedObject:
    etag = s3.put_object(Bucket=LANDING, Key=key, Body=body)["ETag"].strip('"')
    return landed(key, etag)


# -- Quoted literals --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("plain", "'plain'"),
        ("", "''"),
        ("it's", "'it''s'"),
        ("''", "''''''"),
        ("a'; DROP TABLE users; --", "'a''; DROP TABLE users; --'"),
    ],
)
def test_quoted_literal_doubles_single_quotes(value: str, literal: str) -> None:
    # Given a value, possibly with quotes
    # When it is quoted
    quoted = QuotedLiteral(value).sql

    # Then each quote is doubled inside one pair of quotes, and reads back as the value
    assert quoted == literal
    assert sql_literals(quoted) == [value]


@pytest.mark.parametrize("value", ["back\\slash", "trailing\\", "nul\x00byte"])
def test_quoted_literal_refuses_backslash_and_nul(value: str) -> None:
    # Given a value Redshift would read an escape into (or could not receive at all)
    # When it is quoted / Then it is refused
    with pytest.raises(ValueError, match="backslash or NUL"):
        QuotedLiteral(value)


# -- COPY rendering ---------------------------------------------------------------------------


def test_events_copy_keeps_each_value_one_well_formed_literal() -> None:
    # Given a manifest and a JSONPaths location whose bucket prefix holds a quote
    manifest_uri = "s3://sparkify-landing/_loader/it's/0123abcd-events.manifest"
    jsonpaths_uri = "s3://sparkify-landing/_loader/it's/jsonpaths/events_jsonpaths.json"

    # When the events COPY is rendered
    statement = render_copy(
        EVENTS, manifest_uri=manifest_uri, copy_role_arn=ROLE, jsonpaths_uri=jsonpaths_uri
    )

    # Then every value is exactly one literal, in clause order, and nothing is left to fill
    assert sql_literals(statement) == [manifest_uri, ROLE, jsonpaths_uri, "epochmillisecs"]
    assert f"FROM {QuotedLiteral(manifest_uri).sql}\n" in statement
    assert f"IAM_ROLE {QuotedLiteral(ROLE).sql}\n" in statement
    assert f"FORMAT AS JSON {QuotedLiteral(jsonpaths_uri).sql}\n" in statement
    assert "\nMANIFEST\n" in statement
    assert "\nTIMEFORMAT 'epochmillisecs'\n" in statement
    assert statement.endswith("\nMAXERROR 0")
    assert "NOLOAD" not in statement
    # ... and the header comment is not sent: the statement starts with COPY
    assert statement.startswith("COPY copy_events (")
    assert not re.search(r"\{\w+\}", statement)


def test_songs_copy_uses_json_auto() -> None:
    # Given a songs manifest
    manifest_uri = "s3://sparkify-landing/_loader/manifests/0123abcd-songs.manifest"

    # When the songs COPY is rendered (no JSONPaths file)
    statement = render_copy(SONGS, manifest_uri=manifest_uri, copy_role_arn=ROLE)

    # Then it reads the manifest as JSON 'auto' into the songs copy target
    assert sql_literals(statement) == [manifest_uri, ROLE, "auto"]
    assert "COPY copy_songs (" in statement
    assert "\nMANIFEST\n" in statement
    assert "\nFORMAT AS JSON 'auto'\n" in statement
    assert "TIMEFORMAT" not in statement


def test_events_copy_requires_its_jsonpaths_uri() -> None:
    # Given the events dataset, which maps fields through a JSONPaths file
    # When it is rendered without one / Then it is refused
    with pytest.raises(ValueError, match="JSONPaths"):
        render_copy(EVENTS, manifest_uri="s3://b/m.manifest", copy_role_arn=ROLE)


def test_diagnostic_copy_checks_every_file_without_loading() -> None:
    # Given the COPY that loads, and its diagnostic variant
    copy = partial(
        render_copy,
        EVENTS,
        manifest_uri="s3://sparkify-landing/m.manifest",
        copy_role_arn=ROLE,
        jsonpaths_uri="s3://sparkify-landing/j.json",
    )
    loading = copy()

    # When the diagnostic variant is rendered
    statement = copy(noload=True)

    # Then only the bad-row clause changed: Redshift's largest MAXERROR and NOLOAD
    assert statement.endswith("\nMAXERROR 100000\nNOLOAD")
    assert "MAXERROR 0" not in statement
    assert statement.removesuffix("MAXERROR 100000\nNOLOAD") == loading.removesuffix("MAXERROR 0")


@pytest.mark.parametrize("dataset", [EVENTS, SONGS], ids=lambda dataset: dataset.name)
def test_copy_columns_are_the_staging_columns_but_load_id(dataset: Dataset) -> None:
    # Given the staging table's columns, read from its schema file
    schema = next(
        sql_source(name)
        for name in schema_files()
        if f"CREATE TABLE IF NOT EXISTS {dataset.staging_table} " in sql_source(name)
    )
    staging_columns = re.findall(r"^\s{4}(\w+)\s+[A-Z]", schema, re.MULTILINE)

    # When the COPY file's column list is parsed
    columns = copy_columns(dataset)

    # Then it is every staging column but load_id and file_no, in table order
    assert list(columns) == [
        column for column in staging_columns if column not in ("load_id", "file_no")
    ]


def test_insert_from_copy_target_moves_the_copy_columns_with_the_load_and_file() -> None:
    # Given the events dataset
    # When the statement moving its copied rows into staging is rendered
    statement = insert_from_copy_target_sql(EVENTS)

    # Then both column lists match; load_id and file_no are the bound parameters, typed: the
    # driver sends a str or None as UNKNOWN (OID 705), which a SELECT list leaves untyped
    assert "INSERT INTO staging_events (artist, auth, first_name," in statement
    assert "user_id, load_id, file_no)\nSELECT artist, auth," in statement
    assert (
        "user_id, CAST(%(load_id)s AS VARCHAR(32)), CAST(%(file_no)s AS INTEGER)\nFROM copy_events"
        in statement
    )


# -- Manifests (moto S3) ----------------------------------------------------------------------


def test_manifest_lists_exactly_the_current_objects_with_raw_keys(s3: S3Client) -> None:
    # Given objects with hostile keys, one of them deleted after it was announced
    objects = [put(s3, key, b'{"ts": 1}\n') for key in HOSTILE_KEYS]
    s3.delete_object(Bucket=LANDING, Key=HOSTILE_KEYS[0])
    writer = ManifestWriter(s3, LANDING, "_loader/manifests/")

    # When the batch is pre-checked and the manifest of what remains is written
    current, outcomes = precheck_objects(s3, objects)
    uri = writer.write_manifest(EVENTS, current, "0123abcd")

    # Then the manifest sits at its documented key and lists the remaining keys unencoded
    key = "_loader/manifests/0123abcd-events.manifest"
    assert uri == f"s3://{LANDING}/{key}"
    body = s3.get_object(Bucket=LANDING, Key=key)["Body"].read()
    manifest = json.loads(body.decode("utf-8"))
    assert HOSTILE_KEYS[3].encode("utf-8") in body  # UTF-8 as is, not \u escapes
    assert manifest == {
        "entries": [
            {"url": f"s3://{LANDING}/{raw_key}", "mandatory": True} for raw_key in HOSTILE_KEYS[1:]
        ]
    }
    assert outcomes == {objects[0].version: outcomes[objects[0].version]}
    assert outcomes[objects[0].version].status == "missing"


def test_jsonpaths_file_is_put_once_per_writer(s3: S3Client) -> None:
    # Given a fresh writer (JSONPaths files outside the lifecycle-expired manifests prefix)
    writer = ManifestWriter(s3, LANDING, "_loader/manifests/", "_loader/config/")
    key = "_loader/config/events_jsonpaths.json"

    # When the events JSONPaths URI is asked for
    uri = writer.jsonpaths_uri(EVENTS)

    # Then the project's JSONPaths file was put there
    assert uri == f"s3://{LANDING}/{key}"
    body = s3.get_object(Bucket=LANDING, Key=key)["Body"].read()
    assert body == sql_path("copy/events_jsonpaths.json").read_bytes()

    # And when it is asked for again after the object vanished, the writer does not put it again
    s3.delete_object(Bucket=LANDING, Key=key)
    assert writer.jsonpaths_uri(EVENTS) == uri
    assert s3.list_objects_v2(Bucket=LANDING, Prefix=key)["KeyCount"] == 0
    # And songs need no JSONPaths file at all
    assert writer.jsonpaths_uri(SONGS) is None


def test_precheck_classifies_deleted_as_missing_and_overwritten_as_superseded(s3: S3Client) -> None:
    # Given three announced versions: one untouched, one deleted, one overwritten since
    untouched = put(s3, "log_data/a.json", b'{"ts": 1}\n')
    deleted = put(s3, "log_data/b's.json", b'{"ts": 2}\n')
    overwritten = put(s3, "log_data/c d.json", b'{"ts": 3}\n')
    s3.delete_object(Bucket=LANDING, Key=deleted.key)
    s3.put_object(Bucket=LANDING, Key=overwritten.key, Body=b'{"ts": 4}\n')

    # When the batch is pre-checked
    current, outcomes = precheck_objects(s3, [untouched, deleted, overwritten])

    # Then only the untouched version goes to COPY; the others say why not
    assert current == [untouched]
    assert {version: load.status for version, load in outcomes.items()} == {
        deleted.version: "missing",
        overwritten.version: "superseded",
    }
    assert all(load.rows == 0 and load.error for load in outcomes.values())


# -- Load tables back to object versions ------------------------------------------------------


def test_load_errors_name_the_bad_files_with_line_and_column() -> None:
    # Given a batch and load_errors.sql rows as Redshift returns them (CHAR columns trimmed)
    good, bad, worse = (landed(key) for key in HOSTILE_KEYS[:3])
    rows = [
        (f"s3://{LANDING}/{bad.key}", 3, "ts", "Invalid timestamp format or value"),
        (f"s3://{LANDING}/{worse.key}", 1, "", "Invalid JSONPath format: Member is not an object."),
    ]

    # When the rows are read
    reasons, unattributed = load_error_reasons(rows, [good, bad, worse])

    # Then each bad file has "line N, column C: reason" and the good file is not named
    assert reasons == {
        bad.version: "line 3, column ts: Invalid timestamp format or value",
        worse.version: "line 1: Invalid JSONPath format: Member is not an object.",
    }
    assert unattributed == []


def test_file_names_cut_by_char256_or_with_multibyte_as_periods_are_attributed() -> None:
    # Given keys whose URLs a CHAR(256) column cannot hold as they are
    long_key = "log_data/" + "x" * 300 + ".json"
    near_twin = "log_data/" + "x" * 300 + "-2.json"
    unicode_key = HOSTILE_KEYS[3]
    objects = [landed(long_key), landed(near_twin), landed(unicode_key), landed(HOSTILE_KEYS[0])]
    cut = f"s3://{LANDING}/{long_key}".encode()[:256].decode()
    dotted = f"s3://{LANDING}/{unicode_key}".encode("ascii", "replace").decode().replace("?", ".")

    # When the reported names are attributed
    attributed = attribute_files([cut, dotted, f"s3://{LANDING}/{HOSTILE_KEYS[0]}"], objects)

    # Then the ambiguous cut name is left out, the others point at their objects
    assert attributed == {
        dotted: objects[2].version,
        f"s3://{LANDING}/{HOSTILE_KEYS[0]}": objects[3].version,
    }
    assert attribute_files([cut], objects[:1]) == {cut: objects[0].version}


def test_rows_per_file_map_to_versions_and_fall_back_to_the_insert_count() -> None:
    # Given two loaded files and stl_load_commits rows that list only one of them
    first, second = landed(HOSTILE_KEYS[1]), landed(HOSTILE_KEYS[2])
    rows = [(f"s3://{LANDING}/{first.key}", 7)]

    # When rows are mapped with a matching and with a disagreeing insert count
    matching = rows_by_version(rows, [first, second], inserted=7)
    single = rows_by_version([], [first], inserted=5)

    # Then an unlisted file contributed nothing, and a lone file takes the exact insert count
    assert matching == {first.version: 7, second.version: 0}
    assert single == {first.version: 5}


# -- Connecting and errors --------------------------------------------------------------------


def redshift_settings(**overrides: str) -> WarehouseSettings:
    values = {
        "warehouse_engine": "redshift",
        "redshift_host": "sparkify.abc123.us-east-1.redshift.amazonaws.com",
        "redshift_database": "dev",
        "redshift_copy_role_arn": ROLE,
        **overrides,
    }
    return WarehouseSettings.model_validate(values)


def test_secret_connection_uses_the_secret_user_and_no_iam() -> None:
    # Given settings naming a secret, and that secret's JSON
    settings = redshift_settings(redshift_secret_arn="arn:aws:secretsmanager:us-east-1:1:secret:x")
    secret = {"username": "loader", "password": "s3cr3t", "engine": "redshift"}

    # When the connection options are built
    options = connection_options(settings, secret)

    # Then the driver gets user and password from the secret, and no IAM settings
    assert options["user"] == "loader" and options["password"] == "s3cr3t"
    assert "iam" not in options and options["port"] == 5439


def test_iam_connection_to_a_cluster_or_a_serverless_workgroup() -> None:
    # Given IAM auth through a provisioned cluster, and through a Serverless workgroup
    cluster = redshift_settings(redshift_db_user="loader", redshift_cluster_identifier="sparkify")
    serverless = redshift_settings(redshift_db_user="loader", redshift_workgroup_name="sparkify-wg")

    # When the connection options are built
    cluster_options = connection_options(cluster, None, region="us-east-1")
    serverless_options = connection_options(serverless, None, region="us-east-1")

    # Then each asks for temporary credentials the right way, without a password
    assert cluster_options["iam"] is True and cluster_options["db_user"] == "loader"
    assert cluster_options["cluster_identifier"] == "sparkify"
    assert serverless_options["is_serverless"] is True
    assert serverless_options["serverless_work_group"] == "sparkify-wg"
    assert "password" not in cluster_options and "password" not in serverless_options


def test_secret_without_a_password_fails_without_echoing_it() -> None:
    # Given a secret that lacks its password
    settings = redshift_settings(redshift_secret_arn="arn:aws:secretsmanager:us-east-1:1:secret:x")

    # When the connection options are built / Then the error names the missing key only
    with pytest.raises(WarehouseError, match="lacks password"):
        connection_options(settings, {"username": "loader"})


SERIALIZATION_FIELDS = {
    "S": "ERROR",
    "C": "XX000",
    "M": "1023",
    "D": "Serializable isolation violation on table - 100234, transactions forming the cycle "
    "are: 5501, 5502 (pid:1234)",
}


@pytest.mark.parametrize(
    ("driver_error", "expected", "message"),
    [
        (
            redshift_connector.ProgrammingError(SERIALIZATION_FIELDS),
            SerializationConflict,
            "1023 DETAIL: Serializable isolation violation on table - 100234",
        ),
        (
            redshift_connector.ProgrammingError(
                "ERROR: 1023 DETAIL: Serializable isolation violation on table - 7"
            ),
            SerializationConflict,
            "Serializable isolation violation",
        ),
        (
            redshift_connector.InterfaceError("communication error", OSError("reset")),
            TransientWarehouseError,
            "communication error",
        ),
        (
            redshift_connector.OperationalError("connection time out"),
            TransientWarehouseError,
            "time out",
        ),
        (
            redshift_connector.ProgrammingError(
                {"S": "ERROR", "C": "42P01", "M": 'relation "staging_x" does not exist'}
            ),
            WarehouseError,
            'relation "staging_x" does not exist',
        ),
        (
            redshift_connector.ProgrammingError(
                {"S": "ERROR", "C": "XX000", "M": "Value of 1023 characters is too long"}
            ),
            WarehouseError,
            "Value of 1023",
        ),
    ],
    ids=["1023-fields", "1023-text", "interface", "operational", "other", "1023-not-code"],
)
def test_driver_errors_become_the_project_errors(
    driver_error: Exception, expected: type[WarehouseError], message: str
) -> None:
    # Given a driver error raised inside the engine boundary
    # When it leaves the boundary
    with pytest.raises(WarehouseError) as raised, translated_errors():
        raise driver_error

    # Then it is the project's exception of exactly that kind, with Redshift's message
    assert type(raised.value) is expected
    assert message in str(raised.value)
    assert raised.value.__cause__ is driver_error
