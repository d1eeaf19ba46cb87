"""What the two S3 → SQS → Lambda steps share: S3 records out of an SQS batch, partial batch
failures, and the rule that a message failing on its last receive marks its image FAILED.

A step is a callable taking one `ObjectCreated`. Returning is success (including "nothing to
do"); raising fails only that SQS message, which SQS redelivers until MaxReceiveCount sends it to
the dead-letter queue (DESIGN decision 1).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from shoebox import keys, records
from shoebox.errors import TransitionRefused
from shoebox.observability import MetricUnit, logger, metrics

# What a FAILED image tells its owner; the details are in the logs and the dead-letter queue.
FAILED_CODE = "INTERNAL_ERROR"
FAILED_MESSAGE = "processing failed repeatedly; the upload could not be processed"


@dataclass(frozen=True)
class ObjectCreated:
    """One `s3:ObjectCreated:*` record: the key URL-decoded, the image id parsed from it."""

    bucket: str
    key: str
    size: int
    etag: str
    event_name: str
    image_id: str | None  # None for a key that belongs to no image (a stray object)


Step = Callable[[ObjectCreated], None]


def object_created_records(body: str, prefix: str) -> list[ObjectCreated]:
    """The ObjectCreated records in an SQS message body holding an S3 notification.

    S3 sends an `s3:TestEvent` (no `Records`) when a notification is configured: it has nothing
    to process. A body that is no S3 notification at all raises, so it ends in the DLQ to be seen.
    """
    notification = json.loads(body)
    if notification.get("Event") == "s3:TestEvent":
        logger.info("skipping an s3:TestEvent", extra={"bucket": notification.get("Bucket")})
        return []
    if "Records" not in notification:
        raise ValueError("the message is not an S3 event notification")
    found = []
    for record in S3Event(notification).records:
        if not record.event_name.startswith("ObjectCreated:"):
            logger.warning(
                "skipping an S3 event that is not ObjectCreated", extra={"event": record.event_name}
            )
            continue
        s3_object = record.s3.get_object
        key = keys.event_key(s3_object.key)
        found.append(
            ObjectCreated(
                bucket=record.s3.bucket.name,
                key=key,
                size=s3_object.size,
                etag=s3_object.etag,
                event_name=record.event_name,
                image_id=keys.image_id_from_key(key, prefix),
            )
        )
    return found


def receive_count(record: SQSRecord) -> int:
    return int(record.attributes.get("ApproximateReceiveCount") or 1)


def handle_message(record: SQSRecord, step: Step, *, prefix: str, max_receive_count: int) -> None:
    """Run `step` on each S3 record of one SQS message; on the message's last allowed receive,
    a failure also marks the image FAILED (and still fails the message, so it reaches the DLQ)."""
    count = receive_count(record)
    last = count >= max_receive_count
    for created in object_created_records(record.body, prefix):
        with logger.append_context_keys(image_id=created.image_id, key=created.key):
            try:
                step(created)
            except Exception:
                logger.exception(
                    "processing failed on the last receive: the message goes to the dead-letter queue"
                    if last
                    else "processing failed: SQS will deliver the message again",
                    extra={"receive_count": count, "max_receive_count": max_receive_count},
                )
                if last and created.image_id is not None:
                    give_up(created.image_id)
                raise


def give_up(image_id: str) -> None:
    """Mark the image FAILED, unless it already reached a final state or was deleted. Never
    raises: the caller is already reporting a failure."""
    try:
        records.mark_failed(image_id, FAILED_CODE, FAILED_MESSAGE)
    except TransitionRefused:
        logger.info("not marked FAILED: the image is already final or deleted")
        return
    except Exception:
        logger.exception("could not mark the image FAILED")
        return
    logger.warning("image marked FAILED")
    metrics.add_metric(name="ImagesFailed", unit=MetricUnit.Count, value=1)


def process_batch(
    event: dict[str, Any],
    context: LambdaContext | None,
    step: Step,
    *,
    prefix: str,
    max_receive_count: int,
) -> PartialItemFailureResponse:
    """Process an SQS batch, answering with the failed messages (ReportBatchItemFailures).

    When every message failed, Powertools raises instead (BatchProcessingError): the invocation
    is then an error, which SQS retries the same way, and which shows in the function's Errors
    alarm and makes the event source mapping back off during an outage.
    """
    processor = BatchProcessor(event_type=EventType.SQS)

    def record_handler(record: SQSRecord) -> None:
        handle_message(record, step, prefix=prefix, max_receive_count=max_receive_count)

    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
