"""``sparkify dashboard`` as a person sees it: the real sample loaded with a bad file and a
redelivery, the page rendered from the local stack's CloudWatch, opened in a real headless
Chromium (Debian's ``chromium`` package), looked at in its DOM, and photographed.

The browser is never optional: without it the test fails and says how to install it.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sparkify_local.dashboard.definition import dashboard_sub, local_body, resolve_body
from sparkify_local.home import Home
from sparkify_local.runtime.processes import Endpoints
from sparkify_local.runtime.resources import LocalResources
from sparkify_local.sam.loading import load_template
from tests.support.cli import home_aws, run_cli
from tests.support.deployed import REGION, STACK, create_stack, local_outputs, stack_env

ROOT = Path(__file__).resolve().parents[2]
# CI keeps this folder (git-ignored); the README's picture is a copy of one such screenshot.
ARTIFACTS = ROOT / "artifacts"
CHROMIUM_INSTALL = "apt-get install -y chromium"
BAD_KEY = "log_data/2018/11/bad-events.json"
BAD_REASON = "line 1: invalid JSON"
METRICS_TIMEOUT_S = 60.0
# The template's alarms after the load: the rejected file's fires; the reconcile alarm has no
# data (no scheduled run locally) and treats missing data as missing.
EXPECTED_ALARMS = {
    "sparkify-dead-letter-queue-not-empty": "OK",
    "sparkify-stage-queue-message-too-old": "OK",
    "sparkify-merge-failed": "OK",
    "sparkify-quality-check-failed": "OK",
    "sparkify-files-rejected": "ALARM",
    "sparkify-files-unaccounted": "INSUFFICIENT_DATA",
}
PAGE_TIMEOUT_MS = 60_000
VIEWPORT_WIDTH, VIEWPORT_HEIGHT = 1600, 1300


def chromium() -> str:
    """The system's Chromium; its absence fails the test (never a skip)."""
    for name in ("chromium", "chromium-browser"):
        if (path := shutil.which(name)) is not None:
            return path
    pytest.fail(f"no Chromium on this machine: install it with `{CHROMIUM_INSTALL}` (as root)")


def _template_widgets() -> list[dict[str, Any]]:
    """The template's widgets, in order (a placeholder for every reference: only the widget
    types and titles are compared)."""
    body = resolve_body(dashboard_sub(load_template(ROOT / "template.yaml")), lambda _: "0")
    return list(body["widgets"])


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g} s"
        time.sleep(0.2)


def _alarm_states(home: Path) -> dict[str, str]:
    cloudwatch = home_aws(home, "cloudwatch")
    alarms = cloudwatch.describe_alarms(AlarmNamePrefix="sparkify-")["MetricAlarms"]
    return {alarm["AlarmName"]: alarm["StateValue"] for alarm in alarms}


def _metric_has_data(home: Path, namespace: str, name: str) -> bool:
    cloudwatch = home_aws(home, "cloudwatch")
    return bool(cloudwatch.list_metrics(Namespace=namespace, MetricName=name)["Metrics"])


# Read in the page: every widget as drawn, each chart's points per line (Plotly keeps the data
# it drew on its element), the tables' cells, the alarm states.
_READ_PAGE = """() => [...document.querySelectorAll("#dashboard > section.widget")].map(w => ({
  type: w.dataset.type,
  title: w.dataset.title,
  unsupported: w.querySelector(".unsupported")?.textContent ?? null,
  plotted: w.querySelector(".js-plotly-plot") !== null,
  points: Object.fromEntries((w.querySelector(".js-plotly-plot")?.data ?? []).map(
    t => [t.name, t.y.filter(v => v !== null && v > 0).length])),
  rows: [...w.querySelectorAll("tr")].map(r => [...r.cells].map(c => c.textContent)),
}))"""


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory, sample_dir: Path) -> Iterator[Path]:
    """A home with the real sample and one bad file loaded, then one file uploaded again
    unchanged (S3 announces it again with the same etag: a duplicate delivery the ledger
    skips), once the local stack has reported the merges and evaluated the alarms."""
    home = tmp_path_factory.mktemp("dashboard-home")
    landing = tmp_path_factory.mktemp("landing")
    shutil.copytree(sample_dir, landing, dirs_exist_ok=True)
    (landing / BAD_KEY).parent.mkdir(parents=True, exist_ok=True)
    (landing / BAD_KEY).write_text('{"artist": "broken\n')
    try:
        first = run_cli(home, "load", str(landing))
        assert first.returncode == 1, first.stdout + first.stderr  # the rejected file
        assert f"rejected: {BAD_KEY}: {BAD_REASON}" in first.stdout
        again = next(p for p in sorted(landing.rglob("*.json")) if p.name != "bad-events.json")
        second = run_cli(home, "load", str(again))
        assert second.returncode == 0, second.stdout + second.stderr
        # Step Functions' metrics are sampled by the local stack every few seconds, as AWS
        # reports them after an execution ends: wait until the last merge is counted ...
        _wait_for(
            lambda: _metric_has_data(home, "AWS/States", "ExecutionsSucceeded"),
            METRICS_TIMEOUT_S,
            "merge executions reported",
        )
        # ... and the alarms evaluated, as CloudWatch would after the data came
        _wait_for(
            lambda: _alarm_states(home) == EXPECTED_ALARMS, METRICS_TIMEOUT_S, "alarms evaluated"
        )
        yield home
    finally:
        run_cli(home, "down")


@pytest.mark.slow  # a first start, two loads with merges, a browser: ~40 s on this machine
def test_dashboard_shows_the_pipeline_in_a_real_browser(loaded: Path, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    browser_path = chromium()  # before any work: a missing browser fails at once
    home = loaded

    # When the dashboard is rendered
    page_path = tmp_path / "dashboard.html"
    rendered = run_cli(home, "dashboard", "--out", str(page_path), "--since", "1h")
    assert rendered.returncode == 0, rendered.stdout + rendered.stderr
    assert rendered.stdout.startswith(
        f"dashboard: {page_path} ({len(_template_widgets())} widgets, "
    )

    # And opened in a headless Chromium, every request the page makes recorded
    requested: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": VIEWPORT_WIDTH, "height": VIEWPORT_HEIGHT})
            page.on("request", lambda request: requested.append(request.url))
            page.goto(page_path.as_uri())
            page.wait_for_function(
                "document.body.dataset.rendered !== undefined", timeout=PAGE_TIMEOUT_MS
            )
            drawn = page.evaluate("document.body.dataset.rendered")
            shown = page.evaluate(_READ_PAGE)
            ARTIFACTS.mkdir(exist_ok=True)
            screenshot = tmp_path / "dashboard.png"
            page.screenshot(path=str(screenshot), full_page=True)
            shutil.copy(screenshot, ARTIFACTS / "dashboard.png")
        finally:
            browser.close()

    # Then Plotly drew every chart
    assert drawn == "true"
    widgets = {w["title"]: w for w in shown}
    # And every widget of the template is there, in its order, none left undrawn
    expected = _template_widgets()
    assert [(w["type"], w["title"]) for w in shown] == [
        (w["type"], w["properties"].get("title") or w["type"]) for w in expected
    ]
    assert [w["title"] for w in shown if w["unsupported"]] == []
    metric_titles = [w["properties"]["title"] for w in expected if w["type"] == "metric"]
    assert all(widgets[title]["plotted"] for title in metric_titles)
    # And the staged-files, rows-staged and merge-execution charts have data points
    files = widgets["Files staged / rejected / skipped (stage)"]["points"]
    assert files["staged"] > 0 and files["rejected"] > 0, files
    assert files["skipped: duplicate delivery"] > 0, files
    rows = widgets["Rows staged per dataset"]["points"]
    assert rows["log_data (events)"] > 0 and rows["song_data (songs)"] > 0, rows
    assert widgets["Merge executions"]["points"]["succeeded"] > 0
    # And the alarm widget shows each alarm's state: the rejected file fired its alarm
    header, *alarms = widgets["Alarms"]["rows"]
    assert header == ["alarm", "state", "reason"]
    assert {name: state for name, state, _ in alarms} == EXPECTED_ALARMS
    # And the rejected-files table names the bad file and its reason
    header, *table = widgets["Rejected files (stage function log)"]["rows"]
    assert header == ["@timestamp", "bucket", "key", "reason", "etag"]
    assert [row[2] for row in table] == [BAD_KEY]
    assert table[0][3].startswith(f"{BAD_REASON}: "), table
    # And the page loaded nothing but itself: no request left the machine
    assert requested == [page_path.as_uri()]
    print(json.dumps({"screenshot": str(screenshot), "page_bytes": page_path.stat().st_size}))


def test_bad_since_is_one_line_and_exit_2(tmp_path: Path) -> None:
    # Given a fresh home
    # When the dashboard is asked for an unreadable duration
    result = run_cli(tmp_path / "home", "dashboard", "--since", "yesterday")

    # Then one line says what is accepted, exit 2, and nothing was started
    assert result.returncode == 2
    assert result.stderr == (
        "sparkify dashboard: --since: not a duration (e.g. 30m, 3h, 2d, PT3H): 'yesterday'\n"
    )
    assert not (tmp_path / "home" / "services.json").exists()


@pytest.mark.parametrize(
    ("out", "message"),
    [
        ("missing/dashboard.html", "--out: no such folder: {root}/missing"),
        ("a-folder", "--out: {root}/a-folder is a folder, not a file"),
    ],
)
def test_unwritable_out_is_one_line_and_exit_2(tmp_path: Path, out: str, message: str) -> None:
    # Given a fresh home, and a folder where a page could be asked for
    (tmp_path / "a-folder").mkdir()

    # When the page is to be written where no file can be
    result = run_cli(tmp_path / "home", "dashboard", "--out", str(tmp_path / out))

    # Then one line names the path, exit 2, and nothing was started
    assert result.returncode == 2
    assert result.stderr == f"sparkify dashboard: {message.format(root=tmp_path)}\n"
    assert not (tmp_path / "home" / "services.json").exists()


def test_a_page_that_cannot_be_written_is_one_line_and_exit_1(
    homes: Callable[[str], Path], tmp_path: Path
) -> None:
    # Given a path whose folder exists but where the page cannot be created (a file named like
    # the page's temporary file is a folder: root ignores permission bits, a folder it cannot
    # replace)
    home = homes("dashboard-unwritable")
    out = tmp_path / "dashboard.html"
    (tmp_path / ".dashboard.html.partial").mkdir()

    # When the dashboard is rendered there
    result = run_cli(home, "dashboard", "--out", str(out))

    # Then one line names the file and the reason, exit 1
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.startswith(f"sparkify dashboard: cannot write {out}: ")
    assert result.stderr.count("\n") == 1
    assert not out.exists()


@pytest.fixture(scope="module")
def outputs(loaded: Path) -> dict[str, str]:
    """The outputs a deployed stack of the loaded home's resources has (made once: they create
    the warehouse secret)."""
    return local_outputs(loaded)


@pytest.mark.slow  # shares the loaded home; the rendering itself takes a second
def test_dashboard_of_a_deployed_stack_reads_its_deployed_body_and_cloudwatch(
    loaded: Path, outputs: dict[str, str], tmp_path: Path
) -> None:
    # Given the loaded stack registered as a deployed one, with its dashboard as deployed (the
    # template's body with the stack's names, put in CloudWatch) and named by its output
    home = loaded
    body = local_body(LocalResources(Endpoints.from_state(Home(home).read_state())))
    name = f"{STACK}-pipeline"
    home_aws(home, "cloudwatch").put_dashboard(DashboardName=name, DashboardBody=json.dumps(body))
    url = f"https://{REGION}.console.aws.amazon.com/cloudwatch/home#dashboards:name={name}"
    create_stack(home, STACK, {**outputs, "DashboardUrl": url})

    # When the operator renders it from a shell of that account
    page_path = tmp_path / "deployed.html"
    result = run_cli(
        home,
        "dashboard",
        "--stack",
        STACK,
        "--out",
        str(page_path),
        "--since",
        "1h",
        env=stack_env(home),
    )

    # Then the page names the stack and shows its data: every widget, the charts' points, the
    # rejected file from its log group's Logs Insights query
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith(f"dashboard: {page_path} ({len(_template_widgets())} widgets, ")
    page = page_path.read_text()
    assert f"CloudWatch of stack {STACK} ({REGION})" in page
    assert page.count('<section class="widget"') == len(_template_widgets())
    assert "not drawn:" not in page
    assert f"<td>{BAD_KEY}</td><td>{BAD_REASON}: " in page
    assert '"name": "staged", "x": ["' in page


@pytest.mark.slow  # shares the loaded home
def test_dashboard_of_a_stack_without_one_is_one_line_and_exit_1(
    loaded: Path, outputs: dict[str, str]
) -> None:
    # Given a deployed stack whose outputs name no dashboard
    home = loaded
    create_stack(home, "no-dashboard", outputs)

    # When its dashboard is asked for
    result = run_cli(home, "dashboard", "--stack", "no-dashboard", env=stack_env(home))

    # Then one line says so, exit 1
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr == (
        "sparkify dashboard: stack no-dashboard (us-east-1) has no DashboardUrl output naming "
        "its dashboard\n"
    )
