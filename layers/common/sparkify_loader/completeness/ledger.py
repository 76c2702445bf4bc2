"""The ledger's word on listed object versions, read through any way of running a query (a
warehouse session, or the Redshift Data API from a laptop)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sparkify_loader.completeness.landing import Version
from sparkify_loader.sqlfiles import BoundList, bind_chunks, render_sql

# Runs one statement with pyformat parameters and returns its rows.
Query = Callable[[str, Mapping[str, Any]], Sequence[Sequence[Any]]]


def ledger_versions(query: Query, bucket: str, versions: Sequence[Version]) -> dict[Version, str]:
    """The ledger status of each (key, etag) it holds as loaded or being loaded (a version
    recorded missing or superseded was never loaded: the stage would load it)."""
    found: dict[Version, str] = {}
    for chunk in bind_chunks(versions, 2, other_params=1):
        keys = BoundList("key", [key for key, _ in chunk])
        etags = BoundList("etag", [etag for _, etag in chunk])
        rows = query(
            render_sql("cli/ledger_versions.sql", keys=keys, etags=etags),
            {"bucket": bucket, **keys.params, **etags.params},
        )
        wanted = set(chunk)
        # Oldest first: a version's latest row is its current state.
        for key, etag, status in rows:
            if (key, etag) in wanted:  # the IN lists also pair one key with another's etag
                found[(key, etag)] = status
    return found
