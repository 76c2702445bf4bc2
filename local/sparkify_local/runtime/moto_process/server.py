"""The local AWS: a moto server process serving S3, SQS, Lambda and Step Functions.

Started detached by ``services`` so it outlives the command that started it; stopped by
``sparkify down``. Before it serves, it installs the Lambda dispatcher, so the state machine
that moto's interpreter runs calls our real handlers. It serves moto's own application, as
``moto_server`` does, behind the S3 outage switch that fault tests use.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple

from sparkify_local.home import Home
from sparkify_local.runtime.moto_process import lambda_dispatch, sqs_patches
from sparkify_local.runtime.moto_process.s3_outage import S3Outage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--home", type=Path, required=True)
    args = parser.parse_args()
    home = Home(args.home)
    # moto's Step Functions calls Lambda through this same server: tell it where it listens.
    os.environ["MOTO_PORT"] = str(args.port)
    sqs_patches.apply()
    lambda_dispatch.install(home)
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, lambda *_: sys.exit(0))
    run_simple(
        "127.0.0.1",
        args.port,
        S3Outage(DomainDispatcherApplication(create_backend_app), home),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
