"""Lambda's SQS event source mapping, locally: poll, batch, invoke, delete or retry.

Batches close as Lambda closes them (batch size reached, batching window elapsed) and also when
the queue has nothing more to give, since locally no more files are on their way once the upload
finished. Messages a function reports as failed become visible again after a short delay (Lambda
waits for the visibility timeout); past the queue's maxReceiveCount, SQS moves them to the DLQ.

Messages this process holds go back to the queue at once when it stops holding them without a
verdict (interrupted, a worker died): on AWS the visibility timeout is right, locally nobody
should wait six minutes for it. A process killed outright cannot do that, so the receipt handles
it holds are recorded in the home, and the next drain hands back those of dead processes.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sparkify_local.runtime import interrupts, proc
from sparkify_local.runtime.function_pool import FunctionPool
from sparkify_local.runtime.resources import queue_depth
from sparkify_local.sam.template import FunctionWiring

RETRY_DELAY_S = 1
DRAIN_TIMEOUT_S = 3600
# A received message stays hidden only this long at first, so a command killed before it
# recorded the receipt handle in the home leaves the message hidden for seconds, not for the
# queue's minutes. A message still held after EXTEND_AFTER_S gets the queue's visibility timeout,
# as Lambda's poller gives it (``VisibilityKeeper``). Most batches are settled before that:
# extending every message at once was a third of the event source's SQS requests (issue 14's
# profile), which moto serves on the same cores as the functions.
PROVISIONAL_VISIBILITY_S = 10
EXTEND_AFTER_S = PROVISIONAL_VISIBILITY_S / 2
KEEPER_INTERVAL_S = 0.5
# How long stopping waits for an extension in flight (then the thread is left to end alone).
KEEPER_STOP_S = 5.0
# AWS scales an SQS event source without ScalingConfig.MaximumConcurrency up to the account's
# concurrency limit; locally the machine is the limit.
LOCAL_CONCURRENCY_WHEN_UNBOUNDED = 2
SQS_BATCH_LIMIT = 10


@dataclass(frozen=True)
class Batching:
    """How the event source batches and fans out for one function: the template's values
    (sam.template fills in the AWS defaults), with a local bound for unbounded concurrency."""

    size: int
    window_s: float
    concurrency: int

    @classmethod
    def of(cls, wiring: FunctionWiring) -> Batching:
        if wiring.batch_size is None or wiring.batching_window_seconds is None:
            raise ValueError(f"{wiring.logical_id} has no SQS event")
        return cls(
            size=wiring.batch_size,
            window_s=float(wiring.batching_window_seconds),
            concurrency=wiring.max_concurrency or LOCAL_CONCURRENCY_WHEN_UNBOUNDED,
        )


@dataclass
class DrainStats:
    invocations: int = 0
    messages: int = 0
    failed_messages: int = 0
    function_errors: list[str] = field(default_factory=list)


class HeldMessages:
    """The receipt handles one process holds, in a file of its own under ``folder`` (named by
    pid and start time, so a reused pid is not taken for the process that wrote it)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        me = proc.info(os.getpid())
        self._path = folder / f"{os.getpid()}-{me.start_ticks if me else 0}.json"

    def record(self, receipt_handles: Iterable[str]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = self._path.with_suffix(".partial")
        partial.write_text(json.dumps(list(receipt_handles)))
        partial.replace(self._path)  # atomic: a kill never leaves half a list

    def forget(self) -> None:
        self._path.unlink(missing_ok=True)

    def of_dead_processes(self) -> list[tuple[Path, list[str]]]:
        """Each record whose writer is gone, with the receipt handles it held."""
        records = []
        for path in sorted(self.folder.glob("*.json")):
            pid, _, start_ticks = path.stem.partition("-")
            if proc.is_same_process(int(pid), int(start_ticks)):
                continue
            records.append((path, json.loads(path.read_text())))
        return records


@dataclass
class SqsEventSource:
    sqs: Any
    queue_url: str
    queue_arn: str
    batching: Batching
    pool: FunctionPool
    held_messages_folder: Path
    on_batch_done: Callable[[int], object] = lambda _messages: None
    _held: dict[str, str] = field(default_factory=dict, init=False)  # message id -> receipt
    _keeper: VisibilityKeeper | None = field(default=None, init=False)

    def drain(self) -> DrainStats:
        """Deliver every message to the function until the queue is empty and all settled."""
        record = HeldMessages(self.held_messages_folder)
        self._release_held_by_the_dead(record)
        visibility_timeout = int(
            self.sqs.get_queue_attributes(
                QueueUrl=self.queue_url, AttributeNames=["VisibilityTimeout"]
            )["Attributes"]["VisibilityTimeout"]
        )
        try:
            # Stop signals wait for a checkpoint: a receive is always held and recorded whole,
            # and no lock of the pool's threads is left taken (see runtime.interrupts).
            # The keeper stops before the finally below: it must not extend a message after
            # that hands it back.
            with (
                interrupts.deferred(),
                VisibilityKeeper(
                    lambda handles: self._change_visibility(handles, visibility_timeout)
                ) as self._keeper,
            ):
                stats = self._deliver(record, visibility_timeout)
        finally:
            # Interrupted, or the pool broke: hand back what no function will settle now.
            if self._held and self._release(list(self._held.values())):
                self._held.clear()
            if not self._held:
                record.forget()
        return stats

    def _deliver(self, record: HeldMessages, visibility_timeout: int) -> DrainStats:
        stats = DrainStats()
        in_flight: dict[Future[dict[str, Any]], list[dict[str, Any]]] = {}
        ready: list[dict[str, Any]] = []
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while time.monotonic() < deadline:
            interrupts.checkpoint()
            if len(in_flight) < self.batching.concurrency:
                batch = ready or self._collect_batch(record, visibility_timeout)
                ready = []
                if batch:
                    in_flight[self.pool.invoke(self._event(batch))] = batch
                    stats.invocations += 1
                    stats.messages += len(batch)
                    continue
            elif not ready:
                # Every environment is busy: gather the next batch meanwhile, as Lambda's
                # pollers go on receiving while functions run, so the first environment free
                # gets it at once (receiving 100 messages takes 20 round trips to SQS, as long
                # as a whole 100-song batch takes to stage: issue 14's profile).
                ready = self._collect_batch(record, visibility_timeout)
            if in_flight:
                done, _ = wait(in_flight, timeout=0.2, return_when=FIRST_COMPLETED)
                for future in done:
                    self._settle(future.result(), in_flight.pop(future), stats)
                    record.record(self._held.values())
            elif queue_depth(self.sqs, self.queue_url).empty:
                return stats
            else:
                time.sleep(0.2)  # only messages waiting out a retry delay are left
        raise TimeoutError(f"queue {self.queue_url} did not drain in {DRAIN_TIMEOUT_S}s")

    def _collect_batch(self, record: HeldMessages, visibility_timeout: int) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = []
        opened = time.monotonic()
        while len(batch) < self.batching.size:
            received = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(SQS_BATCH_LIMIT, self.batching.size - len(batch)),
                AttributeNames=["All"],
                WaitTimeSeconds=0,
                VisibilityTimeout=PROVISIONAL_VISIBILITY_S,
            ).get("Messages", [])
            receipts = {m["MessageId"]: m["ReceiptHandle"] for m in received}
            self._held.update(receipts)
            if received:
                record.record(self._held.values())
            assert self._keeper is not None, "messages are received only while draining"
            self._keeper.hold(receipts)
            batch.extend(received)
            if not received or time.monotonic() - opened >= self.batching.window_s:
                break
        return batch

    def _event(self, batch: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "Records": [
                {
                    "messageId": message["MessageId"],
                    "receiptHandle": message["ReceiptHandle"],
                    "body": message["Body"],
                    "attributes": message.get("Attributes", {}),
                    "messageAttributes": {},
                    "md5OfBody": message["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.queue_arn,
                    "awsRegion": "us-east-1",
                }
                for message in batch
            ]
        }

    def _settle(
        self, result: dict[str, Any], batch: list[dict[str, Any]], stats: DrainStats
    ) -> None:
        if "errorType" in result:
            # A function error fails the whole batch, as with Lambda.
            stats.function_errors.append(f"{result['errorType']}: {result['errorMessage']}")
            failed = {message["MessageId"] for message in batch}
        else:
            payload = result.get("payload") or {}
            failed = {item["itemIdentifier"] for item in payload.get("batchItemFailures", [])}
        retried = [message for message in batch if message["MessageId"] in failed]
        stats.failed_messages += len(retried)
        self._change_visibility([message["ReceiptHandle"] for message in retried], RETRY_DELAY_S)
        done = [message for message in batch if message["MessageId"] not in failed]
        for start in range(0, len(done), SQS_BATCH_LIMIT):
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                    for index, message in enumerate(done[start : start + SQS_BATCH_LIMIT])
                ],
            )
        for message in batch:
            self._held.pop(message["MessageId"], None)
        assert self._keeper is not None, "batches are settled only while draining"
        self._keeper.settled([message["MessageId"] for message in batch])
        self.on_batch_done(len(batch))

    def _change_visibility(self, receipt_handles: list[str], seconds: int) -> None:
        for start in range(0, len(receipt_handles), SQS_BATCH_LIMIT):
            self.sqs.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": seconds}
                    for index, handle in enumerate(receipt_handles[start : start + SQS_BATCH_LIMIT])
                ],
            )

    def _release(self, receipt_handles: list[str]) -> bool:
        """Make the messages visible now; False if the queue could not be reached, in which
        case their record stays in the home for the next drain."""
        try:
            # Entries the queue reports as failed were deleted or handed out again meanwhile.
            self._change_visibility(receipt_handles, 0)
        except (BotoCoreError, ClientError):
            return False
        return True

    def _release_held_by_the_dead(self, record: HeldMessages) -> None:
        for path, receipt_handles in record.of_dead_processes():
            if self._release(receipt_handles):
                path.unlink(missing_ok=True)  # two drains of one home may both release it


class VisibilityKeeper:
    """Gives each held message the queue's visibility timeout once it has been held
    EXTEND_AFTER_S, from a thread of its own: the delivery loop also waits on things that can
    take longer (a live progress bar's ledger query queues behind a merge's lock), and a running
    batch's messages must not reappear meanwhile."""

    def __init__(self, extend: Callable[[list[str]], object]) -> None:
        self._extend = extend
        self._lock = threading.Lock()
        self._held: dict[str, tuple[str, float]] = {}  # message id -> (receipt, received at)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqs-visibility", daemon=True)

    def __enter__(self) -> VisibilityKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(KEEPER_STOP_S)

    def hold(self, receipts: dict[str, str]) -> None:
        now = time.monotonic()
        with self._lock:
            self._held.update(
                {message_id: (handle, now) for message_id, handle in receipts.items()}
            )

    def settled(self, message_ids: Iterable[str]) -> None:
        with self._lock:
            for message_id in message_ids:
                self._held.pop(message_id, None)

    def _run(self) -> None:
        while not self._stop.wait(KEEPER_INTERVAL_S):
            due_before = time.monotonic() - EXTEND_AFTER_S
            with self._lock:
                due = {
                    message_id: held
                    for message_id, held in self._held.items()
                    if held[1] <= due_before
                }
                for message_id in due:
                    del self._held[message_id]
            if not due:
                continue
            try:
                self._extend([handle for handle, _ in due.values()])
            except (BotoCoreError, ClientError) as error:
                # The queue did not answer: try again next round (a message it hands out again
                # meanwhile is redelivered, and the ledger skips what is already staged).
                print(f"warning: held messages not extended: {error}", file=sys.stderr)
                with self._lock:
                    self._held.update(due)
