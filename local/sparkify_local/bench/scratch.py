"""A throwaway local pipeline for the benchmarks: its own home, wiped before, stopped after."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

from sparkify_local.home import Home
from sparkify_local.pipeline import LocalPipeline
from sparkify_local.runtime import processes


@contextmanager
def scratch_pipeline(home: Home) -> Iterator[LocalPipeline]:
    """Start a pipeline in ``home`` from nothing; afterwards stop its services and drop the
    warehouse data (logs stay)."""
    # A killed earlier run may have left messages in flight or rows behind.
    processes.down(home)
    shutil.rmtree(home.root, ignore_errors=True)
    try:
        pipeline = LocalPipeline.start(home)
        try:
            yield pipeline
        finally:
            pipeline.close()
    finally:
        processes.down(home)
        shutil.rmtree(home.pg_data, ignore_errors=True)
