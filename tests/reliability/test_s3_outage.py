"""S3 is unavailable for a while as staging starts: batches fail back to the queue, are
redelivered once S3 answers again, and every row lands once; nothing is rejected for it."""

from __future__ import annotations

from pathlib import Path

import pytest

from sparkify_local.pipeline import LocalPipeline
from sparkify_local.runtime.faults import OUTAGE_FILE, start_s3_outage
from tests.support.raw_files import RawCounts
from tests.support.stack import assert_sample_recovered

# One GET's own retries (3 attempts, backoff drawn from 0-1 s then 0-2 s) outlast 2.5 s only
# rarely, and a batch makes many GETs, so batches fail during the outage; redeliveries come 1 s
# after each failure, so at most 3-4 receives fit in it, under the queue's 5: none reaches the DLQ.
OUTAGE_S = 2.5


@pytest.fixture(autouse=True)
def _no_outage_left(stack: LocalPipeline):
    yield
    (stack.home.root / OUTAGE_FILE).unlink(missing_ok=True)


def test_s3_unavailable_for_a_while_delays_staging_and_loses_nothing(
    pipeline: LocalPipeline,
    sample_dir: Path,
    sample_counts: RawCounts,
    sample_reference: dict,
) -> None:
    # Given the real sample in the landing bucket, and then S3 answering 503 for a while
    uploaded = pipeline.upload([sample_dir], progress=False)
    start_s3_outage(pipeline.home, OUTAGE_S)

    # When the notifications are delivered to the stage function
    drain = pipeline.stage(progress=False)
    summary = pipeline.summarize(uploaded, drain)

    # Then batches failed during the outage, and every file was staged once after it
    assert drain.failed_messages >= 1, summary.render()
    assert_sample_recovered(pipeline, summary, sample_counts, sample_reference)
