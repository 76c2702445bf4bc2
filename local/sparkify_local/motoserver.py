"""The local AWS: a moto server process serving S3, SQS (and later Step Functions).

Started detached by ``services`` so it outlives the command that started it; stopped by
``sparkify down``.
"""

from __future__ import annotations

import argparse

from moto.server import main as moto_main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    moto_main(["--host", "127.0.0.1", "--port", str(args.port)])


if __name__ == "__main__":
    main()
