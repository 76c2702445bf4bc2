"""Merge on arrival: a stage batch that committed new rows starts the merge state machine.

Debounced through the warehouse (``merge_requests``, at most one row): a batch starts an
execution only when no request is pending, and the merge's lease step clears the request when
it claims what is staged. A run that finds another merge holding the lease waits for it (the
state machine's WaitForLease loop) and keeps the request pending, so a burst of batches during a
merge starts one waiting execution, not one per batch: one merge at a time, at most one waiting.
Both transactions take ``LOCK merge_requests`` first, so a batch staged while a merge decides
"nothing staged" is either claimed by it or starts the next execution: nothing is stranded.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sparkify_loader.observability import logger
from sparkify_loader.sqlfiles import render_sql
from sparkify_loader.warehouse import Session

# How executions started on arrival are named (operators and `sparkify load` find them by it).
EXECUTION_PREFIX = "arrival-"
# The input of an execution started on arrival: wait for a running merge rather than exit.
ARRIVAL_INPUT: dict[str, bool] = {"wait_for_lease": True}
# A request older than this (not confirmed by a waiting run) is treated as lost: the execution
# never started or died before its lease step.
REQUEST_TTL = timedelta(seconds=60)

StartExecution = Callable[..., Any]


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def request_merge(
    session: Session,
    state_machine_arn: str,
    start_execution: StartExecution,
    now: Callable[[], datetime] = utc_now,
) -> str | None:
    """Start a merge execution unless one is pending; return its name, or None."""
    name = f"{EXECUTION_PREFIX}{now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}"
    with session.transaction():
        session.execute(render_sql("merge/request/lock.sql"))
        pending = session.query(render_sql("merge/request/read.sql"))
        if pending and pending[0][0] > now() - REQUEST_TTL:
            logger.info("merge already requested", extra={"execution": pending[0][1]})
            return None
        session.execute(render_sql("merge/request/clear.sql"))
        session.execute(render_sql("merge/request/take.sql"), {"now": now(), "execution": name})
    try:
        start_execution(
            stateMachineArn=state_machine_arn, name=name, input=json.dumps(ARRIVAL_INPUT)
        )
    except (BotoCoreError, ClientError) as error:
        # The rows are staged: the next batch (or the schedule) starts the merge instead.
        logger.warning("could not start the merge", extra={"execution": name, "error": str(error)})
        with session.transaction():
            session.execute(render_sql("merge/request/clear.sql"))
        return None
    logger.info("merge requested", extra={"execution": name})
    return name
