"""The local stack as a ``StackTarget``: moto's bucket, queues and state machine, the embedded
warehouse, and the real stage handler run by this command over the queue."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sparkify_loader.completeness.landing import Version
from sparkify_loader.completeness.ledger import ledger_versions
from sparkify_local.operate.merges import StateMachine
from sparkify_local.operate.target import QueryResult
from sparkify_local.runtime.event_source import DrainStats
from sparkify_local.runtime.resources import STAGE_QUEUE, QueueDepth
from sparkify_local.sam.template import queue_wiring

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

    from sparkify_local.pipeline import LocalPipeline

LOCAL_ENVIRONMENT = "local"


@dataclass
class LocalTarget:
    pipeline: LocalPipeline

    @property
    def description(self) -> str:
        return f"the local stack (home {self.pipeline.home.root})"

    @property
    def environment(self) -> str:
        return LOCAL_ENVIRONMENT

    @property
    def s3(self) -> S3Client:
        return self.pipeline.stack.s3

    @property
    def bucket(self) -> str:
        return self.pipeline.stack.bucket

    @property
    def sqs(self) -> SQSClient:
        return self.pipeline.stack.sqs

    @property
    def stage_queue_url(self) -> str:
        return self.pipeline.stack.queue_url(STAGE_QUEUE)

    def ledger_versions(self, versions: Sequence[Version]) -> dict[Version, str]:
        return ledger_versions(self.rows, self.bucket, versions)

    def state_machine(self) -> StateMachine:
        return self.pipeline.stack.state_machine()

    def rows(self, statement: str, params: Mapping[str, Any] | None = None) -> list[tuple]:
        return self.pipeline.warehouse.session().query(statement, params)

    def execute(self, statement: str, params: Mapping[str, Any] | None = None) -> int:
        return self.pipeline.warehouse.session().execute(statement, params)  # autocommit

    def query(self, statement: str) -> QueryResult:
        connection = self.pipeline.warehouse.session().connection  # type: ignore[attr-defined]
        with connection.cursor() as cursor:
            cursor.execute(statement)  # the user's own query, run as they typed it
            columns = [column.name for column in cursor.description or []]
            return QueryResult(columns, cursor.fetchall() if cursor.description else [])

    def stage_queue_depth(self) -> QueueDepth:
        return self.pipeline.stack.queue_depth(STAGE_QUEUE)

    def dead_letter_depth(self) -> int:
        stack = self.pipeline.stack
        dlq = queue_wiring(stack.template, STAGE_QUEUE).dead_letter_logical_id
        return stack.queue_depth(dlq).waiting if dlq else 0

    def notifications_suspended(self) -> AbstractContextManager[None]:
        """Objects put meanwhile are announced by nothing (files that predate the loader)."""
        return self.pipeline.stack.notifications_suspended()

    def settle(
        self, versions: Mapping[str, str], progress: bool, merge_on_arrival: bool
    ) -> DrainStats:
        # Lambda is this command: it delivers every queued notification to the real handler.
        return self.pipeline.stage(progress=progress, merge_on_arrival=merge_on_arrival)
