"""Validation of one uploaded object: check it, store its clean original, move the image on.

Order matters for at-least-once delivery (DESIGN decision 8):
* the record is written before the incoming object is deleted, so a crash in between leaves a
  record that is no longer PENDING and a retry only deletes the leftover object;
* the original is written before the record moves to PROCESSING, so a PROCESSING image always
  has its original, and a refused transition tells us whether to take the original back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import single_metric
from botocore.exceptions import ClientError

from shoebox import images, keys
from shoebox.errors import TransitionRefused
from shoebox.models import ImageModel, Status
from shoebox.observability import MetricUnit, logger, metrics
from shoebox.pipeline import ObjectCreated
from shoebox.settings import Settings
from validate_upload import rules

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# An image id's objects never change once written (a retry writes the same bytes).
CACHE_CONTROL = "private, max-age=31536000, immutable"
# The object was deleted, or replaced by a newer upload that has its own event.
_GONE_OR_REPLACED = {"NoSuchKey", "404", "PreconditionFailed", "412"}


@dataclass(frozen=True)
class Validate:
    s3: S3Client
    uploads_bucket: str
    media_bucket: str
    limits: rules.Limits

    @classmethod
    def from_settings(cls, settings: Settings, s3: S3Client) -> Validate:
        return cls(
            s3=s3,
            uploads_bucket=settings.uploads_bucket,
            media_bucket=settings.media_bucket,
            limits=rules.Limits(
                max_bytes=settings.max_upload_bytes,
                max_pixels=settings.max_pixels,
                max_frames=settings.max_frames,
                max_total_pixels=settings.max_total_pixels,
            ),
        )

    def __call__(self, created: ObjectCreated) -> None:
        if created.bucket != self.uploads_bucket or not created.key.startswith(keys.INCOMING_PREFIX):
            logger.warning("ignoring an object outside the uploads", extra={"bucket": created.bucket})
            return
        image = images.find(created.image_id) if created.image_id else None
        if image is None or image.status != Status.PENDING:
            # No slot (a stray, expired or deleted upload) or past validation (a duplicate or a
            # second upload to the same slot): the bytes are never processed, only removed.
            logger.info(
                "no PENDING image for this upload: deleting it",
                extra={"status": image.status if image else None},
            )
            self._delete_incoming(created.key)
            return
        try:
            # Before reading a byte: the event says how big the object is.
            rules.check_size(created.size, int(image.size), self.limits)
            data = self._read(created, image)
            if data is None:
                return
            clean = rules.validate(data, image.content_type, int(image.size), self.limits)
        except rules.Rejection as rejection:
            self._reject(image.id, created.key, rejection)
            return
        self._accept(image.id, created, clean)

    def _read(self, created: ObjectCreated, image: ImageModel) -> bytes | None:
        """The bytes of exactly the object version of the event (If-Match on its ETag), or None
        when that version is gone (a duplicate finished first) or replaced (its event follows)."""
        try:
            if created.etag:
                response = self.s3.get_object(Bucket=created.bucket, Key=created.key, IfMatch=created.etag)
            else:
                response = self.s3.get_object(Bucket=created.bucket, Key=created.key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _GONE_OR_REPLACED:
                logger.info("the uploaded object is gone or was replaced: nothing to do")
                return None
            raise
        with response["Body"] as body:
            # The event's size is S3's own, but check what is actually served before reading it.
            rules.check_size(response["ContentLength"], int(image.size), self.limits)
            return body.read()

    def _reject(self, image_id: str, key: str, rejection: rules.Rejection) -> None:
        code = str(rejection.code)
        try:
            images.mark_rejected(image_id, code, rejection.message)
        except TransitionRefused:
            logger.info("rejection not recorded: the image moved on or was deleted")
        else:
            logger.info("upload rejected", extra={"code": code, "reason": rejection.message})
            _count_rejection(code)
        self._delete_incoming(key)

    def _accept(self, image_id: str, created: ObjectCreated, clean: rules.CleanImage) -> None:
        original = keys.original_key(image_id)
        self.s3.put_object(
            Bucket=self.media_bucket,
            Key=original,
            Body=clean.data,
            ContentType=clean.content_type,
            CacheControl=CACHE_CONTROL,
            Metadata={"image-id": image_id, "sha256": clean.sha256},
        )
        accepted = images.Accepted(
            stored_size=len(clean.data),
            content_type=clean.content_type,
            format=clean.format,
            width=clean.width,
            height=clean.height,
            sha256=clean.sha256,
            source_etag=created.etag,
        )
        try:
            images.mark_processing(image_id, accepted)
        except TransitionRefused:
            current = images.find(image_id)
            if current is None or current.status == Status.DELETING:
                # Deleted while we worked: take back what this step wrote.
                logger.info("the image was deleted during validation: removing its original")
                self.s3.delete_object(Bucket=self.media_bucket, Key=original)
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
        self.s3.delete_object(Bucket=self.uploads_bucket, Key=key)


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
