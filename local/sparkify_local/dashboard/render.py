"""Render the local stack's dashboard: the template's body, the local CloudWatch's data, one
HTML file written whole (a browser reloading it during ``--watch`` never reads half of it)."""

from __future__ import annotations

import re
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sparkify_local.dashboard.data import Window, read_widgets
from sparkify_local.dashboard.definition import local_body
from sparkify_local.dashboard.page import render_page
from sparkify_local.home import Home
from sparkify_local.runtime import processes
from sparkify_local.runtime.alarms import ensure_monitoring
from sparkify_local.runtime.resources import STACK_NAME, LocalResources

DASHBOARD_FILE = "dashboard.html"
_SHORT = re.compile(r"^(\d+)([smhdw])$")
_ISO = re.compile(r"^-?P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """``30m``, ``3h``, ``2d``, ``1w``, ``90s`` or ISO 8601 (``PT3H``, ``-PT12H`` as the body's
    ``start`` writes it). ``ValueError`` names what is accepted."""
    cleaned = text.strip()
    if short := _SHORT.match(cleaned):
        seconds = int(short.group(1)) * _UNIT_S[short.group(2)]
    elif (iso := _ISO.match(cleaned.upper())) is not None and any(iso.groups()):
        weeks, days, hours, minutes, secs = (int(part or 0) for part in iso.groups())
        seconds = (((weeks * 7 + days) * 24 + hours) * 60 + minutes) * 60 + secs
    else:
        raise ValueError(f"not a duration (e.g. 30m, 3h, 2d, PT3H): {text!r}")
    if seconds <= 0:
        raise ValueError(f"must be longer than 0: {text!r}")
    return timedelta(seconds=seconds)


@dataclass(frozen=True)
class Rendered:
    path: Path
    size_bytes: int
    seconds: float
    widgets: int

    def summary(self) -> str:
        return (
            f"dashboard: {self.path} ({self.widgets} widgets, "
            f"{self.size_bytes / 1e6:.1f} MB, rendered in {self.seconds:.1f} s)"
        )


def dashboard_status(home: Home) -> str:
    """``sparkify status``'s line about the home's dashboard page."""
    path = home.root / DASHBOARD_FILE
    if not path.exists():
        return f"dashboard: {path} (not rendered yet: `sparkify dashboard`)"
    rendered = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    return f"dashboard: {path} (rendered {rendered:%Y-%m-%d %H:%M:%S} UTC)"


def dashboard_path(home: Home, out: Path | None) -> Path:
    """Where the page goes: ``--out``, else the home's ``dashboard.html``. ``ValueError`` for
    a path that cannot be a file to write (a folder, a missing folder)."""
    path = out if out is not None else home.root / DASHBOARD_FILE
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not a file")
    if out is not None and not path.parent.is_dir():
        raise ValueError(f"no such folder: {path.parent}")
    return path


def default_since(body: dict[str, Any]) -> timedelta:
    """The body's own time range (``start``, e.g. ``-PT12H``), else CloudWatch's 3 hours."""
    return parse_duration(str(body["start"])) if "start" in body else timedelta(hours=3)


def render_local(
    stack: LocalResources, out: Path, since: timedelta | None, refresh_s: int | None = None
) -> Rendered:
    started = time.monotonic()
    body = local_body(stack)
    end = datetime.now(UTC)
    window = Window(end - (since or default_since(body)), end)
    widgets = read_widgets(body, stack.cloudwatch, stack.logs, window)
    page = render_page(
        widgets,
        window,
        title=f"Sparkify loader - {STACK_NAME}-pipeline (local stack)",
        source=f"local CloudWatch at {stack.endpoints.aws_url}",
        refresh_s=refresh_s,
    )
    written = out.with_name(f".{out.name}.partial")
    written.write_text(page, encoding="utf-8")
    written.replace(out)
    return Rendered(out, len(page.encode()), time.monotonic() - started, len(widgets))


def watch(
    home: Home,
    out: Path,
    since: timedelta | None,
    every_s: int | None,
    opened: bool,
    report: Callable[[str], object],
) -> None:
    """Render once, or every ``every_s`` seconds until interrupted (the page then reloads
    itself as often); open it in a browser after the first rendering if asked."""
    stack = LocalResources(processes.ensure_up(home))
    ensure_monitoring(stack)  # what the widgets read, also in a home that never loaded
    try:
        while True:
            rendered = render_local(stack, out, since, refresh_s=every_s)
            report(rendered.summary())
            if opened:
                webbrowser.open(out.resolve().as_uri())
                opened = False
            if every_s is None:
                return
            time.sleep(every_s)  # the refresh period itself, not a wait for something
    finally:
        stack.close()
