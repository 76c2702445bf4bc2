"""The ``sparkify`` CLI as a user runs it: a real subprocess per command, in its own session (a
terminal's Ctrl-C or a ``kill`` of its process group reaches it and its children only), state
in SPARKIFY_HOME; and an independent look at /proc for what still runs for a home."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from botocore.exceptions import BotoCoreError, ClientError

COMMAND_TIMEOUT_S = 300
# The CLI must find everything from SPARKIFY_HOME and the template: nothing may leak in from the
# test process (the integration stack points these at its own moto and warehouse).
LEAKY_PREFIXES = ("AWS_", "WAREHOUSE_", "REDSHIFT_", "SPARKIFY_", "POWERTOOLS_")
NUL = b"\0"  # separates the arguments in /proc/PID/cmdline


def _environment(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith(LEAKY_PREFIXES)
    }
    environment["SPARKIFY_HOME"] = str(home)
    environment.update(extra or {})
    return environment


def run_cli(
    home: Path, *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``env``: variables set on top of the clean environment (e.g. a deployed stack's AWS)."""
    return subprocess.run(
        [sys.executable, "-m", "sparkify_local.cli", *args],
        env=_environment(home, env),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )


def succeeded(result: subprocess.CompletedProcess[str], code: int = 0) -> None:
    """The command exited with ``code``; else the failure shows everything it printed."""
    assert result.returncode == code, result.stdout + result.stderr


def start_cli(
    home: Path, *args: str, env: Mapping[str, str] | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "sparkify_local.cli", *args],
        env=_environment(home, env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[str], timeout: float) -> None:
    """Until ``condition`` holds; fails if the process ends first or the time runs out."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"the command ended first: {process.communicate()}"
        assert time.monotonic() < deadline, "the awaited moment never came"
        time.sleep(0.02)


def warehouse_query(home: Path, statement: str) -> list[tuple]:
    """Run a statement on a home's warehouse directly, as any PostgreSQL client can."""
    url = json.loads((home / "services.json").read_text())["warehouse_url"]
    with psycopg.connect(url) as connection:
        cursor = connection.execute(statement)
        return cursor.fetchall() if cursor.description else []


def processes_referencing(home: Path) -> list[str]:
    """Every live process whose command line, environment or working folder names the home."""
    needle = str(home).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
            command = (entry / "cmdline").read_bytes()
            referenced = needle in command or needle in (entry / "environ").read_bytes()
            referenced = referenced or os.readlink(entry / "cwd").startswith(str(home))
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if referenced:
            found.append(f"{entry.name}: {command.replace(NUL, b' ').decode(errors='replace')}")
    return found


def program_count(home: Path, program: str) -> int:
    """How many ``program`` processes (e.g. initdb) work for the home right now."""
    commands = (line.split(": ", 1)[1] for line in processes_referencing(home))
    return sum(1 for command in commands if command and Path(command.split()[0]).name == program)


def program_runs_for(home: Path, program: str) -> bool:
    """Whether a ``program`` process (e.g. initdb) works for the home right now."""
    return program_count(home, program) > 0


def holds_messages(home: Path) -> bool:
    """Whether a drain holds stage messages now (it records their receipt handles in the home)."""
    return any((home / "held-messages" / "StageQueue").glob("*.json"))


def home_aws(home: Path, service: str) -> Any:
    """A client of the home's own moto server (the port its state file records); None while the
    server is not recorded as answering yet."""
    try:
        port = json.loads((home / "services.json").read_text())["moto"]["port"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return None
    return boto3.client(
        service,
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def uploads_files(home: Path) -> bool:
    """Whether an upload is under way: the home's bucket holds objects, and no drain holds stage
    messages yet (call it while the bucket is known to be empty before the upload)."""
    s3 = home_aws(home, "s3")
    if s3 is None or holds_messages(home):
        return False
    try:
        buckets = s3.list_buckets()["Buckets"]
        return any(
            s3.list_objects_v2(Bucket=bucket["Name"], MaxKeys=1)["KeyCount"] for bucket in buckets
        )
    except (BotoCoreError, ClientError):
        return False  # the stack is still being set up


def merge_runs(home: Path, started_since: datetime) -> bool:
    """Whether a merge execution started since then runs on the home's moto (a merge an earlier,
    interrupted command started may still be finishing: it is not this command's)."""
    sfn = home_aws(home, "stepfunctions")
    if sfn is None:
        return False
    try:
        return any(
            execution["startDate"] >= started_since
            for machine in sfn.list_state_machines()["stateMachines"]
            for execution in sfn.list_executions(
                stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING"
            )["executions"]
        )
    except (BotoCoreError, ClientError):
        return False


@pytest.fixture
def homes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Path]]:
    """Fresh SPARKIFY_HOMEs; every one is brought down afterwards, whatever the test did."""
    made: list[Path] = []

    def make(name: str) -> Path:
        home = tmp_path_factory.mktemp(name)
        made.append(home)
        return home

    yield make
    for home in made:
        result = run_cli(home, "down")
        assert result.returncode == 0, result.stderr
