"""The merge state machine (real ASL on moto's interpreter, real handlers, real SQL) builds
the star schema a correct loader must build, computed independently from the raw files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sparkify_loader.merge_steps import DryRunReport, LeaseResult, PublishResult
from sparkify_local.generate.writer import generate
from sparkify_local.pipeline import LocalPipeline
from tests.support.raw_files import assert_star_matches_raw, expected_star
from tests.support.stack import star_snapshot


def load_and_merge(pipeline: LocalPipeline, *paths: Path) -> None:
    summary = pipeline.load(list(paths), progress=False)
    assert summary.ok, summary.render()
    outcome = pipeline.merge()
    assert outcome.ok, outcome.render()


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("generated")
    generate(out, events=3000, songs=300, seed=11, days=4)
    return out


def test_real_sample_builds_the_exact_star_schema(
    pipeline: LocalPipeline, sample_dir: Path
) -> None:
    # Given the real sample
    # When it is loaded and merged
    load_and_merge(pipeline, sample_dir)

    # Then every table holds exactly what the raw files say, and staging is empty again
    assert_star_matches_raw(pipeline.warehouse.session().query, [sample_dir])
    session = pipeline.warehouse.session()
    assert session.query("SELECT COUNT(*) FROM staging_events")[0][0] == 0
    assert session.query("SELECT DISTINCT status FROM load_ledger") == [("merged",)]


def test_generated_set_builds_the_exact_star_schema(
    pipeline: LocalPipeline, generated: Path
) -> None:
    # Given a generated set with plays that match songs and users who change level
    # When it is loaded and merged
    load_and_merge(pipeline, generated)

    # Then the star schema equals the independent computation, matches included
    assert_star_matches_raw(pipeline.warehouse.session().query, [generated])
    assert expected_star([generated]).matched_plays > 0


@pytest.mark.slow
def test_logs_arriving_newest_day_first_end_in_the_same_tables(
    pipeline: LocalPipeline, generated: Path, tmp_path: Path
) -> None:
    # Given the tables built by loading everything at once
    load_and_merge(pipeline, generated)
    reference = star_snapshot(pipeline)

    pipeline.reset()

    # When songs come first and then each day's log arrives newest first, a merge after each
    load_and_merge(pipeline, generated / "song_data")
    for day in sorted((generated / "log_data").rglob("*.json"), reverse=True):
        load_and_merge(pipeline, day)

    # Then every row equals the all-at-once run (users keep their latest level)
    assert star_snapshot(pipeline) == reference


def test_songs_arriving_after_their_plays_are_matched_later(
    pipeline: LocalPipeline, generated: Path
) -> None:
    # Given the all-at-once tables
    load_and_merge(pipeline, generated)
    reference = star_snapshot(pipeline)

    pipeline.reset()

    # When the logs are merged first (no song matches yet) and the songs arrive afterwards
    load_and_merge(pipeline, generated / "log_data")
    (unmatched_before,) = pipeline.warehouse.session().query(
        "SELECT COUNT(*) FROM songplays WHERE song_id IS NOT NULL"
    )[0]
    load_and_merge(pipeline, generated / "song_data")

    # Then the earlier plays were re-matched and the tables equal the all-at-once run
    assert unmatched_before == 0
    assert star_snapshot(pipeline) == reference


def test_the_same_data_loaded_twice_changes_nothing(
    pipeline: LocalPipeline, sample_dir: Path, tmp_path: Path
) -> None:
    # Given the sample loaded and merged
    load_and_merge(pipeline, sample_dir)
    reference = star_snapshot(pipeline)

    # When the same files arrive again under other keys (new objects, same rows) and merge
    copy = tmp_path / "again"
    shutil.copytree(sample_dir / "log_data", copy / "log_data" / "replayed")
    load_and_merge(pipeline, copy)

    # Then no row was added or changed
    assert star_snapshot(pipeline) == reference


def test_merge_with_nothing_staged_succeeds_quickly(pipeline: LocalPipeline) -> None:
    # Given an empty pipeline
    # When a merge runs
    outcome = pipeline.merge()

    # Then it succeeds at the lease, saying there was nothing to do
    assert outcome.ok
    names = [name for name, _ in outcome.states]
    assert "NothingToDo" in names and "Write" not in names
    lease = outcome.result("Lease", LeaseResult)
    assert lease == LeaseResult(acquired=False, reason="nothing staged", files=0, loads=0)


def test_dry_run_reports_the_changes_and_changes_nothing(
    pipeline: LocalPipeline, sample_dir: Path
) -> None:
    # Given the sample staged, not merged
    assert pipeline.load([sample_dir], progress=False).ok
    before = star_snapshot(pipeline)

    # When a dry run executes
    outcome = pipeline.merge(dry_run=True)

    # Then it reports what a merge would insert, and nothing changed
    assert outcome.ok, outcome.render()
    report = outcome.result("DryRun", DryRunReport)
    assert report.publish is not None, report.describe()
    counts = {table.table: table.inserted for table in report.publish.tables}
    expected = expected_star([sample_dir])
    assert counts["songplays"] == len(expected.songplays)
    assert counts["users"] == len(expected.user_levels)
    assert star_snapshot(pipeline) == before
    statuses = pipeline.warehouse.session().query("SELECT DISTINCT status FROM load_ledger")
    assert statuses == [("staged",)]

    # And the real merge then inserts exactly those counts
    real = pipeline.merge()
    published = real.result("Publish", PublishResult)
    touched = {table.table: table.inserted for table in published.tables}
    assert touched == counts
