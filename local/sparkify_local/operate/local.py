"""The local stack as a ``StackTarget``: moto's bucket and stage queue, the embedded warehouse's
ledger."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sparkify_local.operate.target import LandingRule, Version
from sparkify_local.runtime.resources import BUCKET_RESOURCE, STAGE_QUEUE
from sparkify_local.sam.template import bucket_notifications

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

    from sparkify_local.pipeline import LocalPipeline


def template_landing_rules(template: Mapping[str, Any]) -> list[LandingRule]:
    """The landing bucket's notification filters, from template.yaml (as deployed)."""
    return [
        LandingRule(rule.prefix, rule.suffix)
        for rule in bucket_notifications(template, BUCKET_RESOURCE)
    ]


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

    @cached_property
    def landing_rules(self) -> Sequence[LandingRule]:
        return template_landing_rules(self.pipeline.stack.template)

    def ledger_versions(self, versions: Sequence[Version]) -> dict[Version, str]:
        return self.pipeline.ledger_versions(versions)
