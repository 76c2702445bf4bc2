"""What "recovered" means for the real sample after a fault, asserted the same way everywhere."""

from __future__ import annotations

from sparkify_local.pipeline import LoadSummary, LocalPipeline
from tests.conftest import RawCounts
from tests.integration.conftest import assert_converged


def staged_counts(pipeline: LocalPipeline) -> tuple[int, int, int]:
    session = pipeline.warehouse.session()
    return (
        session.query("SELECT COUNT(*) FROM staging_events")[0][0],
        session.query("SELECT COUNT(*) FROM staging_songs")[0][0],
        session.query("SELECT COUNT(*) FROM load_ledger")[0][0],
    )


def assert_sample_recovered(
    pipeline: LocalPipeline, summary: LoadSummary, counts: RawCounts, reference: dict
) -> None:
    """Every file of the sample staged once, nothing parked in the DLQ, and a merge that
    builds exactly the fault-free star schema."""
    assert summary.ok, summary.render()
    assert summary.statuses == {"staged": summary.uploaded}, summary.render()
    assert summary.dead_letters == 0
    assert staged_counts(pipeline) == (
        counts.events,
        counts.song_files,
        counts.log_files + counts.song_files,
    )
    outcome = pipeline.merge()
    assert outcome.ok, outcome.render()
    assert_converged(pipeline, reference)
