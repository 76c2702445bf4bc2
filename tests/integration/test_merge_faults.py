"""A merge that dies anywhere and runs again ends in the same tables as an uninterrupted run.

Crashes are injected by the local Lambda dispatcher (faults.json in the home): the step's
handler runs and commits, then its invocation dies before the state machine hears back.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from sparkify_loader.config import MergeSettings
from sparkify_loader.merge import WRITES, AuditFailedError, Merge
from sparkify_loader.merge_steps import FailureResult, LeaseResult
from sparkify_local.pipeline import LocalPipeline
from tests.support.documents import event, lines, write
from tests.support.locks import WAIT_S, wait_until_blocked
from tests.support.stack import assert_converged


def inject(pipeline: LocalPipeline, *faults: dict) -> None:
    (pipeline.home.root / "faults.json").write_text(json.dumps(list(faults)))


@pytest.fixture(autouse=True)
def _no_faults_left(stack: LocalPipeline):
    yield
    (stack.home.root / "faults.json").unlink(missing_ok=True)


STEPS = [
    {"step": "write", "table": "users"},
    {"step": "write", "table": "songs"},
    {"step": "write", "table": "artists"},
    {"step": "write", "table": "songplays"},
    {"step": "audit"},
    {"step": "publish"},
    {"step": "finalize"},
]


@pytest.mark.parametrize("match", STEPS, ids=lambda m: "-".join(m.values()))
def test_merge_killed_after_a_step_converges_when_run_again(
    pipeline: LocalPipeline, sample_dir: Path, sample_reference: dict, match: dict
) -> None:
    # Given the sample staged, and a crash planned right after this step commits
    assert pipeline.load([sample_dir], progress=False).ok
    inject(pipeline, {"function": "MergeFunction", "when": "after", "match": match})

    # When the merge runs (and dies there), then runs again
    crashed = pipeline.merge()
    rerun = pipeline.merge()

    # Then the crashed run failed and released its lease (a finalize failure is not the run's:
    # its batch is published); the rerun ends where a clean run ends
    if match["step"] == "finalize":
        assert crashed.ok, crashed.render()
    else:
        assert crashed.status == "FAILED"
        assert "InjectedFault" in (crashed.error or ""), crashed.render()
    assert rerun.ok, rerun.render()
    assert_converged(pipeline, sample_reference)


def test_merge_killed_after_taking_the_lease_resumes_once_the_lease_expires(
    pipeline: LocalPipeline, sample_dir: Path, sample_reference: dict
) -> None:
    # Given the sample staged, and a crash right after the lease step commits (no Catch runs)
    assert pipeline.load([sample_dir], progress=False).ok
    inject(pipeline, {"function": "MergeFunction", "when": "after", "match": {"step": "lease"}})
    crashed = pipeline.merge()
    assert crashed.status == "FAILED"

    # When another merge runs while the dead run's lease is still valid
    blocked = pipeline.merge()

    # Then it exits as a no-op, naming the holder
    assert blocked.ok
    assert "holds the lease" in (blocked.result("Lease", LeaseResult).reason or "")

    # And once the lease has expired, a merge takes over the dead run's loads and converges
    pipeline.warehouse.session().execute(
        "UPDATE merge_lease SET expires_at = expires_at - INTERVAL '1 day'"
    )
    assert pipeline.merge().ok
    assert_converged(pipeline, sample_reference)


def test_a_lease_whose_reply_was_lost_is_retried_into_the_same_merge(
    pipeline: LocalPipeline, sample_dir: Path, sample_reference: dict
) -> None:
    # Given the sample staged, and the lease step's reply lost once after it committed (a Lambda
    # service error, which the Lease state retries)
    assert pipeline.load([sample_dir], progress=False).ok
    inject(
        pipeline,
        {
            "function": "MergeFunction",
            "when": "after",
            "match": {"step": "lease"},
            "error": "Lambda.ServiceException",
        },
    )

    # When the merge runs
    outcome = pipeline.merge()

    # Then the retry found the lease its own execution took and that merge went on: one run,
    # succeeded, ending where a clean run ends (before, the retry saw the lease held by
    # "another" merge and ended as a no-op, the loads claimed until the lease expired)
    assert outcome.ok, outcome.render()
    lease = outcome.result("Lease", LeaseResult)
    assert lease.acquired
    session = pipeline.warehouse.session()
    assert session.query("SELECT merge_id, status FROM merge_runs") == [
        (lease.merge_id, "succeeded")
    ]
    assert_converged(pipeline, sample_reference)


def test_a_failed_analyze_after_the_lease_neither_fails_the_step_nor_keeps_the_lease(
    pipeline: LocalPipeline, tmp_path: Path
) -> None:
    # Given a staged file, and a session holding the lock ANALYZE needs on staging_events
    write(tmp_path / "log_data" / "day.json", lines(event()))
    assert pipeline.load([tmp_path], progress=False).ok
    merge = Merge(
        pipeline.warehouse.session(),
        MergeSettings(warehouse_engine="postgres", warehouse_url="unused"),
    )
    with psycopg.connect(pipeline.endpoints.warehouse_url, autocommit=True) as holder:
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE staging_events IN SHARE UPDATE EXCLUSIVE MODE")

        # When the lease step's ANALYZE, after the lease committed, fails (cancelled while it
        # waits; on Redshift a missing ANALYZE permission fails it at once). The Lease state
        # has no Catch: a failure there would end the run with the lease held until it expires
        with ThreadPoolExecutor(1) as pool:
            leasing = pool.submit(merge.lease)
            try:
                wait_until_blocked(holder, backends=1)
                # From another session: the holder's transaction keeps its first view of
                # pg_stat_activity
                with psycopg.connect(pipeline.endpoints.warehouse_url, autocommit=True) as probe:
                    cancelled = probe.execute(
                        "SELECT pg_cancel_backend(pid) FROM pg_stat_activity"
                        " WHERE wait_event_type = 'Lock' AND query = 'ANALYZE staging_events'"
                    ).fetchall()
            finally:
                holder.execute("ROLLBACK")
            assert cancelled == [(True,)]
            lease = leasing.result(timeout=WAIT_S)

    # Then the step reports the lease taken, and the merge goes on with the old statistics to
    # publish the file and free the lease
    assert (lease.acquired, lease.files) == (True, 1)
    assert lease.merge_id is not None
    for table in WRITES:
        merge.write(table, lease.merge_id)
    merge.audit(lease.merge_id)
    merge.publish(lease.merge_id)
    session = pipeline.warehouse.session()
    assert session.query("SELECT status FROM load_ledger") == [("merged",)]
    assert session.query("SELECT COUNT(*) FROM songplays")[0][0] == 1
    assert session.query("SELECT COUNT(*) FROM merge_lease")[0][0] == 0


def test_two_executions_at_once_merge_once(
    pipeline: LocalPipeline, sample_dir: Path, sample_reference: dict
) -> None:
    # Given the sample staged
    assert pipeline.load([sample_dir], progress=False).ok

    # When two executions start at the same moment
    outcomes = []
    threads = [threading.Thread(target=lambda: outcomes.append(pipeline.merge())) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then both succeed, exactly one of them merged, and the tables are the clean run's
    assert [outcome.ok for outcome in outcomes] == [True, True]
    merged = [o for o in outcomes if "Publish" in dict(o.states)]
    assert len(merged) == 1
    assert_converged(pipeline, sample_reference)


def test_a_file_landing_during_a_merge_waits_for_the_next_one(
    pipeline: LocalPipeline, sample_dir: Path, sample_reference: dict, tmp_path: Path
) -> None:
    # Given the sample's songs and first two days staged, and a merge that has taken its lease
    days = sorted((sample_dir / "log_data").rglob("*.json"))
    assert pipeline.load([sample_dir / "song_data", *days[:-1]], progress=False).ok
    merge = Merge(
        pipeline.warehouse.session(),
        MergeSettings(warehouse_engine="postgres", warehouse_url="unused"),
    )
    merge_id = merge.lease().merge_id
    assert merge_id is not None

    # When the last day lands and is staged while that merge runs its steps
    assert pipeline.load([days[-1]], progress=False).ok
    for table in WRITES:
        merge.write(table, merge_id)
    merge.audit(merge_id)
    merge.publish(merge_id)
    merge.finalize(merge_id)

    # Then the late file is still staged, untouched by that merge
    late_key = "log_data/" + days[-1].relative_to(sample_dir / "log_data").as_posix()
    session = pipeline.warehouse.session()
    assert session.query(
        "SELECT status, merge_id FROM load_ledger WHERE key = %(k)s", {"k": late_key}
    ) == [("staged", None)]

    # And the next merge takes it, ending in the clean run's tables
    assert pipeline.merge().ok
    assert_converged(pipeline, sample_reference)


CORRUPTIONS = {
    # The staged play's start time, twice in the time dimension.
    "duplicate_time": "INSERT INTO time (start_time, hour) VALUES"
    " (TIMESTAMP '1970-01-01' + INTERVAL '1541121934796 milliseconds', 1)",
    # Another user, twice in the users dimension: the whole dimension is checked.
    "duplicate_users": "INSERT INTO users (user_id, level) VALUES (7, 'free')",
}


@pytest.mark.parametrize("check", sorted(CORRUPTIONS))
def test_a_failed_audit_fails_the_run_publishes_nothing_and_keeps_the_loads(
    pipeline: LocalPipeline, tmp_path: Path, check: str
) -> None:
    # Given a staged play, and a key already twice in a dimension (a corrupted warehouse: keys
    # are not enforced on Redshift)
    event = {
        "artist": "A",
        "auth": "Logged In",
        "firstName": "Ada",
        "gender": "F",
        "itemInSession": 0,
        "lastName": "L",
        "length": 1.0,
        "level": "free",
        "location": "X",
        "method": "PUT",
        "page": "NextSong",
        "registration": 1.0,
        "sessionId": 1,
        "song": "S",
        "status": 200,
        "ts": 1541121934796,
        "userAgent": "UA",
        "userId": "42",
    }
    write(tmp_path / "log_data" / "day.json", json.dumps(event))
    assert pipeline.load([tmp_path], progress=False).ok
    session = pipeline.warehouse.session()
    for _ in range(2):
        session.execute(CORRUPTIONS[check])

    # When the merge runs
    outcome = pipeline.merge()

    # Then it fails naming the check and its row count, the file stays staged for the next run,
    # the lease is free, and nothing was published nor left in the work tables
    assert outcome.status == "FAILED"
    assert "AuditFailedError" in (outcome.error or ""), outcome.render()
    # And the failure is recorded under the exception's name (the quality-failure metric's cue)
    failure = outcome.result("RecordFailure", FailureResult)
    assert failure.error_type == AuditFailedError.__name__
    assert f"{check}=1" in (outcome.error or "")
    assert session.query("SELECT status FROM load_ledger") == [("staged",)]
    assert session.query("SELECT COUNT(*) FROM merge_lease")[0][0] == 0
    assert session.query("SELECT COUNT(*) FROM songplays")[0][0] == 0
    assert session.query("SELECT COUNT(*) FROM work_songplays")[0][0] == 0
    assert session.query(
        "SELECT status, error LIKE %(pattern)s FROM merge_runs", {"pattern": f"%{check}=1%"}
    ) == [("failed", True)]
