"""The ``sparkify`` CLI as a user runs it: a real subprocess per command, state in SPARKIFY_HOME,
services left running between commands and stopped by ``sparkify down``."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.cli import COMMAND_TIMEOUT_S, run_cli, start_cli
from tests.support.raw_files import RawCounts

Sparkify = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def sample_home(
    tmp_path_factory: pytest.TempPathFactory, sample_dir: Path
) -> Iterator[tuple[Path, subprocess.CompletedProcess[str]]]:
    """One home with the real sample loaded (stage only), shared to keep cold starts few.

    Every test using it works whether or not the home's services are up when it starts (a
    command brings them up), so the tests do not depend on their order.
    """
    home = tmp_path_factory.mktemp("sample-home")
    try:
        yield home, run_cli(home, "load", str(sample_dir), "--no-merge")
    finally:
        run_cli(home, "down")


def test_load_sample_exits_0_and_prints_staged_counts(
    sample_home: tuple[Path, subprocess.CompletedProcess[str]], sample_counts: RawCounts
) -> None:
    # Given the real sample, counted from its raw files
    files = sample_counts.log_files + sample_counts.song_files

    # When `sparkify load SAMPLE --no-merge` ran
    _, result = sample_home

    # Then it succeeded and printed what it staged
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"uploaded {files} file(s)" in result.stdout
    assert f"ledger: {files} staged" in result.stdout
    assert (
        f"rows staged: {sample_counts.events} events, {sample_counts.song_files} songs"
        in result.stdout
    )


def test_sql_csv_prints_header_then_rows(
    sample_home: tuple[Path, subprocess.CompletedProcess[str]], sample_counts: RawCounts
) -> None:
    # Given the home with the sample staged
    home, _ = sample_home

    # When a query is run with --csv
    result = run_cli(home, "sql", "SELECT COUNT(*) AS n FROM staging_songs", "--csv")

    # Then stdout is exactly the CSV: the header, then the count
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"n\n{sample_counts.song_files}\n"


def test_sql_reports_a_bad_query_without_a_traceback(
    sample_home: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    home, _ = sample_home
    result = run_cli(home, "sql", "SELECT * FROM no_such_table")
    assert result.returncode == 1
    assert "no_such_table" in result.stderr
    assert "Traceback" not in result.stderr


def test_load_with_a_bad_file_exits_1_and_names_it(
    sample_home: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    # Given a folder with a good log file and one that is not JSON
    good = {"page": "Home", "ts": 1541121934796, "sessionId": 1, "itemInSession": 0}
    (tmp_path / "log_data").mkdir()
    (tmp_path / "log_data" / "good.json").write_text(json.dumps(good))
    (tmp_path / "log_data" / "bad.json").write_text("{not json")

    # When it is loaded
    result = run_cli(sample_home[0], "load", str(tmp_path), "--no-merge")

    # Then the command fails and lists the rejected file with its reason; the good one staged
    assert result.returncode == 1, result.stdout + result.stderr
    assert "rejected: log_data/bad.json: line 1: invalid JSON" in result.stdout
    assert "good.json" not in result.stdout.split("files not loaded", 1)[1]
    assert "1 rejected, 1 staged" in result.stdout


def test_down_twice_both_exit_0(
    sample_home: tuple[Path, subprocess.CompletedProcess[str]], sample_counts: RawCounts
) -> None:
    # Given a home whose services are up
    home, _ = sample_home
    assert run_cli(home, "init").returncode == 0
    assert json.loads((home / "services.json").read_text())["moto"]["port"]

    # When it is brought down twice
    first = run_cli(home, "down")
    second = run_cli(home, "down")

    # Then both succeed: the first stops both services, the second finds nothing running
    assert first.returncode == 0, first.stderr
    assert "moto server" in first.stdout and "PostgreSQL" in first.stdout
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "nothing was running"
    status = run_cli(home, "status")
    assert "moto down, warehouse down" in status.stdout
    # ... and the next command brings the home back up with its warehouse data intact
    again = run_cli(home, "sql", "SELECT COUNT(*) AS n FROM staging_songs", "--csv")
    assert again.stdout == f"n\n{sample_counts.song_files}\n", again.stderr


def test_down_of_a_home_never_started_exits_0(homes: Callable[[str], Path]) -> None:
    result = run_cli(homes("empty-home") / "never-created", "down")
    assert result.returncode == 0, result.stderr


@pytest.mark.slow  # two first starts at once: 56 s measured on this machine
def test_two_homes_run_side_by_side(homes: Callable[[str], Path], tmp_path: Path) -> None:
    # Given two homes and two different datasets
    datasets = {}
    for name, song_ids in {"left": ["SOLEFT1"], "right": ["SORIGHT1", "SORIGHT2"]}.items():
        folder = tmp_path / name
        for song_id in song_ids:
            path = folder / "song_data" / f"{song_id}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"song_id": song_id, "title": name, "num_songs": 1}))
        datasets[homes(f"{name}-home")] = (folder, song_ids)

    # When both are loaded at the same time, each into its own home
    running = [
        start_cli(home, "load", str(folder), "--no-merge") for home, (folder, _) in datasets.items()
    ]
    outputs = [process.communicate(timeout=COMMAND_TIMEOUT_S) for process in running]

    # Then both succeed, on separate ports and warehouses, each holding only its own data
    for process, (stdout, stderr) in zip(running, outputs, strict=True):
        assert process.returncode == 0, stdout + stderr
    states = [json.loads((home / "services.json").read_text()) for home in datasets]
    assert states[0]["moto"]["port"] != states[1]["moto"]["port"]
    assert states[0]["warehouse_url"] != states[1]["warehouse_url"]
    for home, (_, song_ids) in datasets.items():
        result = run_cli(home, "sql", "SELECT song_id FROM staging_songs ORDER BY 1", "--csv")
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["song_id", *sorted(song_ids)]
