"""``sparkify … --stack NAME`` as an operator runs it against a deployed stack: resources from the
CloudFormation stack's outputs, AWS calls with the caller's credentials, SQL through the Redshift
Data API. The stack is the local one, registered in its moto server as a CloudFormation stack
(tests.support.deployed); each command is a real subprocess."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.cli import home_aws, run_cli, succeeded, warehouse_query
from tests.support.deployed import (
    STACK,
    create_stack,
    local_outputs,
    stack_env,
    stage_function,
)
from tests.support.raw_files import RawCounts, assert_star_matches_raw


def _one_line_error(result: subprocess.CompletedProcess[str], code: int, expected: str) -> None:
    succeeded(result, code)
    assert result.stderr.count("\n") == 1, result.stderr  # one line, no traceback
    assert expected in result.stderr, result.stderr


@pytest.fixture(scope="module")
def deployed(
    tmp_path_factory: pytest.TempPathFactory, sample_dir: Path
) -> Iterator[tuple[Path, dict[str, str]]]:
    """A stack holding the merged sample, and the environment of a shell that can reach it."""
    home = tmp_path_factory.mktemp("deployed")
    succeeded(run_cli(home, "load", str(sample_dir)))
    create_stack(home, STACK, local_outputs(home))
    yield home, stack_env(home)
    succeeded(run_cli(home, "down"))


def test_status_sql_and_report_read_the_deployed_warehouse(
    deployed: tuple[Path, dict[str, str]], sample_counts: RawCounts
) -> None:
    home, env = deployed
    files = sample_counts.log_files + sample_counts.song_files

    # When the operator asks for the stack's status
    status = run_cli(home, "status", "--stack", STACK, env=env)

    # Then it names the stack and shows its ledger, backlog, merges and queues
    succeeded(status)
    assert status.stdout.startswith(f"stack {STACK} (us-east-1), environment dev\n")
    local = run_cli(home, "status")
    assert status.stdout.split("\n", 1)[1] in local.stdout  # the same lines as the local view
    (merged,) = warehouse_query(home, "SELECT COUNT(*) FROM load_ledger WHERE status = 'merged'")[0]
    assert merged == files

    # When they query the star schema through the Data API
    plays = run_cli(
        home, "sql", "--stack", STACK, "--csv", "SELECT COUNT(*) AS plays FROM songplays", env=env
    )

    # Then the answer is the warehouse's
    succeeded(plays)
    assert (
        plays.stdout == f"plays\n{warehouse_query(home, 'SELECT COUNT(*) FROM songplays')[0][0]}\n"
    )

    # And the analysts' report reads exactly as it does locally (types decoded alike)
    report = run_cli(home, "report", "--stack", STACK, env=env)
    succeeded(report)
    assert report.stdout == run_cli(home, "report").stdout


def test_merge_runs_the_deployed_state_machine(deployed: tuple[Path, dict[str, str]]) -> None:
    home, env = deployed

    # When a merge runs on the stack with nothing staged
    merge = run_cli(home, "merge", "--stack", STACK, env=env)

    # Then it ran the stack's state machine to the end
    succeeded(merge)
    execution = merge.stdout.strip().splitlines()[-1]
    assert execution.startswith("merge execution merge-") and execution.endswith(": SUCCEEDED")
    executions = home_aws(home, "stepfunctions").list_executions(
        stateMachineArn=local_outputs_arn(home)
    )["executions"]
    assert execution.split()[2].rstrip(":") in {e["name"] for e in executions}


def local_outputs_arn(home: Path) -> str:
    machines = home_aws(home, "stepfunctions").list_state_machines()["stateMachines"]
    return next(m["stateMachineArn"] for m in machines if m["name"] == "sparkify-MergeStateMachine")


def test_a_failing_statement_gives_the_warehouse_error_in_one_line(
    deployed: tuple[Path, dict[str, str]],
) -> None:
    home, env = deployed
    result = run_cli(home, "sql", "--stack", STACK, "SELECT * FROM no_such_table", env=env)
    _one_line_error(result, 1, 'query failed: ERROR: relation "no_such_table" does not exist')


def test_a_statement_that_runs_too_long_is_cancelled(
    deployed: tuple[Path, dict[str, str]],
) -> None:
    home, env = deployed

    # When a statement outlives --statement-timeout
    result = run_cli(
        home, "sql", "--stack", STACK, "--statement-timeout", "1", "SELECT pg_sleep(30)", env=env
    )

    # Then the command ends with one line
    _one_line_error(result, 1, "did not finish within 1 s and was cancelled")
    # And the statement stops running in the warehouse (the cancel takes effect in moments; the
    # statement itself would run 30 s)
    sleeping = (
        "SELECT COUNT(*) FROM pg_stat_activity"
        " WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'"
    )
    deadline = time.monotonic() + 10
    while warehouse_query(home, sleeping) != [(0,)]:
        assert time.monotonic() < deadline, "the cancelled statement still runs"
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("args", "env_change", "expected"),
    [
        (("--stack", "nope"), {}, "no stack named 'nope' in us-east-1"),
        (
            ("--stack", STACK),
            {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None},
            "no AWS credentials found",
        ),
        (("--stack", STACK), {"AWS_DEFAULT_REGION": None}, "no AWS region: pass --region"),
        (("--stack", STACK, "--profile", "ops"), {}, "no AWS profile named 'ops'"),
        (("--stack", "not-sparkify"), {}, "is not a Sparkify loader stack"),
        (("--stack", "being-created"), {}, "is still being created (REVIEW_IN_PROGRESS)"),
    ],
    ids=["unknown", "no-credentials", "no-region", "unknown-profile", "not-sparkify", "creating"],
)
def test_a_stack_that_cannot_be_operated_gets_one_line(
    deployed: tuple[Path, dict[str, str]],
    args: tuple[str, ...],
    env_change: dict[str, str | None],
    expected: str,
) -> None:
    home, env = deployed
    cloudformation = home_aws(home, "cloudformation")
    stacks = {s["StackName"] for s in cloudformation.list_stacks()["StackSummaries"]}
    if "not-sparkify" not in stacks:
        create_stack(home, "not-sparkify", {"WebsiteUrl": "https://example.com"})
    if "being-created" not in stacks:
        cloudformation.create_change_set(
            StackName="being-created",
            ChangeSetName="first",
            ChangeSetType="CREATE",
            TemplateBody=json.dumps({"Resources": {"N": {"Type": "AWS::SNS::Topic"}}}),
        )
    # (run_cli passes none of the test process's own AWS_ variables on.)
    shell = {name: value for name, value in env.items() if name not in env_change}
    shell |= {name: value for name, value in env_change.items() if value is not None}

    result = run_cli(home, "status", *args, env=shell)

    _one_line_error(result, 1, expected)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ("status", "--region", "eu-west-1"),
            "--region, --profile and --statement-timeout go with --stack",
        ),
        (
            ("load", ".", "--stack", STACK, "--without-events"),
            "--without-events is for the local stack only",
        ),
        (
            ("sql", "SELECT 1", "--stack", STACK, "--statement-timeout", "0"),
            "--statement-timeout: must be more than 0",
        ),
    ],
    ids=["region-without-stack", "without-events-on-a-stack", "zero-timeout"],
)
def test_stack_options_misused_get_one_line_and_exit_2(
    deployed: tuple[Path, dict[str, str]], args: tuple[str, ...], expected: str
) -> None:
    home, env = deployed
    _one_line_error(run_cli(home, *args, env=env), 2, expected)


@pytest.mark.slow  # a first start, a backfill through the stack and a stage + merge: ~30 s
def test_backfill_and_reconcile_through_the_deployed_stack(
    homes: Callable[[str], Path], sample_dir: Path, sample_counts: RawCounts
) -> None:
    # Given a deployed stack whose bucket holds the sample, put there before the loader
    home = homes("deployed-backfill")
    files = sample_counts.log_files + sample_counts.song_files
    succeeded(run_cli(home, "load", str(sample_dir), "--without-events"))
    succeeded(run_cli(home, "merge"))  # creates the state machine the stack's outputs name
    create_stack(home, STACK, local_outputs(home))
    env = stack_env(home)

    # When reconcile looks at the stack, with no grace
    before = run_cli(home, "reconcile", "--stack", STACK, "--grace", "0", env=env)

    # Then every file is unaccounted
    succeeded(before, 1)
    assert f"unaccounted: {files}\n" in before.stdout

    # When backfill runs against the stack, while its stage function runs
    with stage_function(home):
        backfill = run_cli(home, "backfill", "--stack", STACK, env=env)
        succeeded(backfill)
        assert f"listed {files} object(s), 0 already in the ledger, announced {files}" in (
            backfill.stdout
        )
        # Then the stack stages and merges them (the function merges on arrival)
        load_done = run_cli(home, "reconcile", "--stack", STACK, "--grace", "0", env=env)
        for _ in range(300):
            if load_done.returncode == 0 and f"({files} merged)" in load_done.stdout:
                break
            load_done = run_cli(home, "reconcile", "--stack", STACK, "--grace", "0", env=env)

    # And reconcile proves the bucket complete, the star schema equals the raw files
    succeeded(load_done)
    assert f"in the ledger: {files} ({files} merged)" in load_done.stdout
    assert_star_matches_raw(lambda statement: warehouse_query(home, statement), [sample_dir])

    # And a second backfill announces nothing
    again = run_cli(home, "backfill", "--stack", STACK, env=env)
    succeeded(again)
    assert f"{files} already in the ledger, announced 0" in again.stdout


@pytest.mark.slow  # a first start, an upload and a stage + merge through the stack: ~30 s
def test_load_through_the_deployed_stack_waits_for_its_stage_function(
    homes: Callable[[str], Path], sample_dir: Path, sample_counts: RawCounts
) -> None:
    # Given a deployed stack with an empty warehouse
    home = homes("deployed-load")
    succeeded(run_cli(home, "merge"))  # starts the stack; creates the state machine
    create_stack(home, STACK, local_outputs(home))

    # When the operator loads the sample into it, while its stage function runs
    with stage_function(home):
        load = run_cli(home, "load", "--stack", STACK, str(sample_dir), env=stack_env(home))

    # Then the command waited for the stack to stage every file, followed its merges, and the
    # star schema equals the raw files
    succeeded(load)
    files = sample_counts.log_files + sample_counts.song_files
    assert f"uploaded {files} file(s); staged by the stack's stage function" in load.stdout
    assert (
        f"rows staged: {sample_counts.events} events, {sample_counts.song_files} songs"
        in load.stdout
    )
    assert ": SUCCEEDED" in load.stdout
    assert_star_matches_raw(lambda statement: warehouse_query(home, statement), [sample_dir])


def test_stack_options_are_checked_before_the_command_runs(homes: Callable[[str], Path]) -> None:
    # Given a home whose services are down (local `status` then starts nothing)
    home = homes("stack-options")

    # When a deployed-stack option comes without --stack
    result = run_cli(home, "status", "--region", "eu-west-1")

    # Then it is refused in one line, exit 2, before the command reports anything
    _one_line_error(result, 2, "--region, --profile and --statement-timeout go with --stack")
    assert result.stdout == ""
