"""Clients of the local AWS (moto): its account, region and fake credentials.

Apart from ``resources`` because a function worker needs only this (its telemetry): importing
``resources`` there imported the library and Powertools before the cold start imported them
again, fresh, for the handler (issue 14's profile: a third of a worker's cold start).
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
# Moto accepts any credentials; fixed fake ones guarantee no real account is ever used.
FAKE_ACCESS_KEY = "sparkify-local"
# As a function's environment holds them (resources.function_environment) ...
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": FAKE_ACCESS_KEY,
    "AWS_SECRET_ACCESS_KEY": FAKE_ACCESS_KEY,
    "AWS_SESSION_TOKEN": FAKE_ACCESS_KEY,
    "AWS_DEFAULT_REGION": REGION,
}
# ... and as this process's clients get them: explicitly, never through os.environ.
FAKE_CLIENT_CREDENTIALS = {
    "aws_access_key_id": FAKE_ACCESS_KEY,
    "aws_secret_access_key": FAKE_ACCESS_KEY,
    "aws_session_token": FAKE_ACCESS_KEY,
}


def local_client(service: str, aws_url: str, config: Config | None = None) -> Any:
    """A client of the local AWS (moto) at ``aws_url``: explicit region and fake credentials,
    this process's environment plays no part."""
    return boto3.client(
        service, endpoint_url=aws_url, region_name=REGION, config=config, **FAKE_CLIENT_CREDENTIALS
    )
