"""Validation of one uploaded object: check it, store its clean original, move the image on.

Order matters for at-least-once delivery (DESIGN decision 8):
* the record is written before the incoming object is deleted, so a crash in between leaves a
  record that is no longer PENDING and a retry only deletes the leftover object;
* the original is written before the record moves to PROCESSING, so a PROCESSING image always
  has its original, and a refused transition tells us whether to take the original back.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_lambda_powertools.metrics import single_metric

from shoebox import keys, records
from shoebox.errors import TransitionRefused
from shoebox.objects import ObjectGone, ObjectReplaced, ObjectStore
from shoebox.observability import MetricUnit, logger, metrics
from shoebox.pipeline import ObjectCreated
from shoebox.records import ImageRecord, Status
from shoebox.settings import Settings
from validate_upload import rules


@dataclass(frozen=True)
class ValidateUpload:
    store: ObjectStore
    uploads_bucket: str
    media_bucket: str
    limits: rules.Limits

    @classmethod
    def from_settings(cls, settings: Settings, store: ObjectStore) -> ValidateUpload:
        return cls(
            store=store,
            uploads_bucket=settings.uploads_bucket,
            media_bucket=settings.media_bucket,
            limits=rules.Limits(
                max_bytes=settings.max_upload_bytes,
                max_pixels=settings.max_pixels,
                max_frames=settings.max_frames,
            ),
        )

    def __call__(self, created: ObjectCreated) -> None:
        if created.bucket != self.uploads_bucket or not created.key.startswith(keys.INCOMING_PREFIX):
            logger.warning("ignoring an object outside the uploads", extra={"bucket": created.bucket})
            return
        record = records.find(created.image_id) if created.image_id else None
        if record is None or record.status != Status.PENDING:
            # No slot (a stray, expired or deleted upload) or past validation (a duplicate or a
            # second upload to the same slot): the bytes are never processed, only removed.
            logger.info(
                "no PENDING image for this upload: deleting it",
                extra={"status": record.status if record else None},
            )
            self._delete_incoming(created.key)
            return
        try:
            # Before reading a byte: the event says how big the object is.
            rules.check_size(created.size, int(record.size), self.limits)
            data = self._read(created, record)
            if data is None:
                return
            clean = rules.validate(data, record.content_type, int(record.size), self.limits)
        except rules.Rejection as rejection:
            self._reject(record.id, created.key, rejection)
            return
        self._accept(record.id, created, clean)

    def _read(self, created: ObjectCreated, record: ImageRecord) -> bytes | None:
        """The bytes of exactly the object version of the event (If-Match on its ETag), or None
        when that version is gone (a duplicate finished first) or replaced (its event follows)."""

        def check_served_size(size: int) -> None:
            # The event's size is S3's own, but check what is actually served before reading it.
            rules.check_size(size, int(record.size), self.limits)

        try:
            stored = self.store.read(created.bucket, created.key, created.etag, check_size=check_served_size)
        except (ObjectGone, ObjectReplaced):
            logger.info("the uploaded object is gone or was replaced: nothing to do")
            return None
        return stored.data

    def _reject(self, image_id: str, key: str, rejection: rules.Rejection) -> None:
        code = str(rejection.code)
        try:
            records.mark_rejected(image_id, code, rejection.message)
        except TransitionRefused:
            logger.info("rejection not recorded: the image moved on or was deleted")
        else:
            logger.info("upload rejected", extra={"code": code, "reason": rejection.message})
            _count_rejection(code)
        self._delete_incoming(key)

    def _accept(self, image_id: str, created: ObjectCreated, clean: rules.CleanImage) -> None:
        original = keys.original_key(image_id)
        self.store.put_immutable(
            self.media_bucket,
            original,
            clean.data,
            clean.content_type,
            metadata={"image-id": image_id, "sha256": clean.sha256},
        )
        accepted = records.Accepted(
            stored_size=len(clean.data),
            content_type=clean.content_type,
            format=clean.format,
            width=clean.width,
            height=clean.height,
            sha256=clean.sha256,
            source_etag=created.etag,
        )
        try:
            records.mark_processing(image_id, accepted)
        except TransitionRefused:
            current = records.find(image_id)
            if current is None or current.status == Status.DELETING:
                # Deleted while we worked: take back what this step wrote.
                logger.info("the image was deleted during validation: removing its original")
                self.store.delete(self.media_bucket, [original])
            else:
                logger.info("already validated (a duplicate event)", extra={"status": current.status})
        else:
            logger.info(
                "upload accepted",
                extra={"format": clean.format, "width": clean.width, "height": clean.height},
            )
            metrics.add_metric(name="ImagesAccepted", unit=MetricUnit.Count, value=1)
        self._delete_incoming(created.key)

    def _delete_incoming(self, key: str) -> None:
        self.store.delete(self.uploads_bucket, [key])


def _count_rejection(code: str) -> None:
    """ImagesRejected by `code`. Metrics' dimensions apply to a whole flush, and one batch can
    reject for several codes, so each rejection is its own EMF blob."""
    dimensions = {"service": str(metrics.service)} if metrics.service else {}
    with single_metric(
        name="ImagesRejected",
        unit=MetricUnit.Count,
        value=1,
        namespace=metrics.namespace,
        default_dimensions={**dimensions, **metrics.default_dimensions},
    ) as metric:
        metric.add_dimension(name="code", value=code)
