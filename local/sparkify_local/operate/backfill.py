"""``sparkify backfill``: announce every object version the ledger does not hold to the stage
queue, as S3 would have (files that predate the loader, or whose notification was lost).

Written once against ``StackTarget``: the local stack implements it now, a deployed stack
(CloudFormation outputs, Redshift Data API) is the other implementation to come. Idempotent: a
version already in the ledger is never announced, and one announced twice is staged once (the
stage function skips a version the ledger holds).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from tqdm import tqdm

from sparkify_local.operate.listing import ListedObject, ledgered_pages
from sparkify_local.operate.notifications import announce, object_created_notification
from sparkify_local.operate.target import StackTarget
from sparkify_local.runtime import interrupts


@dataclass
class BackfillSummary:
    listed: int = 0
    in_ledger: int = 0
    announced: int = 0

    def render(self) -> str:
        return (
            f"backfill: listed {self.listed} object(s), {self.in_ledger} already in the ledger, "
            f"announced {self.announced} to the stage queue"
        )


def backfill(
    target: StackTarget,
    prefix: str | None = None,
    since: datetime | None = None,
    progress: bool = False,
    on_announced: Callable[[ListedObject], None] | None = None,
) -> BackfillSummary:
    """List, compare with the ledger and announce, one listing page at a time."""
    summary = BackfillSummary()
    region = target.s3.meta.region_name
    # Announcing drives a thread pool: stop signals are taken between pages (runtime.interrupts).
    with tqdm(desc="backfill", unit="obj", disable=not progress) as bar, interrupts.deferred():
        for page in ledgered_pages(target, prefix, since):
            interrupts.checkpoint()
            missing = [entry.listed for entry in page if entry.ledger_status is None]
            bodies = [object_created_notification(target.bucket, obj, region) for obj in missing]
            summary.announced += announce(target.sqs, target.stage_queue_url, bodies)
            summary.listed += len(page)
            summary.in_ledger += len(page) - len(missing)
            for obj in missing:
                if on_announced is not None:
                    on_announced(obj)
            bar.update(len(page))
    return summary
