"""A throwaway local pipeline for the benchmarks: its own home, wiped before, stopped after."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

from sparkify_local.home import Home
from sparkify_local.pipeline import LocalPipeline
from sparkify_local.runtime import processes


@contextmanager
def scratch_pipeline(home: Home) -> Iterator[LocalPipeline]:
    """Start a pipeline in ``home`` from nothing; afterwards stop its services, restore the
    environment (starting points boto3 at moto) and drop the warehouse data (logs stay)."""
    # A killed earlier run may have left messages in flight or rows behind.
    processes.down(home)
    shutil.rmtree(home.root, ignore_errors=True)
    saved_environment = dict(os.environ)
    try:
        pipeline = LocalPipeline.start(home)
        try:
            yield pipeline
        finally:
            pipeline.close()
    finally:
        processes.down(home)
        os.environ.clear()
        os.environ.update(saved_environment)
        shutil.rmtree(home.pg_data, ignore_errors=True)
