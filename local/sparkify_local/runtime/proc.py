"""Which processes belong to a home, read from /proc (Linux), and how to stop them.

Every process the local runtime starts for a home (the moto server, PostgreSQL, initdb, the
function workers) carries ``SPARKIFY_PROCESS_HOME=<home>`` in the environment it was started
with, which /proc/PID/environ keeps for the process's life (proc(5): changes made after exec do
not show there). So `sparkify down` finds them even when the command that started them was killed
before it could write their pid anywhere, and even after the home folder was deleted.
PostgreSQL backends overwrite their environment block with their process title; they are found
as descendants of a marked process instead.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

HOME_MARKER = "SPARKIFY_PROCESS_HOME"
_PROC = Path("/proc")
_POLL_S = 0.05


@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    parent: int
    start_ticks: int  # since boot: a pid reused by another process has another start time
    command: tuple[str, ...]


def info(pid: int) -> ProcessInfo | None:
    """The process ``pid`` as /proc shows it; None once it is gone or a zombie."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
        raw_command = (_PROC / str(pid) / "cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    # The command name (field 2) is in parentheses and may itself hold spaces or parentheses.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None
    command = tuple(part.decode(errors="replace") for part in raw_command.split(b"\0") if part)
    return ProcessInfo(pid=pid, parent=int(fields[1]), start_ticks=int(fields[19]), command=command)


def environment(pid: int) -> dict[str, str]:
    """The environment ``pid`` was started with (empty once it is gone or not ours to read)."""
    try:
        raw = (_PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return {}
    pairs = (entry.decode(errors="replace").partition("=") for entry in raw.split(b"\0") if entry)
    return {name: value for name, _, value in pairs}


def is_same_process(pid: int, start_ticks: int) -> bool:
    """Whether ``pid`` still is the process that started at ``start_ticks``."""
    current = info(pid)
    return current is not None and current.start_ticks == start_ticks


def alive(pid: int) -> bool:
    return info(pid) is not None


def processes_of(home_root: Path) -> list[ProcessInfo]:
    """Every live process of the home (marked with the home or with a home nested inside it, or a
    descendant of a marked one), oldest first.

    The calling process and its ancestors are left out: a command never stops itself.
    """
    everyone: dict[int, ProcessInfo] = {}
    marked: set[int] = set()
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        process = info(int(entry.name))
        if process is None:
            continue
        everyone[process.pid] = process
        marked_home = environment(process.pid).get(HOME_MARKER)
        if marked_home is not None and _is_within(Path(marked_home), home_root):
            marked.add(process.pid)
    children: dict[int, list[int]] = {}
    for process in everyone.values():
        children.setdefault(process.parent, []).append(process.pid)
    found: set[int] = set()
    pending = list(marked)
    while pending:
        pid = pending.pop()
        if pid not in found:
            found.add(pid)
            pending += children.get(pid, [])
    found -= _self_and_ancestors(everyone)
    return sorted((everyone[pid] for pid in found), key=lambda p: (p.start_ticks, p.pid))


def _is_within(marked_home: Path, home_root: Path) -> bool:
    """Whether a process marked with ``marked_home`` belongs to ``home_root``: the home itself or a
    home nested inside it (the scratch homes `sparkify bench` runs at ``<home>/bench*``), compared
    by path parts so that ``<home>-other`` is not taken for ``<home>``."""
    return marked_home == home_root or home_root in marked_home.parents


def _self_and_ancestors(everyone: dict[int, ProcessInfo]) -> set[int]:
    lineage: set[int] = set()
    pid = os.getpid()
    while pid in everyone and pid not in lineage:
        lineage.add(pid)
        pid = everyone[pid].parent
    return lineage | {os.getpid()}


@contextlib.contextmanager
def signals_blocked(*signals: signal.Signals) -> Iterator[None]:
    """Signals to this thread wait until the block ends (children started inside inherit the
    mask across fork and exec)."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, set(signals))
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def stop(pids: Iterable[int], sig: signal.Signals = signal.SIGTERM, timeout: float = 10.0) -> None:
    """Send ``sig`` to each process, wait up to ``timeout`` for all, then SIGKILL the rest."""
    targets = {pid: process for pid in pids if (process := info(pid)) is not None}
    for pid in targets:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while _still_running(targets) and time.monotonic() < deadline:
        time.sleep(_POLL_S)
    for pid in _still_running(targets):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while _still_running(targets) and time.monotonic() < deadline:
        time.sleep(_POLL_S)


def _still_running(targets: dict[int, ProcessInfo]) -> list[int]:
    return [pid for pid, process in targets.items() if is_same_process(pid, process.start_ticks)]
