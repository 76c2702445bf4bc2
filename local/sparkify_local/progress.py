"""Progress of long work, shown the way the place it is watched wants it.

On a terminal: a live tqdm bar on stderr, with counts beside it (files staged, rejected; the
merge's state). Elsewhere (CI logs, a pipe): quiet and line-oriented on stdout, in order with
the command's summary: one line when the work ends, and one every ``LINE_EVERY_S`` seconds
while it lasts, never a bar's redraws. Work that is interrupted prints no closing line (the
command's one line about the interruption says it all).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from types import TracebackType

from tqdm import tqdm

LINE_EVERY_S = 30.0


class Progress:
    """``counts``, if given, is asked for the counts beside the bar only when they are shown
    (each update on a terminal, each line elsewhere); a failure to count shows none and never
    stops the work it watches (a warehouse restarting mid-stage, say)."""

    def __init__(
        self,
        desc: str,
        total: int | None,
        unit: str,
        live: bool,
        counts: Callable[[], Mapping[str, object]] | None = None,
    ) -> None:
        self._desc, self._total, self._unit = desc, total, unit
        self._done = 0
        self._notes: dict[str, object] = {}
        self._counter = counts
        # Without a total, tqdm's default shows a rate and glues the unit to the count.
        unbounded = "{desc}: {n_fmt} " + unit + " [{elapsed}{postfix}]"
        bar_format = unbounded if total is None else None
        self._bar = (
            tqdm(desc=desc, total=total, unit=f" {unit}", bar_format=bar_format) if live else None
        )
        self._last_line = time.monotonic()

    def update(self, n: int = 1) -> None:
        self._done += n
        if self._bar is not None:
            if self._counter is not None:
                self._bar.set_postfix(self._counts(), refresh=False)
            self._bar.update(n)
        elif time.monotonic() - self._last_line >= LINE_EVERY_S:
            self._line()

    def note(self, **notes: object) -> None:
        """Values shown beside the bar until replaced (the merge's last state, say)."""
        self._notes.update(notes)
        if self._bar is not None:
            self._bar.set_postfix(self._counts(), refresh=True)

    def state(self, name: str, _result: object = None) -> None:
        """A merge's state ended (the ``on_state`` of ``operate.merges``): count it, show it."""
        self.note(last=name)
        self.update()

    def _counts(self) -> dict[str, object]:
        counted: dict[str, object] = {}
        if self._counter is not None:
            try:
                counted = dict(self._counter())
            except Exception:  # shown progress is never worth failing the work
                counted = {}
        return {**self._notes, **counted}

    def _line(self) -> None:
        of = f"/{self._total}" if self._total is not None else ""
        extra = "".join(f", {name} {value}" for name, value in self._counts().items())
        print(f"{self._desc}: {self._done}{of} {self._unit}{extra}", flush=True)
        self._last_line = time.monotonic()

    def close(self, completed: bool = True) -> None:
        if self._bar is not None:
            self._bar.close()
        elif completed:
            self._line()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close(completed=kind is None)


def live() -> bool:
    """Whether progress is watched live: stderr is a terminal."""
    return sys.stderr.isatty()
