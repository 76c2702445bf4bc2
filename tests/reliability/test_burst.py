"""A burst: 5,000 files (500,000 events) put as fast as possible all end merged, and the star
schema reconciles exactly with an independent count of the raw files."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from sparkify_local.generate.writer import generate
from sparkify_local.pipeline import LocalPipeline
from tests.support.raw_files import expected_star

EPOCH = datetime(1970, 1, 1)
FILES = 5_000
EVENTS = 500_000
DAYS = 30


@pytest.fixture(scope="module")
def burst(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("burst")
    summary = generate(out, events=EVENTS, songs=FILES - DAYS, seed=5, days=DAYS)
    assert summary.song_files + summary.log_files == FILES
    return out


@pytest.mark.slow
def test_a_burst_of_5000_files_reconciles_exactly(pipeline: LocalPipeline, burst: Path) -> None:
    # Given 5,000 files with 500,000 events, counted independently from the raw files
    expected = expected_star([burst])

    # When they are all put at once, staged through the notifications, and merged
    summary = pipeline.load([burst], progress=False)
    outcome = pipeline.merge()

    # Then every file ends merged, and every table holds exactly what the raw files say
    assert summary.ok, summary.render()
    assert outcome.ok, outcome.render()
    session = pipeline.warehouse.session()
    assert session.query("SELECT status, COUNT(*) FROM load_ledger GROUP BY status") == [
        ("merged", FILES)
    ]
    assert session.query("SELECT COUNT(*) FROM songplays")[0][0] == len(expected.songplays)
    plays = session.query("SELECT session_id, item_in_session, user_id FROM songplays")
    assert set(plays) == expected.songplays
    assert dict(session.query("SELECT user_id, level FROM users")) == expected.user_levels
    assert session.query("SELECT COUNT(*) FROM songs")[0][0] == len(expected.song_ids)
    assert session.query("SELECT COUNT(*) FROM artists")[0][0] == len(expected.artist_ids)
    times = session.query("SELECT start_time FROM time")
    assert {(t - EPOCH) // timedelta(milliseconds=1) for (t,) in times} == expected.start_times_ms
    matched = session.query("SELECT COUNT(*) FROM songplays WHERE song_id IS NOT NULL")[0][0]
    assert matched == expected.matched_plays
    assert session.query("SELECT COUNT(*) FROM staging_events")[0][0] == 0
