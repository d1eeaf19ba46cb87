"""What the two S3 → SQS → Lambda steps share: S3 records out of an SQS batch, partial batch
failures, and the rule that a message failing on its last receive marks its image FAILED and
removes what the step wrote (a FAILED image keeps no objects, SPEC §1).

A step is called with one `ObjectCreated`. Returning is success (including "nothing to do");
raising fails only that SQS message, which SQS redelivers until MaxReceiveCount sends it to the
dead-letter queue (DESIGN decision 1).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from shoebox import aws, keys, records, startup
from shoebox.errors import TransitionRefused
from shoebox.objects import ObjectStore
from shoebox.observability import MetricUnit, logger, metrics, record_processing
from shoebox.settings import Settings, get_settings

# What a FAILED image tells its owner; the details are in the logs and the dead-letter queue.
FAILED_CODE = "INTERNAL_ERROR"
FAILED_MESSAGE = "processing failed repeatedly; the upload could not be processed"
# The ProcessingMilliseconds metric's `step`, by the prefix a step takes its objects from.
STEP_NAMES = {keys.INCOMING_PREFIX: "validate", keys.ORIGINALS_PREFIX: "thumbnails"}


@dataclass(frozen=True)
class ObjectCreated:
    """One `s3:ObjectCreated:*` record: the key URL-decoded, the image id parsed from it."""

    bucket: str
    key: str
    size: int
    etag: str
    event_name: str
    image_id: str | None  # None for a key that belongs to no image (a stray object)
    event_time: datetime | None = None  # when S3 made the object (the record's eventTime)


class Step(Protocol):
    def __call__(self, created: ObjectCreated) -> None:
        """Process one object; return when done or when there is nothing to do."""

    def claim_of(self, created: ObjectCreated) -> str | None:
        """The source ETag the image must be claimed by (if claimed at all) for a failure on
        `created` to fail the image; None when every failure of this step concerns the image.
        Validation answers its object's own ETag: an object that lost the slot and keeps
        failing must not fail the claimant's image."""

    def remove_objects(self, image_id: str) -> None:
        """Delete every object of the image that this step writes or deletes (its own IAM
        grants: each function may delete only under the prefixes it works on)."""


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
                event_time=_event_time(record.event_time),
            )
        )
    return found


def _event_time(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None  # a malformed time costs the metric, not the image


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
                    give_up(created.image_id, step, step.claim_of(created))
                raise
            if created.event_time is not None:
                waited = datetime.now(UTC) - created.event_time
                record_processing(STEP_NAMES.get(prefix, prefix), max(0.0, waited.total_seconds() * 1000))


def give_up(image_id: str, step: Step, source_etag: str | None = None) -> None:
    """Mark the image FAILED (if it is PENDING, or PROCESSING by the claim of `source_etag`
    when given), then remove what `step` wrote for it, unless the image is READY or claimed by
    another object. Never raises: the caller is already reporting a failure.

    The objects go after the mark, so a concurrent writer either sees the image no longer
    PROCESSING when it checks the record after its write (and takes the write back), or wrote
    before this removal. What the other step wrote, it takes back itself when it next sees the
    image not PROCESSING (its own retries, or its own give-up).
    """
    try:
        try:
            records.mark_failed(image_id, FAILED_CODE, FAILED_MESSAGE, source_etag)
        except TransitionRefused:
            current = records.find(image_id)
            if not records.keeps_no_objects(current):
                logger.info("not marked FAILED", extra={"status": records.status_of(current)})
                return
            # FAILED, REJECTED or deleted already: removing its objects again is harmless (an
            # earlier give-up may have been cut short).
            logger.info("not marked FAILED: the image is already final or deleted")
        else:
            logger.warning("image marked FAILED")
            metrics.add_metric(name="ImagesFailed", unit=MetricUnit.Count, value=1)
        step.remove_objects(image_id)
    except Exception:
        logger.exception("giving up did not finish: the image may keep objects until a redrive")


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


SqsHandler = Callable[[dict[str, Any], LambdaContext], PartialItemFailureResponse]


def sqs_handler(make_step: Callable[[Settings, ObjectStore], Step], *, prefix: str) -> SqsHandler:
    """The Lambda entry point of a step function: each invocation builds the step from the
    settings and an S3 store, then processes the batch, with Powertools logging and metrics.
    Called during the function's init, which creates the step's clients in Lambda."""
    startup.prepare((aws.s3, records.connect))

    def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
        settings = get_settings()
        return process_batch(
            event,
            context,
            make_step(settings, ObjectStore(aws.s3())),
            prefix=prefix,
            max_receive_count=settings.max_receive_count,
        )

    with_metrics: SqsHandler = metrics.log_metrics(handler)
    logged: SqsHandler = logger.inject_lambda_context(with_metrics, clear_state=True)
    return logged
