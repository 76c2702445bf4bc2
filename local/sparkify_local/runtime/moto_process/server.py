"""The local AWS: a moto server process serving S3, SQS, Lambda and Step Functions.

Started detached by ``runtime.processes`` so it outlives the command that started it; stopped by
``sparkify down``. Before it serves, it installs the Lambda dispatcher, so the state machine
that moto's interpreter runs calls our real handlers. It serves moto's own application, as
``moto_server`` does, behind the S3 outage switch that fault tests use and the Redshift Data API
double that answers from the home's warehouse (``data_api``), with the metrics SQS and Step
Functions report on AWS (``service_metrics``) and the Logs Insights commands the dashboard
queries (``logs_insights``). It listens on a port
the kernel picks when it binds, and writes that port to ``--port-file`` once it can answer.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from sparkify_local.home import Home
from sparkify_local.runtime.moto_process import (
    cloudwatch_patches,
    lambda_dispatch,
    logs_insights,
    server_patches,
    service_metrics,
    sqs_patches,
)
from sparkify_local.runtime.moto_process.data_api import DataApiDouble
from sparkify_local.runtime.moto_process.s3_outage import S3Outage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--port-file", type=Path, required=True)
    args = parser.parse_args()
    home = Home(args.home)
    server_patches.apply()
    sqs_patches.apply()
    logs_insights.apply()
    cloudwatch_patches.apply()
    dispatcher = lambda_dispatch.install(home)
    server = make_server(
        "127.0.0.1",
        0,
        DataApiDouble(S3Outage(DomainDispatcherApplication(create_backend_app), home), home),
        threaded=True,
        request_handler=server_patches.QuietRequestHandler,
    )
    # moto's Step Functions calls Lambda through this same server: tell it where it listens.
    os.environ["MOTO_PORT"] = str(server.port)
    service_metrics.start(f"http://127.0.0.1:{server.port}")

    def stop(*_: object) -> None:
        # The function workers first: an interpreter exit would wait for a running handler.
        dispatcher.close()
        sys.exit(0)

    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, stop)
    written = args.port_file.with_suffix(".partial")
    written.write_text(str(server.port))
    written.replace(args.port_file)  # atomic: the starting command never reads half a number
    server.log_startup()
    server.serve_forever()


if __name__ == "__main__":
    main()
