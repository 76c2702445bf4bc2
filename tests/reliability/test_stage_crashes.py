"""The stage function dies at the worst moments; every row still lands exactly once.

Crashes are injected by the local runtime (faults.json in the home): "before" kills the
invocation before the handler runs, "after" lets the handler commit and kills the invocation
before Lambda could delete the batch's messages, so SQS redelivers an already staged batch.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sparkify_local.pipeline import LocalPipeline
from tests.support.raw_files import RawCounts
from tests.support.stack import assert_sample_recovered, staged_counts


@pytest.fixture(autouse=True)
def _no_faults_left(stack: LocalPipeline):
    yield
    (stack.home.root / "faults.json").unlink(missing_ok=True)


@pytest.mark.parametrize("when", ["before", "after"])
def test_stage_killed_around_its_commit_stages_every_row_once(
    pipeline: LocalPipeline,
    sample_dir: Path,
    sample_counts: RawCounts,
    sample_reference: dict,
    when: str,
) -> None:
    # Given the stage function's first two invocations die (before / after their commit)
    faults = [{"function": "StageFunction", "when": when, "match": {}, "times": 2}]
    (pipeline.home.root / "faults.json").write_text(json.dumps(faults))

    # When the real sample is loaded
    summary = pipeline.load([sample_dir], progress=False)

    # Then the crashes were seen, the messages were redelivered, and every row is there once
    assert summary.drain is not None  # the local stack ran the handler
    assert len(summary.drain.function_errors) == 2, summary.render()
    assert_sample_recovered(pipeline, summary, sample_counts, sample_reference)


def test_a_batch_that_keeps_dying_ends_in_the_dead_letter_queue_and_is_reported(
    pipeline: LocalPipeline, sample_dir: Path
) -> None:
    # Given every stage invocation dies before its handler runs
    faults = [{"function": "StageFunction", "when": "before", "match": {}, "times": 1000}]
    (pipeline.home.root / "faults.json").write_text(json.dumps(faults))

    # When a song file is loaded
    song = next((sample_dir / "song_data").rglob("*.json"))
    summary = pipeline.load([song], progress=False)

    # Then after the queue's retries the message is in the DLQ, nothing was staged, and the
    # load fails naming the file that has no ledger row
    assert not summary.ok
    assert summary.dead_letters == 1
    assert summary.not_in_ledger == [
        "song_data/" + song.relative_to(sample_dir / "song_data").as_posix()
    ]
    assert staged_counts(pipeline) == (0, 0, 0)
