"""The scheduled Reconcile function's logic: the completeness proof of ``reconcile``, run inside
the deployed stack on a schedule, re-announcing every unaccounted object to the stage queue.

Its ``Landing`` is the stack itself: the bucket and queue its environment names, the ledger
through its warehouse session. An object announced again and staged since is in the ledger at
the next run; one that stays unaccounted run after run (announced but never staged, or lost
again) is what the FilesUnaccounted alarm reports.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, computed_field

from sparkify_loader.completeness.landing import Version
from sparkify_loader.completeness.ledger import ledger_versions
from sparkify_loader.completeness.reconcile import reconcile
from sparkify_loader.observability import MetricName, logger
from sparkify_loader.warehouse import Warehouse
from sparkify_loader.warehouse.s3 import s3_client

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient


class ReconcileRequest(BaseModel):
    """The schedule's payload (template: the ScheduleV2 event's Input, with EventBridge
    Scheduler's context attributes filled in); a run by hand may send ``{}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    execution_id: str | None = None
    scheduled_time: datetime | None = None


class ReconcileResult(BaseModel):
    """What one run found and did."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    grace_seconds: int
    listed: int
    in_ledger: dict[str, int]  # by ledger status
    in_flight: int
    unaccounted: int
    reannounced: int
    unaccounted_keys: list[str]  # the first few (reconcile.SHOWN_UNACCOUNTED)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def complete(self) -> bool:
        return self.unaccounted == 0


@dataclass
class StackLanding:
    """The stack's landing bucket, stage queue and ledger, seen from inside the stack."""

    bucket: str
    stage_queue_url: str
    warehouse: Warehouse

    @cached_property
    def s3(self) -> S3Client:
        return s3_client()

    @cached_property
    def sqs(self) -> SQSClient:
        # Created on first use, not at import: a cold start needs no region to validate settings.
        return boto3.client("sqs")

    def ledger_versions(self, versions: Sequence[Version]) -> dict[Version, str]:
        # Asked per page: a session idle past its check interval is replaced, as in the stage.
        return ledger_versions(self.warehouse.session().query, self.bucket, versions)


def reconcile_landing(
    landing: StackLanding,
    grace_seconds: int,
    add_metric: Callable[..., None],
    now: datetime | None = None,
) -> ReconcileResult:
    """Reconcile the landing with its ledger, re-announcing what is unaccounted; log and emit
    the counts."""
    report = reconcile(landing, timedelta(seconds=grace_seconds), now, reannounce=True)
    result = ReconcileResult(
        grace_seconds=grace_seconds,
        listed=report.listed,
        in_ledger=dict(sorted(report.in_ledger.items())),
        in_flight=report.in_flight,
        unaccounted=report.unaccounted,
        reannounced=report.reannounced,
        unaccounted_keys=report.unaccounted_keys,
    )
    if result.unaccounted:
        logger.warning(
            "unaccounted objects re-announced to the stage queue",
            extra={
                "unaccounted": result.unaccounted,
                "reannounced": result.reannounced,
                "keys": result.unaccounted_keys,
            },
        )
    logger.info("reconciled the landing bucket with the ledger", extra=result.model_dump())
    emit_metrics(result, add_metric)
    return result


def emit_metrics(result: ReconcileResult, add_metric: Callable[..., None]) -> None:
    """Every count, zeros included: the alarm needs a datapoint per run to tell a complete
    bucket from a run that did not report."""
    counts = {
        MetricName.FILES_LISTED: result.listed,
        MetricName.FILES_IN_FLIGHT: result.in_flight,
        MetricName.FILES_UNACCOUNTED: result.unaccounted,
        MetricName.FILES_REANNOUNCED: result.reannounced,
    }
    for name, value in counts.items():
        add_metric(name=name, unit=MetricUnit.Count, value=value)
