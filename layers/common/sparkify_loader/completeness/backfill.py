"""``backfill``: announce every object version the ledger does not hold to the stage queue, as
S3 would have (files that predate the loader, or whose notification was lost).

Written once against ``Landing``. Idempotent: a version already in the ledger is never
announced, and one announced twice is staged once (the stage function skips a version the
ledger holds).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sparkify_loader.completeness.landing import Landing
from sparkify_loader.completeness.listing import ListedObject, ledgered_pages
from sparkify_loader.completeness.notifications import announce_objects


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
    landing: Landing,
    prefix: str | None = None,
    since: datetime | None = None,
    on_page: Callable[[int, Sequence[ListedObject]], None] = lambda _listed, _announced: None,
) -> BackfillSummary:
    """List, compare with the ledger and announce, one listing page at a time; ``on_page`` gets
    each page's count of listed objects and the objects it announced, after the page."""
    summary = BackfillSummary()
    for page in ledgered_pages(landing, prefix, since):
        missing = [entry.listed for entry in page if entry.ledger_status is None]
        summary.announced += announce_objects(landing, missing)
        summary.listed += len(page)
        summary.in_ledger += len(page) - len(missing)
        on_page(len(page), missing)
    return summary
