"""Ctrl-C (SIGINT to the command's process group, as a terminal sends it) or SIGTERM during
`sparkify load`: the command stops within seconds, says in one line what it interrupted and that
`sparkify load` resumes, exits 130, and hands the messages it held back to the queue, so the next
load does not wait out the queue's visibility timeout."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from sparkify_local.generate.writer import generate
from tests.support.cli import holds_messages, program_runs_for, run_cli, start_cli, wait_for

MOMENT_TIMEOUT_S = 120
STOPS_WITHIN_S = 10
INTERRUPTED_EXIT = 130
# The stage queue's visibility timeout (template.yaml): what a held message would wait.
VISIBILITY_TIMEOUT_S = 360


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two generated data sets of the same size: one to interrupt, one as the reference."""
    folders = []
    for seed in (21, 22):
        folder = tmp_path_factory.mktemp(f"generated-{seed}")
        generate(folder, events=3000, songs=300, seed=seed, days=3)
        folders.append(folder)
    return folders[0], folders[1]


def _stack_is_up(home: Path) -> bool:
    try:
        return "warehouse_url" in json.loads((home / "services.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return False


def _timed_load(home: Path, data: Path) -> float:
    started = time.monotonic()
    result = run_cli(home, "load", str(data))
    assert result.returncode == 0, result.stdout + result.stderr
    return time.monotonic() - started


@pytest.mark.slow
def test_an_interrupted_load_stops_at_once_and_the_next_one_does_not_wait(
    homes: Callable[[str], Path], datasets: tuple[Path, Path]
) -> None:
    # Given a new home and loads interrupted while the warehouse is created, while the stack
    # is set up and the files uploaded (SIGTERM), and while staging holds messages
    home = homes("interrupted-home")
    data, reference_data = datasets
    moments: list[tuple[Callable[[], bool], signal.Signals, str]] = [
        (partial(program_runs_for, home, "initdb"), signal.SIGINT, "starting"),
        (partial(_stack_is_up, home), signal.SIGTERM, ""),
        (partial(holds_messages, home), signal.SIGINT, "staging"),
    ]
    for moment, stop, what in moments:
        load = start_cli(home, "load", str(data))
        wait_for(moment, load, MOMENT_TIMEOUT_S)

        # When the command's process group gets the signal
        sent = time.monotonic()
        os.killpg(load.pid, stop)
        _, stderr = load.communicate(timeout=60)
        took = time.monotonic() - sent

        # Then it stops within seconds with exit 130 and one line that says what it interrupted
        # and how to resume, and no traceback
        assert load.returncode == INTERRUPTED_EXIT, stderr
        assert took < STOPS_WITHIN_S
        assert "Traceback" not in stderr
        assert len(stderr.strip().splitlines()) == 1, stderr
        assert f"interrupted while {what}" in stderr and "`sparkify load`" in stderr, stderr

    # ... the messages the last one held are back in the queue already
    status = run_cli(home, "status")
    assert ", 0 in flight;" in status.stdout, status.stdout

    # When the data is loaded again, and then a data set of the same size for reference
    after_interrupts_s = _timed_load(home, data)
    reference_s = _timed_load(home, reference_data)

    # Then the load after the interrupts took about as long as the reference load (it also
    # drains the notifications of the interrupted uploads): had it waited for the held messages,
    # it would have taken the queue's 360 s visibility timeout at least
    assert after_interrupts_s < 3 * reference_s < VISIBILITY_TIMEOUT_S, (
        after_interrupts_s,
        reference_s,
    )
    print(f"load after interrupts: {after_interrupts_s:.1f} s; reference: {reference_s:.1f} s")
