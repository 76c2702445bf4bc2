"""`sparkify load` killed with SIGKILL (its whole process group, as a closed terminal or an OOM
kill of the session would) at any moment, from the very first start of a new home on: the next
load recovers and builds exactly the tables an uninterrupted load builds, and `sparkify down`
leaves no process of the home behind."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from tests.support.cli import (
    holds_messages,
    processes_referencing,
    program_count,
    program_runs_for,
    run_cli,
    start_cli,
    wait_for,
    warehouse_query,
)
from tests.support.raw_files import RawCounts, assert_star_matches_raw

MOMENT_TIMEOUT_S = 120


def _kill_load_when(
    home: Path, sample_dir: Path, moment: Callable[[], bool], then_wait_s: float
) -> subprocess.Popen[str]:
    load = start_cli(home, "load", str(sample_dir))
    wait_for(moment, load, MOMENT_TIMEOUT_S)
    until = time.monotonic() + then_wait_s
    wait_for(lambda: time.monotonic() >= until, load, MOMENT_TIMEOUT_S)
    os.killpg(load.pid, signal.SIGKILL)
    load.communicate()
    return load


@pytest.mark.slow
def test_a_new_home_killed_at_every_stage_of_its_first_load_recovers_exactly(
    homes: Callable[[str], Path], sample_dir: Path, sample_counts: RawCounts
) -> None:
    # Given a new home whose first loads are killed, one after the other: while the interpreter
    # starts, twice during initdb (the standalone backend's postmaster.pid used to brick the
    # home), while PostgreSQL starts, and while staging holds messages
    home = homes("killed-home")
    starts_postgres = partial(program_runs_for, home, "pg_ctl")
    moments: list[tuple[Callable[[], bool], float]] = [
        (lambda: True, 0.3),
        (partial(program_runs_for, home, "initdb"), 0.1),
        (partial(program_runs_for, home, "initdb"), 0.5),
        (starts_postgres, 0.0),
        (partial(holds_messages, home), 0.0),
    ]
    for moment, then_wait_s in moments:
        if moment is starts_postgres and program_runs_for(home, "postgres"):
            # The kill 0.5 s into initdb came after initdb had ended, and the server pg_ctl
            # started outlives the killed group (pg_ctl detaches it): this load would not start
            # PostgreSQL. Stop it, so the kill lands while PostgreSQL starts, as meant.
            assert run_cli(home, "down").returncode == 0
        killed = _kill_load_when(home, sample_dir, moment, then_wait_s)
        assert killed.returncode == -signal.SIGKILL

    # When the same data is loaded once more
    result = run_cli(home, "load", str(sample_dir))

    # Then it succeeds and the tables are exactly what the raw files say, every file merged once
    assert result.returncode == 0, result.stdout + result.stderr
    files = sample_counts.log_files + sample_counts.song_files
    assert f"uploaded {files} file(s)" in result.stdout
    query = partial(warehouse_query, home)
    assert_star_matches_raw(query, [sample_dir])
    assert query("SELECT status, COUNT(*) FROM load_ledger GROUP BY status") == [("merged", files)]
    assert query("SELECT COUNT(*) FROM staging_events") == [(0,)]
    # ... and `down` leaves no process that names the home: no moto server, no PostgreSQL
    # process, no function worker of any of the killed commands
    assert run_cli(home, "down").returncode == 0
    assert processes_referencing(home) == []


@pytest.mark.slow
def test_a_command_killed_alone_during_initdb_does_not_leave_two_initdbs_on_one_folder(
    homes: Callable[[str], Path], sample_dir: Path, sample_counts: RawCounts
) -> None:
    # Given a new home whose first load is killed alone (not its process group, as `kill -9
    # <pid>` does) while initdb runs: initdb runs on by itself
    home = homes("killed-alone")
    load = start_cli(home, "load", str(sample_dir))
    wait_for(partial(program_runs_for, home, "initdb"), load, MOMENT_TIMEOUT_S)
    os.kill(load.pid, signal.SIGKILL)
    load.communicate()
    assert program_runs_for(home, "initdb")

    # When the same data is loaded again, watching the initdb processes of the home meanwhile
    reload = start_cli(home, "load", str(sample_dir))
    most_initdbs_at_once = 0
    while reload.poll() is None:
        most_initdbs_at_once = max(most_initdbs_at_once, program_count(home, "initdb"))
        time.sleep(0.02)
    stdout, stderr = reload.communicate()

    # Then the orphaned initdb was stopped before another one started on its folder, and the
    # tables are exactly the raw files'
    assert reload.returncode == 0, stdout + stderr
    assert most_initdbs_at_once == 1
    files = sample_counts.log_files + sample_counts.song_files
    query = partial(warehouse_query, home)
    assert_star_matches_raw(query, [sample_dir])
    assert query("SELECT status, COUNT(*) FROM load_ledger GROUP BY status") == [("merged", files)]


def _function_workers(home: Path) -> list[int]:
    return [
        int(line.split(":", 1)[0])
        for line in processes_referencing(home)
        if "multiprocessing" in line and "spawn_main" in line
    ]


@pytest.mark.slow
def test_a_function_worker_killed_while_staging_fails_only_its_invocation(
    homes: Callable[[str], Path], sample_dir: Path, sample_counts: RawCounts
) -> None:
    # Given a home whose load is staging with its function workers
    home = homes("worker-killed")
    load = start_cli(home, "load", str(sample_dir))
    wait_for(lambda: holds_messages(home) and bool(_function_workers(home)), load, MOMENT_TIMEOUT_S)

    # When one of its workers dies for real (as an out-of-memory kill would end it)
    os.kill(_function_workers(home)[0], signal.SIGKILL)
    stdout, stderr = load.communicate(timeout=MOMENT_TIMEOUT_S * 2)

    # Then the load finishes without a traceback, says at most once that a worker died, and the
    # tables are exactly the raw files': the batches the worker's pool ran were staged again
    assert load.returncode == 0, stdout + stderr
    assert "Traceback" not in stderr, stderr
    assert len([line for line in stdout.splitlines() if "died" in line]) <= 1, stdout
    files = sample_counts.log_files + sample_counts.song_files
    query = partial(warehouse_query, home)
    assert_star_matches_raw(query, [sample_dir])
    assert query("SELECT status, COUNT(*) FROM load_ledger GROUP BY status") == [("merged", files)]
