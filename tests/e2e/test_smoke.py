"""``sparkify smoke``, the post-deploy check, as a user runs it: on the local stack and on a
deployed one (the local stack registered as a CloudFormation stack, tests.support.deployed). It
must pass on a working stack, fail on a broken one, and leave no row or file behind either way."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import home_aws, run_cli, warehouse_query
from tests.support.deployed import STACK, create_stack, local_outputs, stack_env, stage_function
from tests.support.raw_files import assert_star_matches_raw

STEPS = ("upload", "staged", "merged", "star schema", "clean-up")
# The star schema holds 6 plays (4 matching its 3 songs by 2 artists) of 3 users at 6 times.
STAR = "songplays 6/6, matched plays 4/4, users 3/3, songs 3/3, artists 2/2, time 6/6"


def _step_lines(stdout: str) -> dict[str, str]:
    return {
        match["step"].strip(): match["verdict"]
        for match in re.finditer(r"^  (?P<verdict>PASS|FAIL)  (?P<step>.{12}) ", stdout, re.M)
    }


def _nothing_left(home: Path) -> None:
    """No reserved id in any table, no smoke key in the ledger or the bucket."""
    reserved = warehouse_query(
        home,
        "SELECT (SELECT COUNT(*) FROM songplays WHERE user_id >= 2000000000)"
        " + (SELECT COUNT(*) FROM users WHERE user_id >= 2000000000)"
        " + (SELECT COUNT(*) FROM songs WHERE song_id LIKE 'SOSMOKE%')"
        " + (SELECT COUNT(*) FROM artists WHERE artist_id LIKE 'ARSMOKE%')"
        " + (SELECT COUNT(*) FROM staging_events WHERE user_id >= 2000000000)"
        " + (SELECT COUNT(*) FROM staging_songs WHERE song_id LIKE 'SOSMOKE%')"
        " + (SELECT COUNT(*) FROM load_ledger WHERE key LIKE '%/smoke-%')"
        " + (SELECT COUNT(*) FROM time WHERE start_time < '2000-01-01')",
    )
    assert reserved == [(0,)]
    s3 = home_aws(home, "s3")
    bucket = s3.list_buckets()["Buckets"][0]["Name"]
    keys = [obj["Key"] for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert not [key for key in keys if "/smoke-" in key]


def _passed(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stdout + result.stderr
    assert _step_lines(result.stdout) == dict.fromkeys(STEPS, "PASS"), result.stdout
    assert STAR in result.stdout
    assert re.search(r"staged .*\[\d+\.\d\d s \(file put -> staged\)\]", result.stdout)
    assert re.search(r"merged .*\[\d+\.\d\d s \(staged -> merged\)\]", result.stdout)
    assert result.stdout.rstrip().endswith("smoke: passed")


@pytest.mark.slow  # a first start, the sample's load, two smoke runs: ~40 s
def test_smoke_passes_on_a_working_stack_and_leaves_its_data_untouched(
    homes: Callable[[str], Path], sample_dir: Path
) -> None:
    # Given a stack holding the real sample
    home = homes("smoke")
    assert run_cli(home, "load", str(sample_dir)).returncode == 0

    # When the smoke test runs on it, locally and then as a deployed stack
    local = run_cli(home, "smoke")
    create_stack(home, STACK, local_outputs(home))
    with stage_function(home):
        deployed = run_cli(home, "smoke", "--stack", STACK, env=stack_env(home))

    # Then each passed every step, with its timings
    _passed(local)
    _passed(deployed)
    assert f"on stack {STACK} (us-east-1)" in deployed.stdout

    # And neither left a row or a file behind: the star schema is the sample's, exactly
    _nothing_left(home)
    assert_star_matches_raw(lambda statement: warehouse_query(home, statement), [sample_dir])


@pytest.mark.slow  # a first start, a smoke run whose merges all fail: ~20 s
def test_smoke_fails_on_a_broken_merge_and_still_cleans_up(
    homes: Callable[[str], Path],
) -> None:
    # Given a stack whose merge function dies at every lease
    home = homes("smoke-broken")
    assert run_cli(home, "init").returncode == 0
    fault = {"function": "MergeFunction", "when": "before", "match": {"step": "lease"}}
    (home / "faults.json").write_text(json.dumps([{**fault, "times": 100}]))

    # When the smoke test runs
    result = run_cli(home, "smoke")

    # Then it failed at the merge, said so, and exits 1
    assert result.returncode == 1, result.stdout + result.stderr
    steps = _step_lines(result.stdout)
    assert steps == {"upload": "PASS", "staged": "PASS", "merged": "FAIL", "clean-up": "PASS"}
    assert "0/4 files merged" in result.stdout
    assert result.stdout.rstrip().endswith("smoke: FAILED")

    # And it removed what it had staged
    _nothing_left(home)


def test_smoke_refuses_a_prod_stack_without_force(homes: Callable[[str], Path]) -> None:
    # Given a deployed stack whose environment is prod
    home = homes("smoke-prod")
    assert run_cli(home, "merge").returncode == 0
    create_stack(home, "sparkify-prod", {**local_outputs(home), "Environment": "prod"})

    # When the smoke test is asked to run there without --force
    result = run_cli(home, "smoke", "--stack", "sparkify-prod", env=stack_env(home))

    # Then it refuses in one line, touching nothing
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr == (
        "sparkify smoke: stack sparkify-prod (us-east-1) is a prod stack: the smoke test writes "
        "and then removes rows there; pass --force to run it anyway\n"
    )
    assert warehouse_query(home, "SELECT COUNT(*) FROM load_ledger") == [(0,)]
