"""Every merge transaction locks the ledger, then the lease, before it reads anything: under both
isolation levels Redshift runs (SNAPSHOT: PostgreSQL's REPEATABLE READ; SERIALIZABLE), a step
that waited for a stage batch judges the lease by what committed while it waited, and never
holds the lease while it waits for the ledger (the lease takes them the other way round).

Two merges, each with its own connection (two Lambda environments): A holds a lease that B's
clock sees expired. A stage batch holds the ledger while B's lease and then A's next step queue
behind it; the batch commits a new file and lets go.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from sparkify_loader.config import MergeSettings
from sparkify_loader.merge import LeaseLostError, Merge, utc_now
from sparkify_loader.merge_steps import CaughtError, FailureResult, LeaseResult
from sparkify_loader.sqlfiles import render_sql
from sparkify_loader.warehouse.postgres import Isolation, PostgresWarehouse
from sparkify_local.pipeline import LocalPipeline
from tests.support.documents import event, lines, write
from tests.support.locks import WAIT_S, wait_until_blocked

SETTINGS = MergeSettings(warehouse_engine="postgres", warehouse_url="unused")
LEASE = timedelta(seconds=SETTINGS.merge_lease_seconds)
# A file a stage batch records while the merges wait (its staging rows do not matter here).
STAGED_MEANWHILE = (
    "INSERT INTO load_ledger (bucket, key, etag, dataset, status, rows, load_id, file_no,"
    " staged_at) VALUES ('b', 'log_data/late.json', 'e', 'events', 'staged', 0, 'late', 0,"
    " %(now)s)"
)


@pytest.fixture(params=["snapshot", "serializable"])
def merges(
    pipeline: LocalPipeline, request: pytest.FixtureRequest
) -> Iterator[Callable[[Callable[[], datetime]], Merge]]:
    """Merges at one isolation level, each on its own connection, with its own clock."""
    isolation: Isolation = request.param
    warehouses: list[PostgresWarehouse] = []

    def merge(clock: Callable[[], datetime]) -> Merge:
        warehouse = PostgresWarehouse(
            pipeline.endpoints.warehouse_url, s3=pipeline.stack.warehouse_s3, isolation=isolation
        )
        warehouses.append(warehouse)
        return Merge(warehouse.session(), SETTINGS, clock)

    yield merge
    for warehouse in warehouses:
        warehouse.close()


STEPS: dict[str, Callable[[Merge, str], object]] = {
    "write": lambda merge, merge_id: merge.write("users", merge_id),
    "audit": lambda merge, merge_id: merge.audit(merge_id),
    "publish": lambda merge, merge_id: merge.publish(merge_id),
    "fail": lambda merge, merge_id: merge.fail(merge_id, CaughtError(Error="Injected")),
}


@pytest.mark.parametrize("step", sorted(STEPS))
def test_a_step_waiting_for_a_stage_batch_sees_the_lease_taken_meanwhile(
    pipeline: LocalPipeline,
    merges: Callable[[Callable[[], datetime]], Merge],
    tmp_path: Path,
    step: str,
) -> None:
    # Given merge A holding the lease on a staged file, and merge B whose clock is past its end
    write(tmp_path / "log_data" / "day.json", lines(event()))
    assert pipeline.load([tmp_path], progress=False).ok
    started = utc_now()
    merge_a = merges(lambda: started)
    merge_b = merges(lambda: started + LEASE + timedelta(seconds=1))
    merge_id = merge_a.lease().merge_id
    assert merge_id is not None

    # When a stage batch holds the ledger while B's lease, then A's step queue behind it, and
    # the batch commits one more file
    with psycopg.connect(pipeline.endpoints.warehouse_url, autocommit=True) as stage:
        stage.execute("BEGIN")
        stage.execute(render_sql("stage/lock_ledger.sql"))
        stage.execute(STAGED_MEANWHILE, {"now": started})
        with ThreadPoolExecutor(2) as pool:
            lease_b = pool.submit(merge_b.lease)
            wait_until_blocked(stage, backends=1)
            step_a = pool.submit(STEPS[step], merge_a, merge_id)
            wait_until_blocked(stage, backends=2)
            stage.execute("COMMIT")

            # Then B takes over A's expired lease and claims both files, the one the batch
            # committed while B waited included; no deadlock, no conflict
            taken = lease_b.result(timeout=WAIT_S)
            assert isinstance(taken, LeaseResult)
            assert (taken.acquired, taken.files) == (True, 2)

            # And A's step, judging the lease after the wait, stops without touching B's lease
            # (a failure it records is its own)
            if step == "fail":
                assert isinstance(step_a.result(timeout=WAIT_S), FailureResult)
            else:
                with pytest.raises(LeaseLostError):
                    step_a.result(timeout=WAIT_S)
    session = pipeline.warehouse.session()
    assert session.query("SELECT merge_id FROM merge_lease") == [(taken.merge_id,)]
    assert session.query("SELECT DISTINCT merge_id, status FROM load_ledger") == [
        (taken.merge_id, "staged")
    ]
    assert session.query("SELECT COUNT(*) FROM work_users")[0][0] == 0
    assert session.query("SELECT status FROM merge_runs ORDER BY started_at") == [
        ("failed" if step == "fail" else "running",),
        ("running",),
    ]


def test_two_merges_starting_at_once_take_one_lease(
    pipeline: LocalPipeline, merges: Callable[[Callable[[], datetime]], Merge], tmp_path: Path
) -> None:
    # Given a staged file, and two merges whose lease transactions are both open at once: they
    # queue behind a stage batch holding the ledger
    write(tmp_path / "log_data" / "day.json", lines(event()))
    assert pipeline.load([tmp_path], progress=False).ok
    both = [merges(utc_now), merges(utc_now)]
    with psycopg.connect(pipeline.endpoints.warehouse_url, autocommit=True) as stage:
        stage.execute("BEGIN")
        stage.execute(render_sql("stage/lock_ledger.sql"))
        with ThreadPoolExecutor(2) as pool:
            leases = [pool.submit(merge.lease) for merge in both]
            wait_until_blocked(stage, backends=2)

            # When the batch lets go
            stage.execute("COMMIT")
            results = [lease.result(timeout=WAIT_S) for lease in leases]

    # Then exactly one merge took the lease and claimed the file; the other says who holds it
    winner, loser = sorted(results, key=lambda result: result.acquired, reverse=True)
    assert (winner.acquired, winner.files) == (True, 1)
    assert not loser.acquired and loser.busy
    assert f"merge {winner.merge_id} holds the lease" in (loser.reason or "")
    session = pipeline.warehouse.session()
    assert session.query("SELECT merge_id FROM merge_lease") == [(winner.merge_id,)]
    assert session.query("SELECT COUNT(*) FROM merge_runs")[0][0] == 1
