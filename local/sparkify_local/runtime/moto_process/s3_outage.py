"""Runs inside the moto server process: the S3 outage switch that fault tests throw.

The local moto server answers S3 with 503 for a while.

A test calls ``start_s3_outage(home, seconds)``; until then every S3 request signed in its
Authorization header (every SDK call; not presigned URLs) that reaches the home's moto server
gets the ``503 ServiceUnavailable`` S3 returns when it cannot serve, which SDKs retry and then
raise. SQS, Step Functions and Lambda stay up, as in a regional S3 event.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any

from sparkify_local.home import Home
from sparkify_local.runtime.faults import OUTAGE_FILE

_UNAVAILABLE = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>ServiceUnavailable</Code>'
    b"<Message>local S3 outage (fault test)</Message></Error>"
)


class S3Outage:
    """WSGI middleware in front of moto's application."""

    def __init__(self, app: Callable[..., Iterable[bytes]], home: Home) -> None:
        self._app = app
        self._path = home.root / OUTAGE_FILE
        self._seen: tuple[int, int] | None = None
        self._until = 0.0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if _is_s3(environ) and time.time() < self._outage_until():
            start_response(
                "503 Service Unavailable",
                [("Content-Type", "application/xml"), ("Content-Length", str(len(_UNAVAILABLE)))],
            )
            return [_UNAVAILABLE]
        return self._app(environ, start_response)

    def _outage_until(self) -> float:
        # One stat per request; the file is read again only when it changed (each outage is a
        # new file, replaced atomically: a new inode even within one mtime tick).
        try:
            stat = self._path.stat()
            changed = (stat.st_ino, stat.st_mtime_ns)
        except FileNotFoundError:
            return 0.0
        if changed != self._seen:
            self._until = json.loads(self._path.read_text())["until"]
            self._seen = changed
        return self._until


def _is_s3(environ: dict[str, Any]) -> bool:
    # SigV4 names the service in the credential scope: Credential=KEY/DATE/REGION/s3/aws4_request
    return "/s3/aws4_request" in environ.get("HTTP_AUTHORIZATION", "")
