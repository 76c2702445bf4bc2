"""Homes are independent: any number start at the same instant, each finds and stops its own
processes (also ones it never recorded), and a damaged state file is named, not ignored."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import (
    COMMAND_TIMEOUT_S,
    processes_referencing,
    run_cli,
    start_cli,
    warehouse_query,
)

ROUNDS = 3
MARKER_TABLES = "SELECT tablename FROM pg_tables WHERE tablename LIKE 'written_by_%'"


def _marker(home: Path) -> str:
    return "written_by_" + home.name.replace("-", "_")


@pytest.mark.slow
def test_three_homes_started_at_the_same_instant_three_times_are_independent(
    homes: Callable[[str], Path],
) -> None:
    # Given three new homes
    three = [homes(f"together-{index}") for index in range(3)]
    for round_number in range(ROUNDS):
        # When all three are started at the same instant (the first time with initdb)
        starting = [start_cli(home, "init") for home in three]
        finished = [process.communicate(timeout=COMMAND_TIMEOUT_S) for process in starting]

        # Then all start, each on its own port and with its own warehouse, each holding only
        # what was written to it
        for process, (stdout, stderr) in zip(starting, finished, strict=True):
            assert process.returncode == 0, f"round {round_number}: {stdout}{stderr}"
        states = [json.loads((home / "services.json").read_text()) for home in three]
        assert len({state["moto"]["port"] for state in states}) == 3
        for home, state in zip(three, states, strict=True):
            assert state["warehouse_url"].endswith(f"?host={home / 'warehouse'}")
            warehouse_query(home, f"CREATE TABLE IF NOT EXISTS {_marker(home)} ()")
        for home in three:
            assert warehouse_query(home, MARKER_TABLES) == [(_marker(home),)]
        # ... and each `down` stops its own home's processes and nothing of the others'
        for index, home in enumerate(three):
            assert run_cli(home, "down").returncode == 0
            assert processes_referencing(home) == []
            for other in three[index + 1 :]:
                assert processes_referencing(other) != []


def test_down_stops_processes_its_state_file_does_not_name(homes: Callable[[str], Path]) -> None:
    # Given a running home whose state file was lost (as when a start is killed before it
    # records its moto server)
    home = homes("unrecorded")
    assert run_cli(home, "init").returncode == 0
    (home / "services.json").unlink()

    # When its status is asked for, then it is brought down
    status = run_cli(home, "status")
    down = run_cli(home, "down")

    # Then status names the moto server nobody recorded, and down stops it and PostgreSQL:
    # nothing that names the home runs any more
    assert "left by a killed command: moto server (pid" in status.stdout, status.stdout
    assert down.returncode == 0, down.stderr
    assert "moto server" in down.stdout and "PostgreSQL" in down.stdout, down.stdout
    assert processes_referencing(home) == []


def _process_marked_with(home: Path) -> subprocess.Popen[bytes]:
    """A process carrying the marker the runtime gives every process it starts for ``home``."""
    return subprocess.Popen(
        ["sleep", "300"],
        env={**os.environ, "SPARKIFY_PROCESS_HOME": str(home)},
        start_new_session=True,
    )


def test_down_stops_the_processes_of_homes_nested_inside_it(homes: Callable[[str], Path]) -> None:
    # Given a process of a home nested inside this one (as `sparkify bench` runs its scratch
    # homes at <home>/bench*), killed before it could stop it, and one of a sibling home whose
    # path merely starts with the same text
    home = homes("outer")
    nested = _process_marked_with(home / "bench-e2e")
    sibling = _process_marked_with(home.with_name(home.name + "-sibling"))
    try:
        # When the outer home's status is asked for, then it is brought down
        status = run_cli(home, "status")
        down = run_cli(home, "down")

        # Then both name the nested home's process and down stops it; the sibling's runs on
        assert f"sleep (pid {nested.pid})" in status.stdout, status.stdout
        assert down.returncode == 0, down.stderr
        assert f"sleep (pid {nested.pid})" in down.stdout, down.stdout
        assert nested.wait(timeout=COMMAND_TIMEOUT_S) is not None
        assert sibling.poll() is None
    finally:
        for process in (nested, sibling):
            process.kill()
            process.wait()


@pytest.mark.parametrize("damage", ["{not json", "[1, 2]"])
def test_a_damaged_state_file_is_an_error_that_names_it(
    homes: Callable[[str], Path], damage: str
) -> None:
    # Given a home whose state file is damaged
    home = homes("damaged")
    state_file = home / "services.json"
    state_file.write_text(damage)

    # When a command needs it
    result = run_cli(home, "status")

    # Then it fails with one line that names the file, no traceback, and starts nothing
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and str(state_file) in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert processes_referencing(home) == []
    # ... and `down` (which finds the home's processes without it) clears it
    assert run_cli(home, "down").returncode == 0
    assert not state_file.exists()
