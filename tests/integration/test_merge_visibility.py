"""Analysts never see part of a batch: a reader polling the star schema from its own connection
while merges publish sees each batch's plays all there or none, and never a play without its
user or its time row (write-audit-publish: one publishing transaction per merge)."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import psycopg
import pytest

from sparkify_local.generate.writer import generate
from sparkify_local.pipeline import LocalPipeline
from tests.support.raw_files import expected_star

# One snapshot per poll: the three counts must describe the same moment.
SNAPSHOT_QUERY = """
SELECT (SELECT COUNT(*) FROM songplays),
       (SELECT COUNT(*) FROM songplays AS p
        WHERE p.user_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM users AS u WHERE u.user_id = p.user_id)),
       (SELECT COUNT(*) FROM songplays AS p
        WHERE NOT EXISTS (SELECT 1 FROM time AS t WHERE t.start_time = p.start_time))
"""


class StarReader(threading.Thread):
    """Polls the star schema in repeatable-read snapshots until stopped; records what it saw."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self._url = url
        self.stop = threading.Event()
        self.play_counts: set[int] = set()
        self.orphans: list[tuple[int, int, int]] = []
        self.polls = 0

    def run(self) -> None:
        with psycopg.connect(self._url, autocommit=True) as connection:
            while not self.stop.is_set():
                with connection.transaction():
                    connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    row = connection.execute(SNAPSHOT_QUERY).fetchone()
                assert row is not None
                plays, without_user, without_time = row
                self.play_counts.add(plays)
                if without_user or without_time:
                    self.orphans.append((plays, without_user, without_time))
                self.polls += 1


@pytest.fixture(scope="module")
def days(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """A generated set split into one folder per arriving batch: the songs, then each day."""
    out = tmp_path_factory.mktemp("generated")
    generate(out, events=4000, songs=200, seed=5, days=4)
    batches = [out / "song_data"]
    for index, day in enumerate(sorted((out / "log_data").rglob("*.json"))):
        folder = tmp_path_factory.mktemp(f"day{index}")
        target = folder / "log_data" / day.name
        target.parent.mkdir(parents=True)
        shutil.copy(day, target)
        batches.append(folder)
    return batches


def test_a_reader_never_sees_part_of_a_batch(pipeline: LocalPipeline, days: list[Path]) -> None:
    # Given the play counts a reader may see: after each whole batch, from the raw files
    cumulative = {len(expected_star(days[: count + 1]).songplays) for count in range(len(days))} | {
        0
    }
    reader = StarReader(pipeline.endpoints.warehouse_url)
    reader.start()

    # When the batches are loaded and merged one after another while it reads
    try:
        for batch in days:
            summary = pipeline.load([batch], progress=False)
            assert summary.ok, summary.render()
            outcome = pipeline.merge()
            assert outcome.ok, outcome.render()
    finally:
        reader.stop.set()
        reader.join()

    # Then every snapshot it took held whole batches only, and no play lacked its user or time
    assert reader.polls > len(days)
    assert reader.play_counts <= cumulative, sorted(reader.play_counts - cumulative)
    assert reader.orphans == []
    assert max(reader.play_counts) == len(expected_star(days).songplays)
