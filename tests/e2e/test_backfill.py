"""``sparkify backfill`` and ``sparkify reconcile`` as a user runs them: files in the bucket that
no event announced (they predate the loader, or their messages were lost) are found, loaded
exactly once and proven complete; bad input gets one line and exit 2."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.cli import home_aws, run_cli, succeeded, warehouse_query
from tests.support.raw_files import RawCounts, assert_star_matches_raw

STAGE_QUEUE_NAME = "sparkify-StageQueue"


@pytest.mark.slow  # a first start, two stage + merge runs: 16-32 s measured on this machine
def test_backfill_loads_a_bucket_filled_before_the_loader(
    homes: Callable[[str], Path], sample_dir: Path, sample_counts: RawCounts
) -> None:
    # Given the real sample in the bucket, put there with no ObjectCreated events
    home = homes("backfill-home")
    files = sample_counts.log_files + sample_counts.song_files
    succeeded(run_cli(home, "load", str(sample_dir), "--without-events"))

    # When reconcile looks with the default grace, the new files may still be on their way
    recent = run_cli(home, "reconcile")
    succeeded(recent)
    assert f"in flight (within the grace period): {files}\n" in recent.stdout

    # When reconcile looks with no grace (nothing can be in flight)
    before = run_cli(home, "reconcile", "--grace", "0")

    # Then every file is unaccounted, and it says so with exit 1
    succeeded(before, 1)
    assert f"reconcile: {files} object(s) under the dataset prefixes" in before.stdout
    assert f"unaccounted: {files}\n" in before.stdout
    assert "in the ledger: 0 (none)" in before.stdout

    # When backfill runs
    backfill = run_cli(home, "backfill")

    # Then it announced every file, staged every row once and merged them
    succeeded(backfill)
    assert (
        f"backfill: listed {files} object(s), 0 already in the ledger, announced {files} "
        "to the stage queue" in backfill.stdout
    )
    assert f"ledger: {files} staged" in backfill.stdout
    assert (
        f"rows staged: {sample_counts.events} events, {sample_counts.song_files} songs"
        in backfill.stdout
    )
    assert_star_matches_raw(lambda statement: warehouse_query(home, statement), [sample_dir])

    # And reconcile now proves the bucket complete
    after = run_cli(home, "reconcile", "--grace", "0")
    succeeded(after)
    assert f"in the ledger: {files} ({files} merged)" in after.stdout
    assert "unaccounted: 0" in after.stdout

    # And a second backfill announces nothing
    again = run_cli(home, "backfill")
    succeeded(again)
    assert f"listed {files} object(s), {files} already in the ledger, announced 0" in again.stdout
    assert warehouse_query(home, "SELECT COUNT(*) FROM load_ledger") == [(files,)]


@pytest.mark.slow  # a first start, two stage + merge runs, five commands more: 19-34 s here
def test_backfill_recovers_files_whose_messages_were_lost(
    homes: Callable[[str], Path], sample_dir: Path, sample_counts: RawCounts
) -> None:
    # Given the sample's songs loaded as usual
    home = homes("lost-events-home")
    today = datetime.now(UTC).date().isoformat()
    succeeded(run_cli(home, "load", str(sample_dir / "song_data")))
    # And its log files put into the bucket (S3 announces each to the stage queue) ...
    s3, sqs = home_aws(home, "s3"), home_aws(home, "sqs")
    log_files = sorted((sample_dir / "log_data").rglob("*.json"))
    for path in log_files:
        key = "log_data/" + path.relative_to(sample_dir / "log_data").as_posix()
        s3.put_object(Bucket="sparkify-landing", Key=key, Body=path.read_bytes())
    # ... whose messages are then lost (deleted from the stage queue before any stage ran)
    queue_url = sqs.get_queue_url(QueueName=STAGE_QUEUE_NAME)["QueueUrl"]
    lost = 0
    while messages := sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
    ).get("Messages", []):
        for message in messages:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            lost += '"ObjectCreated:' in message["Body"]
    assert lost == sample_counts.log_files

    # When reconcile looks
    before = run_cli(home, "reconcile", "--grace", "0")

    # Then exactly the log files are unaccounted, the songs are in the ledger
    succeeded(before, 1)
    songs = sample_counts.song_files
    assert f"in the ledger: {songs} ({songs} merged)" in before.stdout
    assert f"unaccounted: {sample_counts.log_files}\n" in before.stdout
    assert all(
        line.strip().startswith("log_data/")
        for line in before.stdout.splitlines()
        if line.startswith("    ") and "more" not in line
    )

    # When backfill runs for objects newer than the files, then for the songs only
    future = run_cli(home, "backfill", "--since", "2999-01-01")
    song_prefix = run_cli(home, "backfill", "--prefix", "song_data/")

    # Then neither announces anything
    succeeded(future)
    assert "backfill: listed 0 object(s), 0 already in the ledger, announced 0" in future.stdout
    succeeded(song_prefix)
    assert f"listed {songs} object(s), {songs} already in the ledger, announced 0" in (
        song_prefix.stdout
    )

    # When backfill runs for the log files written today
    backfill = run_cli(home, "backfill", "--prefix", "log_data/", "--since", today)

    # Then it announced the lost files only, and the star schema is the whole sample's
    succeeded(backfill)
    assert (
        f"listed {sample_counts.log_files} object(s), 0 already in the ledger, "
        f"announced {sample_counts.log_files}" in backfill.stdout
    )
    assert f"rows staged: {sample_counts.events} events" in backfill.stdout
    assert_star_matches_raw(lambda statement: warehouse_query(home, statement), [sample_dir])
    after = run_cli(home, "reconcile", "--grace", "0")
    succeeded(after)
    assert "unaccounted: 0" in after.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["backfill", "--since", "last tuesday"],
            "sparkify backfill: --since: not a date (YYYY-MM-DD) or ISO 8601 time: 'last tuesday'",
        ),
        (
            ["backfill", "--since", "2018-13-01"],
            "sparkify backfill: --since: not a date (YYYY-MM-DD) or ISO 8601 time: '2018-13-01'",
        ),
        (
            ["backfill", "--prefix", "exports/"],
            "sparkify backfill: prefix 'exports/' is outside the dataset prefixes "
            "(song_data/, log_data/)",
        ),
        (
            ["reconcile", "--grace", "-5"],
            "sparkify reconcile: --grace: must be 0 or more seconds, not -5",
        ),
    ],
    ids=["since-words", "since-month-13", "prefix-outside", "negative-grace"],
)
def test_bad_input_gets_one_line_and_exit_2(
    homes: Callable[[str], Path], args: list[str], message: str
) -> None:
    # Given a home (bad input is refused before any service starts)
    home = homes("bad-input-home")

    # When a command gets bad input
    result = run_cli(home, *args)

    # Then one clear line on stderr, exit 2, nothing on stdout
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.splitlines() == [message]
    assert result.stdout == ""
