"""S3 as both engines read it: what a failed read means for an announced object version, and
how the S3 client is configured.

Both engines read a batch's objects by the version its event announced (``If-Match`` its ETag):
Redshift's pre-check HEADs each object before COPY, the PostgreSQL emulation GETs each one. The
answer means the same on both: the object was deleted (``missing``), the key was overwritten
(``superseded``; that newer version's own event loads it), or S3 failed, which is worth a retry
of the whole batch through SQS.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from sparkify_loader.warehouse.base import FileLoad
from sparkify_loader.warehouse.errors import TransientError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# One pooled connection per thread that reads a batch: Redshift's pre-check runs this many
# HEADs at once; the PostgreSQL emulation keeps half as many GETs in flight, each of whose
# opened (large, streamed) bodies may hold its connection a while longer.
S3_READ_CONCURRENCY = 16
# Standard retries (three after the first attempt, a few seconds of jittered backoff) ride out a
# blip; a longer S3 outage fails the batch back to SQS, whose redelivery is the retry that can
# wait (legacy mode would sit up to 15 s per request). botocore rewrites this dict in place on
# the first client it configures ({"total_max_attempts": 4}): same meaning.
S3_CLIENT_CONFIG = Config(
    max_pool_connections=S3_READ_CONCURRENCY, retries={"mode": "standard", "max_attempts": 3}
)

_GONE = {"404", "NoSuchKey", "NotFound"}
_CHANGED = {"412", "PreconditionFailed"}


def s3_client(
    *,
    endpoint_url: str | None = None,
    region_name: str | None = None,
    aws_access_key_id: str | None = None,
    aws_secret_access_key: str | None = None,
    aws_session_token: str | None = None,
) -> S3Client:
    """An S3 client for the warehouse engines. What is not given comes from the process's own
    environment, which inside a function is the function's (its role, its region)."""
    client: S3Client = boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region_name,
        aws_access_key_id=aws_access_key_id,
        aws_secret_access_key=aws_secret_access_key,
        aws_session_token=aws_session_token,
        config=S3_CLIENT_CONFIG,
    )
    return client


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def unreadable_version(error: ClientError | BotoCoreError, request: str) -> FileLoad:
    """Why a read of an announced object version failed: ``missing`` or ``superseded``.

    Any other fault raises TransientError (``request`` names the call in its message).
    """
    code = error_code(error) if isinstance(error, ClientError) else ""
    if code in _GONE:
        return FileLoad("missing", 0, "the object was deleted before it could be loaded")
    if code in _CHANGED:
        return FileLoad("superseded", 0, "the key was overwritten before this version loaded")
    raise TransientError(f"S3 {request} failed: {code or error}") from error


@contextmanager
def transient_s3_errors(request: str) -> Iterator[None]:
    """Any S3 fault inside is worth a retry of the batch: it becomes a TransientError."""
    try:
        yield
    except ClientError as error:
        raise TransientError(f"S3 {request} failed: {error_code(error) or error}") from error
    except BotoCoreError as error:
        raise TransientError(f"S3 {request} failed: {error}") from error
