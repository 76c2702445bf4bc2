"""The landing bucket, listed page by page under the dataset prefixes, each page with the
ledger's word on its versions: memory stays flat in the number of objects."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sparkify_loader.completeness.landing import Landing, LandingRule, Version, landing_rules


class PrefixOutsideDatasetsError(ValueError):
    """A ``--prefix`` that no dataset prefix covers: nothing under it is ever loaded."""


@dataclass(frozen=True)
class ListedObject:
    """One object as ListObjectsV2 shows it (its current version)."""

    key: str
    etag: str
    size: int
    last_modified: datetime

    @property
    def version(self) -> Version:
        return (self.key, self.etag)


@dataclass(frozen=True)
class LedgeredObject:
    listed: ListedObject
    ledger_status: str | None  # None: the ledger never saw this version (or never loaded it)


def listing_prefixes(
    rules: Sequence[LandingRule], prefix: str | None
) -> list[tuple[str, LandingRule]]:
    """What to list for each landing rule: its own prefix, or the narrower ``prefix`` inside it.

    Raises PrefixOutsideDatasetsError when ``prefix`` is inside no rule's prefix and covers none.
    """
    if prefix is None:
        return [(rule.prefix, rule) for rule in rules]
    listed = [
        (prefix if prefix.startswith(rule.prefix) else rule.prefix, rule)
        for rule in rules
        if prefix.startswith(rule.prefix) or rule.prefix.startswith(prefix)
    ]
    if not listed:
        landing = ", ".join(rule.prefix for rule in rules)
        raise PrefixOutsideDatasetsError(
            f"prefix {prefix!r} is outside the dataset prefixes ({landing})"
        )
    return listed


def ledgered_pages(
    target: Landing, prefix: str | None = None, since: datetime | None = None
) -> Iterator[list[LedgeredObject]]:
    """Every object the bucket's notification rules cover (under ``prefix``, last modified on or
    after ``since``), one listing page at a time, each with one ledger query for the page."""
    paginator = target.s3.get_paginator("list_objects_v2")
    for list_prefix, rule in listing_prefixes(landing_rules(), prefix):
        for page in paginator.paginate(Bucket=target.bucket, Prefix=list_prefix):
            listed = [
                ListedObject(
                    key=item["Key"],
                    etag=item["ETag"].strip('"'),
                    size=item["Size"],
                    last_modified=item["LastModified"],
                )
                for item in page.get("Contents", [])
                if rule.matches(item["Key"]) and (since is None or item["LastModified"] >= since)
            ]
            if not listed:
                continue
            statuses = target.ledger_versions([obj.version for obj in listed])
            yield [LedgeredObject(obj, statuses.get(obj.version)) for obj in listed]
