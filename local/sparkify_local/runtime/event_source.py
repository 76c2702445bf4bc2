"""Lambda's SQS event source mapping, locally: poll, batch, invoke, delete or retry.

Batches close as Lambda closes them (batch size reached, batching window elapsed) and also when
the queue has nothing more to give, since locally no more files are on their way once the upload
finished. Messages a function reports as failed become visible again after a short delay (Lambda
waits for the visibility timeout); past the queue's maxReceiveCount, SQS moves them to the DLQ.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from typing import Any

from sparkify_local.runtime.function_pool import FunctionPool
from sparkify_local.sam.template import FunctionWiring

RETRY_DELAY_S = 1
DRAIN_TIMEOUT_S = 3600


@dataclass
class DrainStats:
    invocations: int = 0
    messages: int = 0
    failed_messages: int = 0
    function_errors: list[str] = field(default_factory=list)


@dataclass
class SqsEventSource:
    sqs: Any
    queue_url: str
    queue_arn: str
    wiring: FunctionWiring
    pool: FunctionPool
    on_batch_done: Callable[[int], None] = lambda _messages: None

    @property
    def batch_size(self) -> int:
        return self.wiring.batch_size or 10

    @property
    def window_s(self) -> float:
        return float(self.wiring.batching_window_seconds or 0)

    @property
    def concurrency(self) -> int:
        return self.wiring.max_concurrency or 2

    def drain(self) -> DrainStats:
        """Deliver every message to the function until the queue is empty and all settled."""
        stats = DrainStats()
        in_flight: dict[Future[dict[str, Any]], list[dict[str, Any]]] = {}
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while time.monotonic() < deadline:
            if len(in_flight) < self.concurrency:
                batch = self._collect_batch()
                if batch:
                    in_flight[self.pool.invoke(self._event(batch))] = batch
                    stats.invocations += 1
                    stats.messages += len(batch)
                    continue
            if in_flight:
                done, _ = wait(in_flight, timeout=0.2, return_when=FIRST_COMPLETED)
                for future in done:
                    self._settle(future.result(), in_flight.pop(future), stats)
            elif self._queue_is_empty():
                return stats
            else:
                time.sleep(0.2)  # only messages waiting out a retry delay are left
        raise TimeoutError(f"queue {self.queue_url} did not drain in {DRAIN_TIMEOUT_S}s")

    def _collect_batch(self) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = []
        opened = time.monotonic()
        while len(batch) < self.batch_size:
            received = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, self.batch_size - len(batch)),
                AttributeNames=["All"],
                WaitTimeSeconds=0,
            ).get("Messages", [])
            batch.extend(received)
            if not received or time.monotonic() - opened >= self.window_s:
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
        for message in batch:
            if message["MessageId"] in failed:
                stats.failed_messages += 1
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=RETRY_DELAY_S,
                )
        done = [message for message in batch if message["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                    for index, message in enumerate(done[start : start + 10])
                ],
            )
        self.on_batch_done(len(batch))

    def _queue_is_empty(self) -> bool:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return (
            int(attributes["ApproximateNumberOfMessages"]) == 0
            and int(attributes["ApproximateNumberOfMessagesNotVisible"]) == 0
        )
