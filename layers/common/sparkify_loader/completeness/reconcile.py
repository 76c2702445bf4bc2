"""``sparkify reconcile``: the completeness proof. Every object the bucket's notification rules
cover is in the ledger (counted by status), in flight, or unaccounted.

In flight means not in the ledger yet but last modified within the grace period: S3 announces
an object when it is written, and a notification legitimately waits in the stage queue (or is
retried) for a while; past the grace, a version the ledger does not hold was lost or never
announced, and ``sparkify backfill`` announces it. Which message of a queue holds which key
cannot be read without taking the message from its consumer, so the grace is the test.

With ``reannounce`` (the scheduled Reconcile function) each page's unaccounted objects are
announced to the stage queue as that page is read, so memory stays one page however large the
bucket; an object announced twice is staged once (the stage skips a version the ledger holds).

Written once against ``Landing``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sparkify_loader.completeness.landing import Landing
from sparkify_loader.completeness.listing import ListedObject, ledgered_pages
from sparkify_loader.completeness.notifications import announce_objects

DEFAULT_GRACE_SECONDS = 900
SHOWN_UNACCOUNTED = 20


@dataclass
class ReconcileReport:
    listed: int = 0
    in_ledger: Counter[str] = field(default_factory=Counter)  # by status
    in_flight: int = 0
    unaccounted: int = 0
    unaccounted_keys: list[str] = field(default_factory=list)  # the first SHOWN_UNACCOUNTED
    reannounced: int = 0  # unaccounted objects announced to the stage queue (``reannounce``)

    @property
    def complete(self) -> bool:
        return self.unaccounted == 0

    def render(self) -> str:
        statuses = ", ".join(f"{n} {s}" for s, n in sorted(self.in_ledger.items())) or "none"
        lines = [
            f"reconcile: {self.listed} object(s) under the dataset prefixes",
            f"  in the ledger: {sum(self.in_ledger.values())} ({statuses})",
            f"  in flight (within the grace period): {self.in_flight}",
            f"  unaccounted: {self.unaccounted}",
        ]
        if self.unaccounted:
            more = self.unaccounted - len(self.unaccounted_keys)
            lines += [f"    {key}" for key in self.unaccounted_keys]
            if more:
                lines.append(f"    … and {more} more")
            if self.reannounced:
                lines.append(f"  re-announced to the stage queue: {self.reannounced}")
            else:
                lines.append("  `sparkify backfill` announces them to the stage queue")
        return "\n".join(lines)


def reconcile(
    target: Landing, grace: timedelta, now: datetime | None = None, *, reannounce: bool = False
) -> ReconcileReport:
    """Count every object the notification rules cover; with ``reannounce``, also announce each
    unaccounted one to the stage queue, page by page."""
    report = ReconcileReport()
    in_flight_since = (now or datetime.now(UTC)) - grace
    for page in ledgered_pages(target):
        unaccounted: list[ListedObject] = []
        for entry in page:
            report.listed += 1
            if entry.ledger_status is not None:
                report.in_ledger[entry.ledger_status] += 1
            elif entry.listed.last_modified >= in_flight_since:
                report.in_flight += 1
            else:
                unaccounted.append(entry.listed)
        report.unaccounted += len(unaccounted)
        shown = SHOWN_UNACCOUNTED - len(report.unaccounted_keys)
        report.unaccounted_keys += [obj.key for obj in unaccounted[:shown]]
        if reannounce:
            report.reannounced += announce_objects(target, unaccounted)
    return report
