"""``sparkify``: run the loader locally (moto + embedded PostgreSQL) and look inside it.

Commands: init, load, backfill, reconcile, merge, report, sql, status, smoke, dashboard, down,
generate, bench.
State lives in SPARKIFY_HOME (default ./.sparkify); services a command starts stay up until
``sparkify down``. With ``--stack NAME``, status, merge, load, sql, report, backfill,
reconcile, smoke and dashboard operate a deployed stack instead (its CloudFormation outputs,
the caller's AWS credentials, SQL through the Redshift Data API).
"""

from __future__ import annotations

import argparse
import csv
import faulthandler
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from sparkify_loader.completeness.listing import PrefixOutsideDatasetsError
from sparkify_loader.completeness.notifications import AnnounceError
from sparkify_loader.completeness.reconcile import DEFAULT_GRACE_SECONDS
from sparkify_local.bench import BENCHES
from sparkify_local.home import Home, StateFileError
from sparkify_local.operate.errors import DataApiError, StackError
from sparkify_local.progress import Progress, live
from sparkify_local.runtime import interrupts, processes
from sparkify_local.runtime.postgres import WarehouseStartError

if TYPE_CHECKING:
    from sparkify_local.operate.local import LocalTarget
    from sparkify_local.operate.target import StackTarget

USAGE_EXIT = 2  # as argparse exits on a bad argument
INTERRUPTED_EXIT = 130  # 128 + SIGINT, as shells report a command stopped by Ctrl-C
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class UsageError(ValueError):
    """Bad input to a command: one line on stderr, exit 2."""


class Interrupted(Exception):
    """Ctrl-C or SIGTERM during a command; the message says what stopped and how to resume."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    # `kill -USR1 PID` prints every thread's stack to stderr: what a hung command waits for.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    with _stop_signals_interrupt():
        try:
            _check_stack_options(args)
            return int(args.run(args) or 0)
        except Interrupted as interrupted:
            print(interrupted, file=sys.stderr)
        except KeyboardInterrupt:
            print(f"sparkify {args.command}: interrupted", file=sys.stderr)
        except (UsageError, PrefixOutsideDatasetsError) as error:
            print(f"sparkify {args.command}: {error}", file=sys.stderr)
            return USAGE_EXIT
        except (
            StateFileError,
            WarehouseStartError,
            AnnounceError,
            StackError,
            DataApiError,
        ) as error:
            print(f"sparkify {args.command}: {error}", file=sys.stderr)
            return 1
    return INTERRUPTED_EXIT


@contextmanager
def _stop_signals_interrupt() -> Iterator[None]:
    """Ctrl-C and SIGTERM both interrupt the command once, as KeyboardInterrupt (at once, or
    at the next checkpoint of a loop that drives threads: see ``runtime.interrupts``).

    Later signals are ignored until the process exits: cleaning up (stopping the function
    workers, handing their messages back to the queue) takes a moment, and another
    KeyboardInterrupt in the middle of it would leave it half done and print a traceback from
    wherever it landed; Python's own handler, put back, would make a late SIGINT kill the
    process while it exits, with status -SIGINT instead of 130.
    """
    interrupted = False

    def interrupt(signal_number: int, frame: FrameType | None) -> None:
        nonlocal interrupted
        interrupted = True
        for stop in STOP_SIGNALS:
            signal.signal(stop, signal.SIG_IGN)
        interrupts.interrupt(signal_number, frame)

    previous = {stop: signal.signal(stop, interrupt) for stop in STOP_SIGNALS}
    try:
        yield
    finally:
        if not interrupted:
            for stop, handler in previous.items():
                signal.signal(stop, handler)


@contextmanager
def _step(what: str, resume: str) -> Iterator[None]:
    try:
        yield
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted while {what}; {resume}") from None


def _stack_options(command: argparse.ArgumentParser) -> None:
    deployed = command.add_argument_group("a deployed stack (default: the local stack)")
    deployed.add_argument("--stack", metavar="NAME", help="the CloudFormation stack to operate")
    deployed.add_argument("--region", help="its AWS region (default: the profile's)")
    deployed.add_argument("--profile", help="the AWS profile to use (default: the usual chain)")
    deployed.add_argument(
        "--statement-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="cancel a Data API statement after this long (default 300)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sparkify", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND", dest="command")

    init = commands.add_parser("init", help="start the local stack and create the schema")
    init.set_defaults(run=_init)

    load = commands.add_parser("load", help="upload files or folders and stage them")
    load.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    load.add_argument("--no-merge", action="store_true", help="stage only, do not merge")
    load.add_argument(
        "--without-events",
        action="store_true",
        help="upload only, with no ObjectCreated notifications (as files that predate the loader)",
    )
    _stack_options(load)
    load.set_defaults(run=_load)

    backfill = commands.add_parser(
        "backfill", help="announce every object version missing from the ledger, stage, merge"
    )
    backfill.add_argument("--prefix", default=None, help="only keys under this prefix")
    backfill.add_argument(
        "--since", default=None, metavar="DATE", help="only objects last modified on/after DATE"
    )
    backfill.add_argument("--no-merge", action="store_true", help="stage only, do not merge")
    _stack_options(backfill)
    backfill.set_defaults(run=_backfill)

    reconcile = commands.add_parser(
        "reconcile", help="every landed file: in the ledger, in flight or unaccounted"
    )
    reconcile.add_argument(
        "--grace",
        type=float,
        default=DEFAULT_GRACE_SECONDS,
        metavar="SECONDS",
        help="a file not in the ledger and this recent is in flight "
        f"(default {DEFAULT_GRACE_SECONDS})",
    )
    _stack_options(reconcile)
    reconcile.set_defaults(run=_reconcile)

    merge = commands.add_parser("merge", help="run the merge state machine once and follow it")
    merge.add_argument("--dry-run", action="store_true", help="report what would change")
    _stack_options(merge)
    merge.set_defaults(run=_merge)

    query = commands.add_parser("sql", help="query the local warehouse")
    query.add_argument("query")
    query.add_argument("--csv", action="store_true", help="CSV with a header row")
    _stack_options(query)
    query.set_defaults(run=_sql)

    report = commands.add_parser("report", help="the analysts' questions, from the star schema")
    _stack_options(report)
    report.set_defaults(run=_report)

    status = commands.add_parser("status", help="services, ledger and queue state")
    _stack_options(status)
    status.set_defaults(run=_status)

    smoke = commands.add_parser(
        "smoke", help="post-deploy check: land reserved-id files, verify the star schema, remove"
    )
    smoke.add_argument("--force", action="store_true", help="run on a prod stack too")
    _stack_options(smoke)
    smoke.set_defaults(run=_smoke)

    down = commands.add_parser("down", help="stop the local services of this home")
    down.set_defaults(run=_down)

    bench = commands.add_parser("bench", help="measure stage and merge against references")
    bench.add_argument("--quick", action="store_true", help="smaller data sets (minutes)")
    bench.add_argument("--out", type=Path, default=None, metavar="FILE.json")
    bench.add_argument(
        "--only",
        action="append",
        choices=BENCHES,
        help="run only this benchmark (repeatable; default: all)",
    )
    bench.set_defaults(run=_bench)

    dashboard = commands.add_parser(
        "dashboard", help="the stack's CloudWatch dashboard as one self-contained HTML page"
    )
    dashboard.add_argument("--out", type=Path, default=None, metavar="FILE.html")
    dashboard.add_argument(
        "--since", default=None, metavar="DURATION", help="e.g. 30m, 3h, 2d (default: the body's)"
    )
    dashboard.add_argument("--open", action="store_true", help="open the page in a browser")
    dashboard.add_argument(
        "--watch",
        type=int,
        nargs="?",
        const=10,
        default=None,
        metavar="SECONDS",
        help="render again every SECONDS (default 10) until Ctrl-C; the page reloads itself",
    )
    _stack_options(dashboard)
    dashboard.set_defaults(run=_dashboard)

    generate = commands.add_parser("generate", help="write realistic song and log files")
    generate.add_argument("out_dir", type=Path)
    generate.add_argument("--events", type=int, required=True)
    generate.add_argument("--songs", type=int, required=True)
    generate.add_argument("--seed", type=int, default=42)
    generate.add_argument("--days", type=int, default=None)
    generate.set_defaults(run=_generate)
    return parser


def _init(_args: argparse.Namespace) -> int:
    from sparkify_local.pipeline import LocalPipeline

    pipeline = LocalPipeline.start(Home.from_env())
    print(f"local stack up: AWS at {pipeline.endpoints.aws_url}, warehouse ready")
    return 0


def _check_stack_options(args: argparse.Namespace) -> None:
    """Before a command does anything: the deployed-stack options go together (a local
    command, e.g. ``status`` with its services down, may never open a target)."""
    if not hasattr(args, "stack"):
        return  # a command without them
    if args.stack is None and (args.region or args.profile or args.statement_timeout is not None):
        raise UsageError("--region, --profile and --statement-timeout go with --stack NAME")
    if args.statement_timeout is not None and args.statement_timeout <= 0:
        raise UsageError("--statement-timeout: must be more than 0 seconds")


def _open_target(args: argparse.Namespace, cleanup: ExitStack) -> StackTarget:
    """The stack the command operates: the deployed stack ``--stack`` names, or the local stack
    of SPARKIFY_HOME (started if it is not running; closed with ``cleanup``)."""
    if args.stack:
        from sparkify_local.operate.deployed import DeployedTarget

        return DeployedTarget.resolve(
            args.stack, args.region, args.profile, statement_timeout_s=args.statement_timeout
        )
    from sparkify_local.pipeline import LocalPipeline

    pipeline = LocalPipeline.start(Home.from_env())
    cleanup.callback(pipeline.close)
    return pipeline.target


def _local(target: StackTarget, option: str) -> LocalTarget:
    from sparkify_local.operate.local import LocalTarget

    if not isinstance(target, LocalTarget):
        raise UsageError(f"{option} is for the local stack only")
    return target


def _load(args: argparse.Namespace) -> int:
    from sparkify_local.operate.loads import files_to_upload, put_files

    missing = [str(path) for path in args.paths if not path.exists()]
    if missing:
        print(f"no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    if args.without_events and args.stack:
        raise UsageError(
            "--without-events is for the local stack only: S3 announces every object put into "
            "a deployed bucket"
        )
    resume = "run `sparkify load` again to resume: files already staged are not staged twice"
    with ExitStack() as cleanup:
        with _step("starting the local stack", resume):
            target = _open_target(args, cleanup)
        files = list(files_to_upload(args.paths))
        progress = sys.stderr.isatty()
        with _step("uploading", resume):
            if args.without_events:
                with _local(target, "--without-events").notifications_suspended():
                    put_files(target, files, progress)
                print(
                    f"uploaded {len(files)} file(s) without events: nothing announced them; "
                    "`sparkify reconcile` counts them, `sparkify backfill` loads them"
                )
                return 0
            uploaded = put_files(target, files, progress)
        return _stage_and_merge(target, uploaded, args.no_merge, resume)


def _stage_and_merge(
    target: StackTarget,
    versions: dict[str, str],
    no_merge: bool,
    resume: str,
    arrived_as: str = "uploaded",
) -> int:
    """Wait for the stage function to handle the notifications of ``versions`` (key -> etag),
    then follow the merges its batches started (or run one); print the summaries."""
    from sparkify_local.operate.loads import stage_uploaded
    from sparkify_local.operate.merges import arrival_merges, run_merge

    progress = sys.stderr.isatty()
    started = datetime.now(UTC)
    with _step("staging", resume):
        # As deployed, the stage function starts the merge when a batch commits new rows.
        summary = stage_uploaded(target, versions, progress=progress, merge_on_arrival=not no_merge)
    summary.arrived_as = arrived_as
    print(summary.render())
    if no_merge:
        print("merge skipped (--no-merge): staged rows wait for `sparkify merge`")
        return 0 if summary.ok else 1
    with (
        _step("merging (the execution goes on in the stack)", resume),
        Progress("merge", None, "states", live()) as bar,
    ):
        # Follow the merges the batches started; none started (nothing new): run one.
        machine = target.state_machine()
        outcomes = arrival_merges(machine, started, bar.state) or [
            run_merge(machine, on_state=bar.state)
        ]
    for outcome in outcomes:
        print(outcome.render())
    return 0 if summary.ok and all(outcome.ok for outcome in outcomes) else 1


def _since(value: str | None) -> datetime | None:
    """``--since``: a date (midnight UTC) or an ISO 8601 time (UTC unless it says otherwise)."""
    if value is None:
        return None
    try:
        since = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--since: not a date (YYYY-MM-DD) or ISO 8601 time: {value!r}") from None
    return since if since.tzinfo else since.replace(tzinfo=UTC)


def _backfill(args: argparse.Namespace) -> int:
    from sparkify_loader.completeness.backfill import backfill
    from sparkify_loader.completeness.landing import landing_rules
    from sparkify_loader.completeness.listing import ListedObject, listing_prefixes

    since = _since(args.since)
    # Checked before the stack starts: a bad prefix costs no start-up.
    listing_prefixes(landing_rules(), args.prefix)
    resume = "run `sparkify backfill` again: versions already in the ledger are not announced"
    with ExitStack() as cleanup:
        with _step("starting the local stack", resume):
            target = _open_target(args, cleanup)
        # On the local stack this command then stages what it announced, and its summary needs
        # the announced versions (key -> etag); the listing itself holds one page at a time.
        announced: dict[str, str] = {}
        bar = Progress("backfill", None, "objects", live())

        def after_page(listed: int, page_announced: Sequence[ListedObject]) -> None:
            if not args.stack:
                announced.update((obj.key, obj.etag) for obj in page_announced)
            bar.update(listed)
            interrupts.checkpoint()

        # Announcing drives a thread pool: stop signals are taken between pages.
        with _step("announcing", resume), bar, interrupts.deferred():
            summary = backfill(target, prefix=args.prefix, since=since, on_page=after_page)
        print(summary.render())
        if args.stack:
            if summary.announced:
                print(
                    f"the stack's stage function stages them; `sparkify status --stack "
                    f"{args.stack}` and `sparkify reconcile --stack {args.stack}` follow them"
                )
            return 0
        if not announced:
            return 0
        return _stage_and_merge(target, announced, args.no_merge, resume, "announced")


def _reconcile(args: argparse.Namespace) -> int:
    from sparkify_loader.completeness.reconcile import reconcile

    if args.grace < 0:
        raise UsageError(f"--grace: must be 0 or more seconds, not {args.grace:g}")
    with ExitStack() as cleanup:
        target = _open_target(args, cleanup)
        report = reconcile(target, grace=timedelta(seconds=args.grace))
    print(report.render())
    return 0 if report.complete else 1


def _merge(args: argparse.Namespace) -> int:
    from sparkify_local.operate.merges import describe_result, run_merge

    with ExitStack() as cleanup:
        target = _open_target(args, cleanup)
        with _step("merging (the execution goes on in the stack)", "run it again to resume"):
            outcome = run_merge(
                target.state_machine(),
                {"dry_run": True} if args.dry_run else {},
                on_state=lambda name, result: print(
                    f"  {name:<14} {describe_result(result)}", flush=True
                ),
            )
    print(f"merge execution {outcome.execution_arn.rsplit(':', 1)[-1]}: {outcome.status}")
    if outcome.error:
        print(f"  error: {outcome.error}")
    return 0 if outcome.ok else 1


def _sql(args: argparse.Namespace) -> int:
    import psycopg

    with ExitStack() as cleanup:
        target = _open_target(args, cleanup)
        try:
            columns, rows = target.query(args.query)
        except (psycopg.Error, DataApiError) as error:  # the warehouse's message, no traceback
            print(f"query failed: {' '.join(str(error).split())}", file=sys.stderr)
            return 1
    if args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
    else:
        _print_table(columns, rows)
    return 0


def _report(args: argparse.Namespace) -> int:
    from sparkify_loader.sqlfiles import render_sql, sql_dir_files, sql_source

    with ExitStack() as cleanup:
        target = _open_target(args, cleanup)
        for name in sql_dir_files("analytics"):
            statement = render_sql(f"analytics/{name}")
            title = sql_source(f"analytics/{name}").splitlines()[0].removeprefix("--").strip()
            columns, rows = target.query(statement)
            print(f"\n== {title}")
            _print_table(columns, rows)
    return 0


def _status(args: argparse.Namespace) -> int:
    from sparkify_local.dashboard.render import dashboard_status
    from sparkify_local.operate.status import render_status

    if not args.stack:
        home = Home.from_env()
        up = processes.running(home)
        print(f"home: {home.root}")
        print(dashboard_status(home))
        print(
            "services: "
            + ", ".join(f"{name} {'up' if alive else 'down'}" for name, alive in up.items())
        )
        if leftovers := processes.unrecorded(home):
            print(f"left by a killed command: {', '.join(leftovers)}; `sparkify down` stops them")
        if not all(up.values()):
            print("(run `sparkify init` or `sparkify load` to start them)")
            return 0
    with ExitStack() as cleanup:
        target = _open_target(args, cleanup)
        if args.stack:
            print(f"{target.description}, environment {target.environment}")
        print(render_status(target))
    return 0


def _smoke(args: argparse.Namespace) -> int:
    from sparkify_local.operate.smoke import SmokeRefused, smoke

    with ExitStack() as cleanup:
        target = _open_target(args, cleanup)
        try:
            with _step("running the smoke test", "its rows and files were removed; run it again"):
                report = smoke(target, force=args.force, progress=sys.stderr.isatty())
        except SmokeRefused as refused:
            raise UsageError(str(refused)) from None
    print(report.render())
    return 0 if report.ok else 1


def _down(_args: argparse.Namespace) -> int:
    stopped = processes.down(Home.from_env())
    print("stopped: " + ", ".join(stopped) if stopped else "nothing was running")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from sparkify_local.bench.run import BENCHES, run_bench

    run_bench(
        Home.from_env(),
        quick=args.quick,
        out=args.out,
        progress=sys.stderr.isatty(),
        only=args.only or BENCHES,
    )
    return 0


def _dashboard(args: argparse.Namespace) -> int:
    from sparkify_local.dashboard.render import (
        dashboard_path,
        deployed_source,
        local_source,
        parse_duration,
        watch,
    )

    try:
        since = parse_duration(args.since) if args.since is not None else None
    except ValueError as error:
        raise UsageError(f"--since: {error}") from None
    if args.watch is not None and args.watch < 1:
        raise UsageError(f"--watch: at least 1 second, not {args.watch}")
    if args.statement_timeout is not None:
        raise UsageError("--statement-timeout: the dashboard runs no SQL")
    try:  # checked before the stack starts: a bad path costs no start-up
        out = dashboard_path(Home.from_env(), args.out, args.stack)
    except ValueError as error:
        raise UsageError(f"--out: {error}") from None
    with ExitStack() as cleanup:
        target = _open_target(args, cleanup)
        from sparkify_local.operate.deployed import DeployedTarget
        from sparkify_local.operate.local import LocalTarget

        if isinstance(target, LocalTarget):
            source = local_source(target.pipeline.stack)
        else:
            assert isinstance(target, DeployedTarget)  # the two kinds _open_target returns
            source = deployed_source(target)
        try:
            watch(source, out, since, args.watch, opened=args.open, report=print)
        except OSError as error:
            reason = error.strerror or error
            print(f"sparkify dashboard: cannot write {out}: {reason}", file=sys.stderr)
            return 1
    return 0


def _generate(args: argparse.Namespace) -> int:
    from sparkify_local.generate.writer import generate

    summary = generate(
        args.out_dir,
        events=args.events,
        songs=args.songs,
        seed=args.seed,
        days=args.days,
        progress=sys.stderr.isatty(),
    )
    print(
        f"wrote {summary.song_files} song files and {summary.log_files} log files "
        f"({summary.events} events, {summary.next_song_events} plays, "
        f"{summary.matching_plays} matching a song, {summary.users} users) to {args.out_dir}"
    )
    return 0


def _print_table(columns: list[str], rows: list[tuple]) -> None:
    cells = [[("" if value is None else str(value)) for value in row] for row in rows]
    widths = [max([len(name)] + [len(row[i]) for row in cells]) for i, name in enumerate(columns)]
    print(" | ".join(name.ljust(width) for name, width in zip(columns, widths, strict=True)))
    print("-+-".join("-" * width for width in widths))
    for row in cells:
        print(" | ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)))
    print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")


if __name__ == "__main__":
    sys.exit(main())
