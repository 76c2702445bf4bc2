"""Start, find and stop the local services of one home: the moto server and embedded PostgreSQL.

Services stay up between commands of the same home until ``sparkify down``. Starts run under
the home's lock and check what really runs (a pid is trusted only while its command line still
names this home), so a command killed at any moment leaves nothing that the next command cannot
recover from: a moto server that never answered is stopped and started again, a stale pid is
ignored. Every process started for a home carries the home's marker (``proc.HOME_MARKER``), so
``down`` stops all of them, including ones a killed command started but never recorded.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sparkify_local.home import Home
from sparkify_local.runtime import postgres, proc

MOTO_MODULE = "sparkify_local.runtime.moto_process.server"
MOTO_START_TIMEOUT_S = 30.0
MOTO_STOP_TIMEOUT_S = 10.0
# How long a live moto server of this home may take to answer before `ensure_up` replaces it:
# one busy serving a large load of another command answers late, but it is not dead.
MOTO_BUSY_PATIENCE_S = 30.0
_MOTO_RETRY_S = 0.2


@dataclass(frozen=True)
class Endpoints:
    aws_url: str
    warehouse_url: str

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Endpoints:
        """How to reach the services recorded in a home's state file."""
        return cls(
            aws_url=f"http://127.0.0.1:{state['moto']['port']}",
            warehouse_url=state["warehouse_url"],
        )


def ensure_up(home: Home) -> Endpoints:
    """Make sure both services of this home run; return how to reach them."""
    with home.locked():
        state = home.read_state()
        moto = _answering_moto(home, state.get("moto", {}), MOTO_BUSY_PATIENCE_S)
        # A killed start can leave a moto server nobody recorded, or one that never answered.
        _stop_motos(home, keep=moto["pid"] if moto else None)
        if moto is None:
            moto = _start_moto(home, state)
        state.update(moto=moto, warehouse_url=postgres.ensure_running(home))
        home.write_state(state)
        return Endpoints.from_state(state)


def running(home: Home) -> dict[str, bool]:
    state = home.read_state()
    return {
        "moto": _answering_moto(home, state.get("moto", {})) is not None,
        "warehouse": postgres.server_pid(home) is not None,
    }


def unrecorded(home: Home) -> list[str]:
    """Processes of this home that are neither a running service nor one of its children:
    what a killed command left behind (``down`` stops them), described."""
    state = home.read_state()
    services = {postgres.server_pid(home)}
    if (moto := _answering_moto(home, state.get("moto", {}))) is not None:
        services.add(moto["pid"])
    return [
        _describe(process)
        for process in proc.processes_of(home.root)
        if not _under(process, services)
    ]


def down(home: Home) -> list[str]:
    """Stop every process of this home, recorded or not; idempotent. Returns what was stopped."""
    stopped: list[str] = []
    with _locked_if_present(home):
        motos = [process.pid for process in proc.processes_of(home.root) if _is_moto(process)]
        proc.stop(motos, signal.SIGTERM, MOTO_STOP_TIMEOUT_S)
        stopped += [f"moto server (pid {pid})" for pid in motos]
        # SIGINT is PostgreSQL's "fast" shutdown: roll back open sessions, checkpoint, exit.
        if (pg_pid := postgres.stop(home)) is not None:
            stopped.append(f"PostgreSQL (pid {pg_pid})")
        if rest := proc.processes_of(home.root):
            proc.stop([process.pid for process in rest])
            stopped.append("also " + ", ".join(_describe(process) for process in rest))
        # Only running services are recorded there; the next command records them afresh.
        home.state_file.unlink(missing_ok=True)
    return stopped


def restart_warehouse(home: Home) -> str:
    """Crash and restart this home's PostgreSQL, as a warehouse reboot looks to its clients.

    SIGQUIT is PostgreSQL's "immediate" shutdown: open transactions die with their
    connections, and the next start replays the WAL, as after a crash. Returns the (unchanged)
    URL; the server listens on a Unix socket in its home, so clients reconnect as before.
    """
    with home.locked():
        postgres.stop(home, signal.SIGQUIT)
        return postgres.ensure_running(home)


@contextlib.contextmanager
def _locked_if_present(home: Home) -> Iterator[None]:
    # `down` of a deleted home still stops its processes, without creating the folder again.
    if not home.root.exists():
        yield
        return
    with home.locked():
        yield


def _answering_moto(
    home: Home, recorded: dict[str, Any], patience_s: float = 0.0
) -> dict[str, Any] | None:
    """The recorded moto server if it is this home's and answers; its port could belong to
    another home's server by now, so the pid has to be ours, with the start time recorded.

    A live server of ours may be slow to answer while it serves another command (a large load
    keeps it busy for seconds); it gets ``patience_s`` to answer before it counts as hung.
    """
    pid, port = recorded.get("pid"), recorded.get("port")
    process = proc.info(pid) if isinstance(pid, int) else None
    if (
        process is None
        or not isinstance(port, int)
        or not _is_moto_of(process, home)
        or recorded.get("start_ticks") != process.start_ticks
    ):
        return None
    deadline = time.monotonic() + patience_s
    while not _moto_answers(port):
        if time.monotonic() >= deadline or not proc.is_same_process(
            process.pid, process.start_ticks
        ):
            return None
        time.sleep(_MOTO_RETRY_S)
    return recorded


def _is_moto(process: proc.ProcessInfo) -> bool:
    return MOTO_MODULE in process.command


def _is_moto_of(process: proc.ProcessInfo, home: Home) -> bool:
    command = process.command
    return _is_moto(process) and any(
        flag == "--home" and value == str(home.root) for flag, value in itertools.pairwise(command)
    )


def _stop_motos(home: Home, keep: int | None) -> None:
    # Only this very home's: the motos of homes nested inside it (bench scratch homes) are
    # theirs to keep or replace.
    others = [
        process.pid
        for process in proc.processes_of(home.root)
        if _is_moto_of(process, home) and process.pid != keep
    ]
    proc.stop(others, signal.SIGTERM, MOTO_STOP_TIMEOUT_S)


def _under(process: proc.ProcessInfo, roots: set[int | None]) -> bool:
    """Whether ``process`` is one of ``roots`` or descends from one."""
    pid: int | None = process.pid
    seen: set[int] = set()
    while pid is not None and pid > 1 and pid not in seen:
        if pid in roots:
            return True
        seen.add(pid)
        parent = proc.info(pid)
        pid = parent.parent if parent else None
    return False


def _describe(process: proc.ProcessInfo) -> str:
    if _is_moto(process):
        what = "moto server"
    elif "multiprocessing" in " ".join(process.command):
        what = "function worker"
    else:
        what = os.path.basename(process.command[0]) if process.command else "process"
    return f"{what} (pid {process.pid})"


def _moto_answers(port: object) -> bool:
    if not isinstance(port, int) or not port:
        return False
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=2):
            return True
    except OSError:
        return False


def _start_moto(home: Home, state: dict[str, Any]) -> dict[str, Any]:
    # The server binds port 0 and writes the port the kernel gave it: two homes starting at
    # the same instant can never pick the same port (a port probed free here could be taken
    # by the other before this server binds it).
    port_file = home.root / "moto.port"
    port_file.unlink(missing_ok=True)
    log_path = home.logs / "moto.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                MOTO_MODULE,
                "--home",
                str(home.root),
                "--port-file",
                str(port_file),
            ],
            env={**os.environ, proc.HOME_MARKER: str(home.root)},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives this command, immune to its Ctrl-C
        )
    # Recorded before it answers, so a command killed from here on leaves a known server.
    start_ticks = started.start_ticks if (started := proc.info(process.pid)) else None
    state["moto"] = {"pid": process.pid, "start_ticks": start_ticks}
    home.write_state(state)
    deadline = time.monotonic() + MOTO_START_TIMEOUT_S
    while True:
        port = _written_port(port_file)
        if port is not None and _moto_answers(port):
            return {"pid": process.pid, "port": port, "start_ticks": start_ticks}
        if process.poll() is not None or time.monotonic() > deadline:
            proc.stop([process.pid])
            raise RuntimeError(f"moto server did not start; see {log_path}")
        time.sleep(0.05)


def _written_port(port_file: os.PathLike[str]) -> int | None:
    try:
        with open(port_file) as text:
            return int(text.read())
    except (FileNotFoundError, ValueError):
        return None
