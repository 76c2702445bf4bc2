"""The real local stack (moto server + embedded PostgreSQL) as fixtures, and what a test asserts
about its tables.

One stack per test session (they start in about a second); every test starts from an empty
bucket, empty queues and empty tables.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sparkify_loader.config import StageSettings
from sparkify_loader.observability import metrics
from sparkify_loader.warehouse.postgres import PostgresWarehouse
from sparkify_local.home import Home
from sparkify_local.operate.loads import LoadSummary
from sparkify_local.pipeline import LocalPipeline
from sparkify_local.runtime import processes
from tests.support.raw_files import RawCounts


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPipeline]:
    home = Home(tmp_path_factory.mktemp("sparkify-home"))
    try:
        pipeline = LocalPipeline.start(home)
        yield pipeline
        pipeline.close()
    finally:
        # Also when the start failed: the moto server it started would outlive the session.
        processes.down(home)


@pytest.fixture
def pipeline(stack: LocalPipeline) -> LocalPipeline:
    """The stack, emptied: no objects, no messages, no rows."""
    stack.reset()
    return stack


@pytest.fixture
def warehouse(stack: LocalPipeline) -> PostgresWarehouse:
    return stack.warehouse


@pytest.fixture
def stage_settings(stack: LocalPipeline, monkeypatch: pytest.MonkeyPatch) -> StageSettings:
    """Settings as the stage function reads them locally (postgres engine)."""
    monkeypatch.setenv("WAREHOUSE_ENGINE", "postgres")
    monkeypatch.setenv("WAREHOUSE_URL", stack.endpoints.warehouse_url)
    return StageSettings()


@pytest.fixture(autouse=True)
def _reset_metrics() -> Iterator[None]:
    yield
    metrics.clear_metrics()


def staging_snapshot(pipeline: LocalPipeline) -> dict[str, list[tuple]]:
    """Every row of the staging tables and the ledger, in a stable order."""
    session = pipeline.warehouse.session()
    return {
        table: sorted(session.query(f"SELECT * FROM {table}"), key=repr)
        for table in ("staging_events", "staging_songs", "load_ledger")
    }


STAR_COLUMNS = {
    # Every column but the bookkeeping merge_id, which names the run that wrote the row.
    "songplays": "songplay_id, start_time, user_id, level, song_id, artist_id, session_id,"
    " location, user_agent, item_in_session, song_title, artist_name, song_length",
    "users": "user_id, first_name, last_name, gender, level, level_ts",
    "songs": "song_id, title, artist_id, artist_name, year, duration",
    "artists": "artist_id, name, location, latitude, longitude",
    "time": "start_time, hour, day, week, month, year, weekday",
}


def star_snapshot(pipeline: LocalPipeline) -> dict[str, list[tuple]]:
    session = pipeline.warehouse.session()
    return {
        table: sorted(session.query(f"SELECT {columns} FROM {table}"), key=repr)
        for table, columns in STAR_COLUMNS.items()
    }


@pytest.fixture(scope="session")
def sample_reference(stack: LocalPipeline, sample_dir: Path) -> dict[str, list[tuple]]:
    """The star schema of an uninterrupted load + merge of the real sample: what every fault
    test must end in, row for row."""
    stack.reset()
    summary = stack.load([sample_dir], progress=False)
    assert summary.ok, summary.render()
    assert stack.merge().ok
    snapshot = star_snapshot(stack)
    stack.reset()
    return snapshot


def assert_converged(pipeline: LocalPipeline, reference: dict) -> None:
    """The star schema is the reference's, every load merged, nothing staged or leased."""
    assert star_snapshot(pipeline) == reference
    session = pipeline.warehouse.session()
    assert session.query("SELECT DISTINCT status FROM load_ledger") == [("merged",)]
    assert session.query("SELECT COUNT(*) FROM staging_events")[0][0] == 0
    assert session.query("SELECT COUNT(*) FROM merge_lease")[0][0] == 0


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
