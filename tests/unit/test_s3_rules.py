"""What a failed S3 read means for an announced object version: one rule for both engines."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from sparkify_loader.warehouse import TransientError
from sparkify_loader.warehouse.s3 import (
    S3_READ_CONCURRENCY,
    s3_client,
    transient_s3_errors,
    unreadable_version,
)


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}}, "GetObject")


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("404", "missing"),
        ("NoSuchKey", "missing"),
        ("NotFound", "missing"),
        ("412", "superseded"),
        ("PreconditionFailed", "superseded"),
    ],
)
def test_a_deleted_or_overwritten_version_is_an_outcome_not_an_error(
    code: str, status: str
) -> None:
    # Given S3's answer to a read of the announced version (HEAD or GET, If-Match its ETag)
    # When it is classified
    outcome = unreadable_version(client_error(code), "GetObject 'k'")

    # Then the file is recorded as missing or superseded, with a reason and no rows
    assert (outcome.status, outcome.rows) == (status, 0)
    assert outcome.error


@pytest.mark.parametrize(
    "error",
    [
        client_error("SlowDown"),
        client_error("InternalError"),
        EndpointConnectionError(endpoint_url="x"),
    ],
    ids=["throttled", "internal", "no-connection"],
)
def test_any_other_s3_fault_is_transient(error: Exception) -> None:
    # Given an S3 fault that a later attempt may not meet
    # When a read fails with it / Then the batch is retried (TransientError), naming the request
    with pytest.raises(TransientError, match="S3 GetObject 'k' failed"):
        unreadable_version(error, "GetObject 'k'")
    with (
        pytest.raises(TransientError, match="S3 PutObject 'm' failed"),
        transient_s3_errors("PutObject 'm'"),
    ):
        raise error


def test_the_client_retries_briefly_and_pools_a_connection_per_reader() -> None:
    # Given an S3 client as the engines make it
    client = s3_client(region_name="us-east-1")

    # Then a blip is retried a few times (four attempts in all), a longer outage is left to
    # SQS's redelivery, and every reading thread has a pooled connection
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 4}
    assert client.meta.config.max_pool_connections == S3_READ_CONCURRENCY
    client.close()
