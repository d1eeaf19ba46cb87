"""Queue workers: what Lambda's SQS event source mapping does, one worker per mapping.

A worker long-polls its queue, gathers up to BatchSize messages (within the batching window),
hands the function the real SQS event, deletes what succeeded and leaves the rest for
redelivery, so the queue's redrive policy moves a message that keeps failing to its DLQ. Like
Lambda's pollers it has several batches in flight at once, one per poller thread: as many as the
function may have execution environments (the mapping's MaximumConcurrency, capped locally).
The pollers beyond the first poll only while the function is at work and for a minute after its
last batch (as Lambda scales its pollers down when the queue stays empty): an idle stack costs
what it did with one poller per queue.

Local differences, on purpose:
* a failed message is made visible again after `retry_delay` seconds (ChangeMessageVisibility)
  instead of waiting out the queue's visibility timeout (360 s here), so a retry, and a redrive
  after maxReceiveCount receives, happen in seconds;
* `s3:TestEvent` messages (sent once when a bucket's notifications are configured) are deleted
  without invoking the function (DESIGN: workers skip it). In AWS the function receives it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from infra.local.processes import Sink
from infra.local.runtime import InvocationError
from infra.local.template import REGION
from infra.local.topology import QueueSource, label

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

POLL_SECONDS = 1  # long-poll wait: short, so that stopping is quick
LINGER_SECONDS = 60  # how long after its last batch a worker keeps all its pollers polling
SQS_MAX_BATCH = 10  # per ReceiveMessage / DeleteMessageBatch call

Invoke = Callable[[str, Any], Any]


def sqs_record(message: MessageTypeDef, source: QueueSource) -> dict[str, Any]:
    """One record of the event Lambda sends for an SQS batch (S3 notifications carry no message
    attributes)."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {},
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": source.queue_arn,
        "awsRegion": REGION,
    }


def is_s3_test_event(body: str) -> bool:
    try:
        parsed = json.loads(body)
    except ValueError:
        return False
    return isinstance(parsed, dict) and parsed.get("Event") == "s3:TestEvent"


def failed_ids(result: Any, message_ids: Sequence[str], source: QueueSource) -> set[str]:
    """Which messages of a successful invocation failed, by Lambda's rules for the response."""
    if not source.report_batch_item_failures or not isinstance(result, dict):
        return set()
    failures = result.get("batchItemFailures")
    if not failures:
        return set()
    found: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in message_ids:
            return set(message_ids)  # an unusable response fails the whole batch
        found.add(identifier)
    return found


class QueueWorker:
    """Feeds one queue to one function, like one SQS event source mapping."""

    def __init__(
        self,
        source: QueueSource,
        sqs: SQSClient,
        invoke: Invoke,
        *,
        retry_delay: int,
        sink: Sink,
        concurrency: int = 1,
    ) -> None:
        """concurrency: batches in flight at once (poller threads)."""
        self.source = source
        self._sqs = sqs  # boto3 clients are thread-safe: the pollers share it
        self._invoke = invoke
        self._retry_delay = retry_delay
        self._sink = sink
        self._stop = threading.Event()
        self._working = threading.Condition()
        self._in_flight = 0  # batches being processed
        self._last_batch_ended = -float("inf")  # time.monotonic()
        self._threads = [
            threading.Thread(
                target=self._run, args=(number,), name=f"worker-{source.function}-{number}", daemon=True
            )
            for number in range(1, concurrency + 1)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def request_stop(self) -> None:
        self._stop.set()
        with self._working:
            self._working.notify_all()

    def join(self) -> None:
        deadline = time.monotonic() + POLL_SECONDS + 5
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def _run(self, number: int) -> None:
        while not self._stop.is_set():
            if number > 1 and not self._function_at_work():
                continue
            try:
                self.poll_once()
            except Exception as exc:
                if self._stop.is_set():
                    return  # the emulator is going away with us
                self._sink.write(label(self.source.function), f"polling its queue failed: {exc!r}")
                self._stop.wait(1)

    def _function_at_work(self) -> bool:
        """Whether a batch is in flight or ended within LINGER_SECONDS, waiting up to a poll for
        one: pollers beyond the first poll only then."""

        def at_work() -> bool:
            return self._in_flight > 0 or time.monotonic() - self._last_batch_ended < LINGER_SECONDS

        with self._working:
            self._working.wait_for(lambda: at_work() or self._stop.is_set(), POLL_SECONDS)
            return at_work() and not self._stop.is_set()

    def _receive(self, wait: int, limit: int) -> list[MessageTypeDef]:
        response = self._sqs.receive_message(
            QueueUrl=self.source.queue_url,
            MaxNumberOfMessages=min(limit, SQS_MAX_BATCH),
            WaitTimeSeconds=wait,
            AttributeNames=["All"],
        )
        return list(response.get("Messages", []))

    def _gather(self) -> list[MessageTypeDef]:
        """Up to BatchSize messages: wait for one, then keep collecting for up to the batching
        window while more are there."""
        messages = self._receive(POLL_SECONDS, self.source.batch_size)
        window_ends = time.monotonic() + self.source.batching_window
        while messages and len(messages) < self.source.batch_size and time.monotonic() < window_ends:
            more = self._receive(0, self.source.batch_size - len(messages))
            if not more:
                break
            messages.extend(more)
        return messages

    def poll_once(self) -> None:
        messages = self._gather()
        if not messages:
            return
        tests = [message for message in messages if is_s3_test_event(message.get("Body", ""))]
        self._delete(tests)
        batch = [message for message in messages if message not in tests]
        if not batch:
            return
        event = {"Records": [sqs_record(message, self.source) for message in batch]}
        ids = [message["MessageId"] for message in batch]
        with self._working:
            self._in_flight += 1
            self._working.notify_all()
        try:
            result = self._invoke(self.source.function, event)
        except InvocationError as exc:
            self._sink.write(label(self.source.function), f"a batch of {len(batch)} failed: {exc}")
            failed = set(ids)
        else:
            failed = failed_ids(result, ids, self.source)
        finally:
            with self._working:
                self._in_flight -= 1
                self._last_batch_ended = time.monotonic()
        self._delete([message for message in batch if message["MessageId"] not in failed])
        self._retry_soon([message for message in batch if message["MessageId"] in failed])

    def _delete(self, messages: Sequence[MessageTypeDef]) -> None:
        if messages:  # at most BatchSize (the template's: 5) messages, within one batch call
            self._sqs.delete_message_batch(
                QueueUrl=self.source.queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": item["ReceiptHandle"]}
                    for index, item in enumerate(messages)
                ],
            )

    def _retry_soon(self, messages: Sequence[MessageTypeDef]) -> None:
        if messages:
            self._sqs.change_message_visibility_batch(
                QueueUrl=self.source.queue_url,
                Entries=[
                    {
                        "Id": str(index),
                        "ReceiptHandle": item["ReceiptHandle"],
                        "VisibilityTimeout": self._retry_delay,
                    }
                    for index, item in enumerate(messages)
                ],
            )
