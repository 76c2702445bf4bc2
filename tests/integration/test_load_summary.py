"""The load summary says what this load did: files it could not load with the reason, and only
the rows it staged itself."""

from __future__ import annotations

import json
from pathlib import Path

from sparkify_loader.merge_steps import LeaseResult
from sparkify_local.pipeline import LocalPipeline
from tests.support.documents import event, lines, song, write
from tests.support.raw_files import count_raw


def test_a_file_outside_the_landing_prefixes_is_named_with_why_it_was_skipped(
    pipeline: LocalPipeline, tmp_path: Path
) -> None:
    # Given a folder with a song file and a file outside song_data/ and log_data/
    write(tmp_path / "song_data" / "A" / "TRONE.json", json.dumps(song()))
    write(tmp_path / "notes.json", json.dumps({"note": "not a dataset file"}))

    # When the folder is loaded
    summary = pipeline.load([tmp_path], progress=False)

    # Then the song is staged, and the other file is reported as skipped, with the reason
    assert dict(summary.statuses) == {"staged": 1}
    assert summary.not_in_ledger == []
    assert not summary.ok
    assert (
        "files not loaded (1):\n"
        "  skipped: notes.json: outside the landing prefixes (song_data/*.json, log_data/*.json):"
        " the bucket announces no such file"
    ) in summary.render()


def test_a_reload_of_loaded_files_stages_no_rows_and_says_so(
    pipeline: LocalPipeline, tmp_path: Path
) -> None:
    # Given a log file of two events and a song file, loaded once
    write(tmp_path / "log_data" / "2018-11-01-events.json", lines(event(), event(ts=2)))
    write(tmp_path / "song_data" / "A" / "TRONE.json", json.dumps(song()))
    first = pipeline.load([tmp_path], progress=False)
    assert first.rows == {"events": 2, "songs": 1}, first.render()

    # When the same files are loaded again
    again = pipeline.load([tmp_path], progress=False)

    # Then this load staged no rows, and the summary says the files were loaded before
    assert again.ok, again.render()
    assert sum(again.rows.values()) == 0 and again.loaded_before == 2
    assert "rows staged: 0 (2 file(s) were loaded before: not staged again)" in again.render()


def test_a_reload_of_merged_files_stages_no_rows_and_the_merge_agrees(
    pipeline: LocalPipeline, tmp_path: Path
) -> None:
    # Given a log file of three events and two song files, loaded and merged
    events = lines(event(), event(ts=2), event(ts=3))
    write(tmp_path / "log_data" / "2018-11-01-events.json", events)
    write(tmp_path / "song_data" / "A" / "TRONE.json", json.dumps(song()))
    write(tmp_path / "song_data" / "B" / "TRTWO.json", json.dumps(song(song_id="SOTWO")))
    raw = count_raw(tmp_path)
    first = pipeline.load([tmp_path], progress=False)
    assert first.rows == {"events": raw.events, "songs": raw.song_files}, first.render()
    assert pipeline.merge().ok

    # When the same files are loaded again, and a merge follows
    again = pipeline.load([tmp_path], progress=False)
    merge = pipeline.merge()

    # Then this load staged no rows, saying the files were loaded (and merged) before ...
    files = raw.log_files + raw.song_files
    assert again.ok, again.render()
    assert dict(again.statuses) == {"merged": files}
    assert sum(again.rows.values()) == 0 and again.loaded_before == files
    assert (
        f"rows staged: 0 ({files} file(s) were loaded before: not staged again)" in again.render()
    )
    # ... and the merge agrees: nothing was staged, so it takes no lease
    assert merge.ok, merge.render()
    assert merge.result("Lease", LeaseResult) == LeaseResult(
        acquired=False, reason="nothing staged", files=0, loads=0
    )
