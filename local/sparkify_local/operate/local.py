"""The local stack as a ``Landing``: moto's bucket and stage queue, the embedded warehouse's
ledger."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from sparkify_loader.completeness.landing import LandingRule, Version, landing_rules
from sparkify_loader.completeness.ledger import ledger_versions
from sparkify_local.runtime.resources import STAGE_QUEUE

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

    from sparkify_local.pipeline import LocalPipeline


@dataclass
class LocalTarget:
    pipeline: LocalPipeline

    @property
    def s3(self) -> S3Client:
        return self.pipeline.stack.s3

    @property
    def bucket(self) -> str:
        return self.pipeline.stack.bucket

    @property
    def sqs(self) -> SQSClient:
        return self.pipeline.stack.sqs

    @cached_property
    def stage_queue_url(self) -> str:
        return self.pipeline.stack.queue_url(STAGE_QUEUE)

    @property
    def landing_rules(self) -> Sequence[LandingRule]:
        return landing_rules()

    def ledger_versions(self, versions: Sequence[Version]) -> dict[Version, str]:
        return ledger_versions(self.pipeline.warehouse.session().query, self.bucket, versions)
