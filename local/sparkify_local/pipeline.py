"""The local pipeline: upload to the landing bucket, let notifications drive the real stage
handler, and report what the ledger says about every uploaded file."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sparkify_loader.sqlfiles import (
    IdentifierList,
    render_sql,
    schema_tables,
)
from sparkify_loader.warehouse.postgres import PostgresWarehouse
from sparkify_local.home import Home
from sparkify_local.operate.loads import (
    LedgerRow,
    LoadSummary,
    files_to_upload,
    put_files,
    stage_uploaded,
    summarize,
)
from sparkify_local.operate.local import LocalTarget
from sparkify_local.operate.merges import (
    MergeOutcome,
    StateResult,
    arrival_merges,
    run_merge,
)
from sparkify_local.progress import Progress
from sparkify_local.runtime import processes
from sparkify_local.runtime.alarms import ensure_monitoring
from sparkify_local.runtime.event_source import Batching, DrainStats, SqsEventSource
from sparkify_local.runtime.faults import FaultPlan
from sparkify_local.runtime.function_pool import FunctionPool
from sparkify_local.runtime.processes import Endpoints
from sparkify_local.runtime.resources import (
    STAGE_FUNCTION,
    STAGE_QUEUE,
    LocalResources,
)
from sparkify_local.runtime.telemetry import TelemetryTarget
from sparkify_local.sam.template import queue_wiring

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef


@dataclass
class LocalPipeline:
    """The local stack of one home; closing it stops the function workers it started."""

    home: Home
    endpoints: Endpoints
    stack: LocalResources
    warehouse: PostgresWarehouse
    _pools: dict[str, FunctionPool] = field(default_factory=dict)

    @classmethod
    def start(cls, home: Home) -> LocalPipeline:
        endpoints = processes.ensure_up(home)
        stack = LocalResources(endpoints)
        stack.ensure_resources()
        ensure_monitoring(stack)
        warehouse = PostgresWarehouse(endpoints.warehouse_url, s3=stack.warehouse_s3)
        warehouse.session().apply_schema()
        return cls(home, endpoints, stack, warehouse)

    def __enter__(self) -> LocalPipeline:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def upload(
        self, paths: Iterable[Path], progress: bool = True, events: bool = True
    ) -> dict[str, str]:
        """Put every file into the landing bucket; return key -> etag. ``events=False``: the
        bucket announces none of them (see ``LocalResources.notifications_suspended``)."""
        if not events:
            with self.stack.notifications_suspended():
                return self.upload(paths, progress=progress)
        return put_files(self.target, list(files_to_upload(paths)), progress)

    @property
    def target(self) -> LocalTarget:
        """This stack as the commands' ``StackTarget``."""
        return LocalTarget(self)

    def stage(self, progress: bool = True, merge_on_arrival: bool = False) -> DrainStats:
        """Deliver every queued notification to the real stage handler; with
        ``merge_on_arrival`` it starts merges as deployed (template parameter MergeOnArrival)."""
        queue_url = self.stack.queue_url(STAGE_QUEUE)
        depth = self.stack.queue_depth(STAGE_QUEUE).waiting
        try:
            before = self._files_by_status()
        except Exception:  # the counts are for the eye only; staging goes on without them
            before = None

        def counts() -> dict[str, int]:
            # What the ledger gained so far: files staged (merged since, on arrival, included)
            # and rejected, beside the messages delivered.
            if before is None:
                return {}
            now = self._files_by_status()
            loaded = sum(now[s] - before[s] for s in ("staged", "merged"))
            return {"staged": loaded, "rejected": now["rejected"] - before["rejected"]}

        with Progress("stage", depth, "messages", live=progress, counts=counts) as bar:
            source = SqsEventSource(
                sqs=self.stack.sqs,
                queue_url=queue_url,
                queue_arn=self.stack.queue_arn(STAGE_QUEUE),
                batching=self.stage_batching(),
                pool=self._stage_pool(merge_on_arrival),
                held_messages_folder=self.home.root / "held-messages" / STAGE_QUEUE,
                on_batch_done=bar.update,
            )
            return source.drain()

    def _files_by_status(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for _dataset, status, files, _rows in self.warehouse.session().query(
            render_sql("cli/ledger_by_status.sql")
        ):
            counts[status] += files
        return counts

    def stage_batching(self) -> Batching:
        return Batching.of(self.stack.function(STAGE_FUNCTION))

    def _stage_pool(self, merge_on_arrival: bool) -> FunctionPool:
        # Warm execution environments are kept for the pipeline's lifetime, as Lambda keeps them;
        # one pool per MergeOnArrival value (a stack deployed with that parameter override).
        key = f"{STAGE_FUNCTION}:{merge_on_arrival}"
        if self._pools.get(key) is None:
            wiring = self.stack.function(STAGE_FUNCTION)
            parameters = {"MergeOnArrival": "true" if merge_on_arrival else "false"}
            self._pools[key] = FunctionPool(
                wiring,
                self.stack.function_environment(wiring, parameters),
                self.home.logs / f"{STAGE_FUNCTION}.log",
                concurrency=self.stage_batching().concurrency,
                faults=FaultPlan(self.home),
                telemetry=TelemetryTarget.of(self.stack, STAGE_FUNCTION),
            )
        return self._pools[key]

    def reset(self) -> None:
        """Empty the landing bucket, the queues and every table: a clean local pipeline."""
        s3, sqs = self.stack.s3, self.stack.sqs
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.stack.bucket):
            keys: list[ObjectIdentifierTypeDef] = [
                {"Key": obj["Key"]} for obj in page.get("Contents", [])
            ]
            if keys:
                s3.delete_objects(Bucket=self.stack.bucket, Delete={"Objects": keys})
        dlq = queue_wiring(self.stack.template, STAGE_QUEUE).dead_letter_logical_id
        for queue in filter(None, (STAGE_QUEUE, dlq)):
            queue_url = self.stack.queue_url(queue)
            # PurgeQueue is allowed once a minute (moto enforces it too): receive and delete.
            while messages := sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0
            ).get("Messages", []):
                sqs.delete_message_batch(
                    QueueUrl=queue_url,
                    Entries=[
                        {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                        for index, message in enumerate(messages)
                    ],
                )
        self.warehouse.session().execute(
            render_sql("local/reset_tables.sql", tables=IdentifierList(tuple(schema_tables())))
        )

    def restart_warehouse(self) -> None:
        """Crash and restart the local warehouse (fault tests); our own session reconnects."""
        processes.restart_warehouse(self.home)
        self.warehouse.close()

    def close(self) -> None:
        """Shut the warm function environments and the warehouse session down."""
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
        self.warehouse.close()
        self.stack.close()

    def load(
        self, paths: Iterable[Path], progress: bool | None = None, merge_on_arrival: bool = False
    ) -> LoadSummary:
        show = progress if progress is not None else os.isatty(2)
        uploaded = self.upload(paths, progress=show)
        return self.stage_uploaded(uploaded, progress=show, merge_on_arrival=merge_on_arrival)

    def stage_uploaded(
        self, uploaded: dict[str, str], progress: bool = True, merge_on_arrival: bool = False
    ) -> LoadSummary:
        """Stage what ``upload`` put in the bucket; the summary counts this load's rows."""
        return stage_uploaded(self.target, uploaded, progress, merge_on_arrival)

    def summarize(
        self,
        uploaded: dict[str, str],
        drain: DrainStats,
        ledger_before: dict[tuple[str, str], LedgerRow] | None = None,
    ) -> LoadSummary:
        return summarize(self.target, uploaded, drain, ledger_before)

    def merge(
        self, dry_run: bool = False, on_state: Callable[[str, StateResult], None] | None = None
    ) -> MergeOutcome:
        """Run the merge state machine once (on moto's interpreter) and wait for it."""
        return run_merge(
            self.stack.state_machine(),
            {"dry_run": True} if dry_run else {},
            on_state or (lambda *_: None),
        )

    def arrival_merges(
        self, started_since: datetime, on_state: Callable[[str, StateResult], None] | None = None
    ) -> list[MergeOutcome]:
        """Follow every merge the stage function started on arrival since then to its end."""
        return arrival_merges(
            self.stack.state_machine(), started_since, on_state or (lambda *_: None)
        )
