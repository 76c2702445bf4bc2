"""Merge on arrival, debounced, with the timing taken out: batches committing in a burst start
one execution; the next starts only once a merge's lease step has claimed the request (or the
request was lost: older than its time to live). On the real local warehouse; StartExecution is
recorded instead of sent, so no execution runs and clears a request at a moment of its own."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sparkify_loader.arrival import EXECUTION_PREFIX, REQUEST_TTL, request_merge
from sparkify_loader.config import MergeSettings
from sparkify_loader.merge import Merge, utc_now
from sparkify_local.pipeline import LocalPipeline

STATE_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:merge"
BURST = 10


class StartedExecutions:
    """Records StartExecution calls and answers as the API does (executionArn, startDate)."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def __call__(self, *, stateMachineArn: str, name: str, input: str) -> dict[str, Any]:
        self.names.append(name)
        arn = stateMachineArn.replace(":stateMachine:", ":execution:")
        return {"executionArn": f"{arn}:{name}", "startDate": utc_now()}


def test_a_burst_of_batches_starts_one_merge_per_claim_of_the_request(
    pipeline: LocalPipeline,
) -> None:
    # Given an empty warehouse and the clock of the batches
    pipeline.reset()
    session = pipeline.warehouse.session()
    started = StartedExecutions()
    clock = [utc_now()]

    def burst() -> list[str | None]:
        return [
            request_merge(session, STATE_MACHINE, started, now=lambda: clock[0])
            for _ in range(BURST)
        ]

    # When a burst of batches commits before any merge runs
    first = burst()

    # Then the first batch starts an execution and the rest find it requested
    assert started.names == [first[0]]
    assert first[0] is not None and first[0].startswith(EXECUTION_PREFIX)
    assert first[1:] == [None] * (BURST - 1)

    # When that execution's lease step claims the request (nothing staged here: it ends there),
    # and another burst follows
    lease = Merge(session, MergeSettings(warehouse_engine="postgres", warehouse_url="unused"))
    assert lease.lease().reason == "nothing staged"
    second = burst()

    # Then that burst starts exactly one more
    assert started.names == [first[0], second[0]]
    assert second[1:] == [None] * (BURST - 1)

    # When the request is never claimed (its execution died before its lease step) and outlives
    # its time to live
    clock[0] += REQUEST_TTL + timedelta(seconds=1)
    third = burst()

    # Then the next burst starts a replacement, once
    assert len(started.names) == 3
    assert started.names[2] == third[0]
    assert third[1:] == [None] * (BURST - 1)
    assert len(set(started.names)) == 3  # each execution has a name of its own
