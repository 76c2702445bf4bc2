"""Ctrl-C and SIGTERM, taken where a command can stop cleanly.

Python raises KeyboardInterrupt at whatever bytecode the main thread runs next. Inside the
standard library's thread machinery that can leave a lock held for ever: interrupted in
``concurrent.futures.wait`` between taking two futures' locks, the process pool's own thread
later blocks on the first one while it completes that future, and the interpreter's exit
waits for that thread. Seen in CI: a ``sparkify load`` still running 60 s after its Ctrl-C.

So code that drives threads, worker processes or network clients in a loop runs ``deferred()``:
a stop signal then only marks the command as interrupted, and the loop raises
KeyboardInterrupt at its own ``checkpoint()``, where it holds no lock. Its loops wait at most
a fraction of a second between checkpoints, so the command still stops at once. Elsewhere the
signal interrupts immediately, as Python's own handler would.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

_deferring = 0
_pending = False


def interrupt(_signal: int, _frame: FrameType | None) -> None:
    """The stop signals' handler: interrupt now, or at the next checkpoint while deferred."""
    global _pending
    if _deferring:
        _pending = True
        return
    raise KeyboardInterrupt


@contextmanager
def deferred() -> Iterator[None]:
    """A stop signal received inside waits for a ``checkpoint()`` (or the region's end)."""
    global _deferring
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
    checkpoint()


def checkpoint() -> None:
    """Raise the KeyboardInterrupt a stop signal deferred, once."""
    global _pending
    if _pending:
        _pending = False
        raise KeyboardInterrupt
