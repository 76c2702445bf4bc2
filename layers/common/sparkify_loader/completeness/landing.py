"""What ``backfill`` and ``reconcile`` need from a stack, and nothing more.

Three implementations: the local stack (``sparkify_local.operate.local``), a deployed stack seen
from a laptop (CloudFormation outputs for the names, the Redshift Data API for the ledger:
``sparkify_local.operate.deployed``) and the Reconcile function inside it (its environment and
the warehouse session).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from sparkify_loader.datasets import DATASETS

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


class Landing(Protocol):
    """One stack's landing bucket, stage queue and ledger."""

    @property
    def s3(self) -> S3Client: ...

    @property
    def bucket(self) -> str: ...

    @property
    def sqs(self) -> SQSClient: ...

    @property
    def stage_queue_url(self) -> str: ...

    def ledger_versions(self, versions: Sequence[Version]) -> dict[Version, str]:
        """The ledger status of each of these versions that the ledger holds as loaded or being
        loaded (a version recorded missing or superseded is not; the stage would load it)."""
        ...


# S3 announces only these keys to the stage queue (template.yaml's notification filters, and
# the README's rules for an existing bucket): anything else in the bucket is never loaded.
LANDING_SUFFIX = ".json"


def landing_rules() -> list[LandingRule]:
    """The dataset prefixes, each with the landing suffix."""
    return [LandingRule(dataset.prefix, LANDING_SUFFIX) for dataset in DATASETS]
