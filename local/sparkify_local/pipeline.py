"""The local pipeline: upload to the landing bucket, let notifications drive the real stage
handler, and report what the ledger says about every uploaded file."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from tqdm import tqdm

from sparkify_loader.sqlfiles import (
    BoundList,
    IdentifierList,
    bind_chunks,
    render_sql,
    schema_tables,
)
from sparkify_loader.warehouse.postgres import PostgresWarehouse
from sparkify_local.home import Home
from sparkify_local.runtime import interrupts, processes
from sparkify_local.runtime.event_source import Batching, DrainStats, SqsEventSource
from sparkify_local.runtime.faults import FaultPlan
from sparkify_local.runtime.function_pool import FunctionPool
from sparkify_local.runtime.merge_runner import (
    MergeOutcome,
    StateResult,
    arrival_executions,
    follow_execution,
    run_merge,
)
from sparkify_local.runtime.processes import Endpoints
from sparkify_local.runtime.resources import (
    BUCKET_RESOURCE,
    STAGE_FUNCTION,
    STAGE_QUEUE,
    LocalResources,
)
from sparkify_local.sam.template import bucket_notifications, queue_wiring

LANDING_PREFIXES = ("song_data", "log_data")
UPLOAD_THREADS = 16

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef


def landing_key(path: Path, folder: Path | None) -> str:
    """The S3 key a local file lands under.

    A file under a ``song_data``/``log_data`` folder keeps the path from that component on (so a
    single file or a dataset subfolder lands where the pipeline expects it); otherwise a folder's
    files keep their path relative to the folder.
    """
    parts = path.resolve().parts
    anchors = [index for index, part in enumerate(parts) if part in LANDING_PREFIXES]
    if anchors:
        return "/".join(parts[anchors[-1] :])
    if folder is not None:
        return path.resolve().relative_to(folder.resolve()).as_posix()
    return path.name


def files_to_upload(paths: Iterable[Path]) -> Iterator[tuple[Path, str]]:
    for path in paths:
        if path.is_dir():
            for file in sorted(candidate for candidate in path.rglob("*") if candidate.is_file()):
                yield file, landing_key(file, path)
        else:
            yield path, landing_key(path, None)


class LedgerRow(NamedTuple):
    """The latest ledger row of one file version."""

    dataset: str
    status: str
    rows: int | None
    error: str | None
    load_id: str


@dataclass
class LoadSummary:
    uploaded: int = 0
    arrived_as: str = "uploaded"  # or "announced" (backfill)
    statuses: Counter[str] = field(default_factory=Counter)
    rows: Counter[str] = field(default_factory=Counter)  # staged by this load only
    loaded_before: int = 0  # versions an earlier load had put in the ledger already
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # key, status, reason
    skipped: list[tuple[str, str]] = field(default_factory=list)  # key, reason
    not_in_ledger: list[str] = field(default_factory=list)
    dead_letters: int = 0
    drain: DrainStats = field(default_factory=DrainStats)

    @property
    def ok(self) -> bool:
        # A function error that a retry recovered from lost nothing: it is reported, not fatal.
        return not (
            self.statuses["rejected"] or self.skipped or self.not_in_ledger or self.dead_letters
        )

    def render(self) -> str:
        rows = ", ".join(f"{n} {d}" for d, n in sorted(self.rows.items()) if n) or "0"
        if self.loaded_before:
            rows += f" ({self.loaded_before} file(s) were loaded before: not staged again)"
        lines = [
            f"{self.arrived_as} {self.uploaded} file(s); {self.drain.messages} notification(s) in "
            f"{self.drain.invocations} stage invocation(s)",
            "ledger: " + (", ".join(f"{n} {s}" for s, n in sorted(self.statuses.items())) or "-"),
            "rows staged: " + rows,
        ]
        not_loaded = [*self.problems, *((key, "skipped", why) for key, why in self.skipped)]
        if not_loaded:
            lines.append(f"files not loaded ({len(not_loaded)}):")
            lines += [f"  {status}: {key}: {reason}" for key, status, reason in not_loaded]
        if self.not_in_ledger:
            lines.append(f"files with no ledger row ({len(self.not_in_ledger)}):")
            lines += [f"  {key}" for key in self.not_in_ledger]
        if self.dead_letters:
            lines.append(f"dead-letter queue holds {self.dead_letters} message(s)")
        # One line per kind of error: a worker's death fails every batch its pool was running.
        for error, times in Counter(self.drain.function_errors).items():
            repeated = f" ({times} invocations)" if times > 1 else ""
            lines.append(f"stage function error{repeated} (its messages were retried): {error}")
        return "\n".join(lines)


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
        files = list(files_to_upload(paths))

        def put(item: tuple[Path, str]) -> tuple[str, str]:
            path, key = item
            with path.open("rb") as body:
                response = self.stack.s3.put_object(Bucket=self.stack.bucket, Key=key, Body=body)
            return key, response["ETag"].strip('"')

        pool = ThreadPoolExecutor(UPLOAD_THREADS)
        uploaded: dict[str, str] = {}
        try:
            with interrupts.deferred():  # taken between two files (see runtime.interrupts)
                results = pool.map(put, files)
                bar = tqdm(
                    results, total=len(files), desc="upload", unit="file", disable=not progress
                )
                for key, etag in bar:
                    uploaded[key] = etag
                    interrupts.checkpoint()
            return uploaded
        finally:
            # Interrupted: the uploads not started yet are dropped, not waited for.
            pool.shutdown(wait=True, cancel_futures=True)

    def stage(self, progress: bool = True, merge_on_arrival: bool = False) -> DrainStats:
        """Deliver every queued notification to the real stage handler; with
        ``merge_on_arrival`` it starts merges as deployed (template parameter MergeOnArrival)."""
        queue_url = self.stack.queue_url(STAGE_QUEUE)
        depth = self.stack.queue_depth(STAGE_QUEUE).waiting
        with tqdm(total=depth, desc="stage", unit="msg", disable=not progress) as bar:
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
        before = self.ledger_rows(uploaded)
        drain = self.stage(progress=progress, merge_on_arrival=merge_on_arrival)
        return self.summarize(uploaded, drain, before)

    def summarize(
        self,
        uploaded: dict[str, str],
        drain: DrainStats,
        ledger_before: dict[tuple[str, str], LedgerRow] | None = None,
    ) -> LoadSummary:
        """What the ledger says about each uploaded version (key -> etag) after staging.

        Rows count as this load's only where the version's ledger row changed since
        ``ledger_before`` (the ledger as it was before staging).
        """
        summary = LoadSummary(uploaded=len(uploaded), drain=drain)
        ledger = self.ledger_rows(uploaded)
        before = ledger_before or {}
        for key, etag in uploaded.items():
            row = ledger.get((key, etag))
            if row is None:
                if (reason := self.skip_reason(key)) is not None:
                    summary.skipped.append((key, reason))
                else:
                    summary.not_in_ledger.append(key)
                continue
            summary.statuses[row.status] += 1
            if before.get((key, etag)) == row:
                summary.loaded_before += 1
            else:
                summary.rows[row.dataset] += row.rows or 0
            if row.status not in ("staged", "merged"):
                summary.problems.append((key, row.status, row.error or ""))
        summary.dead_letters = self.dead_letter_depth()
        return summary

    def skip_reason(self, key: str) -> str | None:
        """Why the bucket sends no notification for ``key`` (None if it does)."""
        rules = bucket_notifications(self.stack.template, BUCKET_RESOURCE)
        if any(key.startswith(rule.prefix) and key.endswith(rule.suffix) for rule in rules):
            return None
        landing = ", ".join(f"{rule.prefix}*{rule.suffix}" for rule in rules)
        return f"outside the landing prefixes ({landing}): the bucket announces no such file"

    def merge(
        self, dry_run: bool = False, on_state: Callable[[str, StateResult], None] | None = None
    ) -> MergeOutcome:
        """Run the merge state machine once (on moto's interpreter) and wait for it."""
        return run_merge(
            self.stack, {"dry_run": True} if dry_run else {}, on_state or (lambda *_: None)
        )

    def arrival_merges(
        self, started_since: datetime, on_state: Callable[[str, StateResult], None] | None = None
    ) -> list[MergeOutcome]:
        """Follow every merge the stage function started on arrival since then to its end."""
        return [
            follow_execution(self.stack, execution, on_state or (lambda *_: None))
            for execution in arrival_executions(self.stack, started_since)
        ]

    def ledger_rows(self, versions: dict[str, str]) -> dict[tuple[str, str], LedgerRow]:
        found: dict[tuple[str, str], LedgerRow] = {}
        session = self.warehouse.session()
        for keys in bind_chunks(list(versions), 1, other_params=1):
            bound = BoundList("key", keys)
            rows = session.query(
                render_sql("cli/ledger_rows.sql", keys=bound),
                {"bucket": self.stack.bucket, **bound.params},
            )
            # Oldest first: a version's latest row is its current state.
            for key, etag, *rest in rows:
                found[(key, etag)] = LedgerRow(*rest)
        return found

    def dead_letter_depth(self) -> int:
        dlq = queue_wiring(self.stack.template, STAGE_QUEUE).dead_letter_logical_id
        return self.stack.queue_depth(dlq).waiting if dlq else 0

    def query(self, statement: str) -> tuple[list[str], list[tuple]]:
        connection = self.warehouse.session().connection  # type: ignore[attr-defined]
        with connection.cursor() as cursor:
            cursor.execute(statement)  # the user's own query, run as they typed it
            columns = [column.name for column in cursor.description or []]
            return columns, cursor.fetchall() if cursor.description else []

    def status(self) -> str:
        session = self.warehouse.session()
        ledger = session.query(render_sql("cli/ledger_by_status.sql"))
        staged = session.query(render_sql("cli/staging_backlog.sql"))[0]
        queue = self.stack.queue_depth(STAGE_QUEUE)
        lines = ["ledger (dataset, status, files, rows):"]
        lines += [f"  {d:<7} {s:<11} {n:>8} {r:>10}" for d, s, n, r in ledger] or ["  (empty)"]
        lines.append(f"staging backlog: {staged[0]} event rows, {staged[1]} song rows")
        runs = session.query(render_sql("cli/last_merges.sql"))
        lines.append("last merges (newest first):" if runs else "no merge has run yet")
        for merge_id, started, finished, status, files, error in runs:
            took = f"{(finished - started).total_seconds():.1f}s" if finished else "running"
            lines.append(
                f"  {started:%Y-%m-%d %H:%M:%S} {status:<9} {files} files, {took}, {merge_id}"
                + (f"\n    {error[:200]}" if error else "")
            )
        lines.append(
            f"stage queue: {queue.waiting} waiting, {queue.in_flight} in flight; "
            f"dead-letter queue: {self.dead_letter_depth()}"
        )
        return "\n".join(lines)
