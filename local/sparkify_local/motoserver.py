"""The local AWS: a moto server process serving S3, SQS, Lambda and Step Functions.

Started detached by ``services`` so it outlives the command that started it; stopped by
``sparkify down``. Before it serves, it installs the Lambda dispatcher, so the state machine
that moto's interpreter runs calls our real handlers.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from moto.server import main as moto_main

from sparkify_local import lambda_dispatch, moto_patches
from sparkify_local.home import Home


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--home", type=Path, required=True)
    args = parser.parse_args()
    # moto's Step Functions calls Lambda through this same server: tell it where it listens.
    os.environ["MOTO_PORT"] = str(args.port)
    moto_patches.apply()
    lambda_dispatch.install(Home(args.home))
    moto_main(["--host", "127.0.0.1", "--port", str(args.port)])


if __name__ == "__main__":
    main()
