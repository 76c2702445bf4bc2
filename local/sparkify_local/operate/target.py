"""What ``backfill`` and ``reconcile`` need from a stack, and nothing more.

The local stack implements it now (``operate.local``); a deployed stack (CloudFormation outputs
for the names, the Redshift Data API for ``ledger_versions``) is the other implementation to come.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

# The one version of an object that a listing shows, as the ledger records it.
Version = tuple[str, str]  # key, etag (without quotes)


@dataclass(frozen=True)
class LandingRule:
    """Keys the bucket announces to the stage queue: S3's prefix and suffix filter."""

    prefix: str
    suffix: str

    def matches(self, key: str) -> bool:
        return key.startswith(self.prefix) and key.endswith(self.suffix)


class StackTarget(Protocol):
    """One stack's landing bucket, stage queue and ledger."""

    @property
    def s3(self) -> S3Client: ...

    @property
    def bucket(self) -> str: ...

    @property
    def sqs(self) -> SQSClient: ...

    @property
    def stage_queue_url(self) -> str: ...

    @property
    def landing_rules(self) -> Sequence[LandingRule]:
        """The bucket's notification filters (the dataset prefixes), as the template has them."""
        ...

    def ledger_versions(self, versions: Sequence[Version]) -> dict[Version, str]:
        """The ledger status of each of these versions that the ledger holds as loaded or being
        loaded (a version recorded missing or superseded is not; the stage would load it)."""
        ...
