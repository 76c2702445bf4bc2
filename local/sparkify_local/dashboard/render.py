"""Render a stack's dashboard: on the local stack the template's body and the local CloudWatch's
data; on a deployed stack (``--stack``) the body it deployed and its account's CloudWatch. One
HTML file, written whole (a browser reloading it during ``--watch`` never reads half of it)."""

from __future__ import annotations

import json
import re
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from sparkify_local.dashboard.data import Window, read_widgets
from sparkify_local.dashboard.definition import local_body
from sparkify_local.dashboard.page import render_page
from sparkify_local.home import Home
from sparkify_local.operate.errors import StackError
from sparkify_local.runtime.resources import STACK_NAME, LocalResources

if TYPE_CHECKING:
    from sparkify_local.operate.deployed import DeployedTarget

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


def dashboard_path(home: Home, out: Path | None, stack: str | None = None) -> Path:
    """Where the page goes: ``--out``, else the home's ``dashboard.html`` (a deployed stack's:
    ``dashboard-<stack>.html`` in the current folder). ``ValueError`` for a path that cannot be
    a file to write (a folder, a missing folder)."""
    default = Path(f"dashboard-{stack}.html") if stack else home.root / DASHBOARD_FILE
    path = out if out is not None else default
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not a file")
    if out is not None and not path.parent.is_dir():
        raise ValueError(f"no such folder: {path.parent}")
    return path


def default_since(body: dict[str, Any]) -> timedelta:
    """The body's own time range (``start``, e.g. ``-PT12H``), else CloudWatch's 3 hours."""
    return parse_duration(str(body["start"])) if "start" in body else timedelta(hours=3)


@dataclass(frozen=True)
class DashboardSource:
    """A dashboard to draw: its body (read again at each rendering) and the CloudWatch and
    CloudWatch Logs clients of the account it watches."""

    title: str
    source: str
    body: Callable[[], dict[str, Any]]
    cloudwatch: Any
    logs: Any


def local_source(stack: LocalResources) -> DashboardSource:
    """The template's dashboard, on the local stack."""
    return DashboardSource(
        title=f"Sparkify loader - {STACK_NAME}-pipeline (local stack)",
        source=f"local CloudWatch at {stack.endpoints.aws_url}",
        body=lambda: local_body(stack),
        cloudwatch=stack.cloudwatch,
        logs=stack.logs,
    )


def deployed_source(target: DeployedTarget) -> DashboardSource:
    """The dashboard a deployed stack has: its name from the stack's ``DashboardUrl`` output,
    its body as deployed (``GetDashboard``), its data from that account's CloudWatch."""
    url = target.outputs.get("DashboardUrl", "")
    name = url.partition("#dashboards:name=")[2]
    if not name:
        raise StackError(f"{target.description} has no DashboardUrl output naming its dashboard")
    cloudwatch = target.session.client("cloudwatch")

    def body() -> dict[str, Any]:
        try:
            deployed = cloudwatch.get_dashboard(DashboardName=name)["DashboardBody"]
        except (BotoCoreError, ClientError) as error:
            what = f"cannot read dashboard {name} of {target.description}"
            raise StackError(f"{what}: {error}") from None
        return dict(json.loads(deployed))

    return DashboardSource(
        title=f"Sparkify loader - {name}",
        source=f"CloudWatch of {target.description}",
        body=body,
        cloudwatch=cloudwatch,
        logs=target.session.client("logs"),
    )


def render(
    source: DashboardSource, out: Path, since: timedelta | None, refresh_s: int | None = None
) -> Rendered:
    started = time.monotonic()
    body = source.body()
    end = datetime.now(UTC)
    window = Window(end - (since or default_since(body)), end)
    widgets = read_widgets(body, source.cloudwatch, source.logs, window)
    page = render_page(widgets, window, source.title, source.source, refresh_s=refresh_s)
    written = out.with_name(f".{out.name}.partial")
    written.write_text(page, encoding="utf-8")
    written.replace(out)
    return Rendered(out, len(page.encode()), time.monotonic() - started, len(widgets))


def watch(
    source: DashboardSource,
    out: Path,
    since: timedelta | None,
    every_s: int | None,
    opened: bool,
    report: Callable[[str], object],
) -> None:
    """Render once, or every ``every_s`` seconds until interrupted (the page then reloads
    itself as often); open it in a browser after the first rendering if asked."""
    while True:
        rendered = render(source, out, since, refresh_s=every_s)
        report(rendered.summary())
        if opened:
            webbrowser.open(out.resolve().as_uri())
            opened = False
        if every_s is None:
            return
        time.sleep(every_s)  # the refresh period itself, not a wait for something
