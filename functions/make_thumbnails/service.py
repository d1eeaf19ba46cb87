"""Thumbnails for one stored original: make them, store them, mark the image READY.

Only a PROCESSING image is worked on. The outputs' keys are deterministic, so a retry
overwrites; a refused READY tells us whether the image was deleted meanwhile, and then this step
takes back everything it (or an earlier attempt) left in the media bucket.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from make_thumbnails import imaging
from shoebox import images, keys
from shoebox.errors import TransitionRefused
from shoebox.models import ImageModel, Status
from shoebox.observability import MetricUnit, logger, metrics
from shoebox.pipeline import ObjectCreated

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# An image id's objects never change once written (a retry writes the same bytes).
CACHE_CONTROL = "private, max-age=31536000, immutable"
_GONE = {"NoSuchKey", "404"}
_REPLACED = {"PreconditionFailed", "412"}


# Validation stores the original just before it marks the image PROCESSING, so this step can
# see PENDING for a few milliseconds: wait about that long rather than for SQS's retry (minutes).
PENDING_WAIT_SECONDS = 3.0


class NotYetAccepted(RuntimeError):
    """The original's event overtook validation's move to PROCESSING: retry later."""


@dataclass(frozen=True)
class MakeThumbnails:
    s3: S3Client
    media_bucket: str

    def __call__(self, created: ObjectCreated) -> None:
        image_id = created.image_id
        if created.bucket != self.media_bucket or image_id is None:
            logger.warning("ignoring an object that is no image's original", extra={"bucket": created.bucket})
            return
        image = self._find_past_pending(image_id)
        if image is None or image.status == Status.DELETING:
            logger.info("the image was deleted: removing its media objects")
            self._remove_media(image_id)
            return
        if image.status != Status.PROCESSING:
            # READY: a duplicate or late event. REJECTED/FAILED: final, nothing to add.
            logger.info("nothing to do for this image", extra={"status": image.status})
            return
        data = self._read(created)
        if data is None:
            return
        started = time.perf_counter()
        rendition = imaging.make_thumbnails(data)
        elapsed_ms = (time.perf_counter() - started) * 1000
        variants = {"original": _original_variant(image)}
        for thumbnail in rendition.thumbnails:
            key = keys.thumbnail_key(image_id, thumbnail.size)
            self.s3.put_object(
                Bucket=self.media_bucket,
                Key=key,
                Body=thumbnail.data,
                ContentType=thumbnail.content_type,
                CacheControl=CACHE_CONTROL,
            )
            variants[str(thumbnail.size)] = {
                "width": thumbnail.width,
                "height": thumbnail.height,
                "content_type": thumbnail.content_type,
                "key": key,
            }
        try:
            images.mark_ready(image_id, variants)
        except TransitionRefused:
            current = images.find(image_id)
            if current is None or current.status == Status.DELETING:
                logger.info("the image was deleted during thumbnailing: removing its media objects")
                self._remove_media(image_id)
            else:
                logger.info("already done (a duplicate event)", extra={"status": current.status})
            return
        logger.info("image ready", extra={"variants": sorted(variants), "thumbnail_ms": round(elapsed_ms)})
        metrics.add_metric(name="ImagesReady", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="ThumbnailMilliseconds", unit=MetricUnit.Milliseconds, value=elapsed_ms)

    def _find_past_pending(self, image_id: str) -> ImageModel | None:
        image = images.find(image_id)
        delay, deadline = 0.05, time.monotonic() + PENDING_WAIT_SECONDS
        while image is not None and image.status == Status.PENDING:
            if time.monotonic() + delay > deadline:
                raise NotYetAccepted(f"image {image_id} is still PENDING although its original is stored")
            time.sleep(delay)
            delay *= 2
            image = images.find(image_id)
        return image

    def _read(self, created: ObjectCreated) -> bytes | None:
        """The original of the event (If-Match on its ETag), or None when it was replaced (the
        new version has its own event) or deleted along with its image."""
        try:
            if created.etag:
                response = self.s3.get_object(Bucket=created.bucket, Key=created.key, IfMatch=created.etag)
            else:
                response = self.s3.get_object(Bucket=created.bucket, Key=created.key)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in _REPLACED:
                logger.info("the original was replaced since this event: its own event follows")
                return None
            if code in _GONE:
                current = images.find(created.image_id or "")
                if current is None or current.status == Status.DELETING:
                    logger.info("the original was deleted with its image: nothing to do")
                    return None
                # A PROCESSING image without its original must not stay PROCESSING: let the
                # retries run out and mark it FAILED.
            raise
        with response["Body"] as body:
            return body.read()

    def _remove_media(self, image_id: str) -> None:
        # Deterministic keys: no listing needed, and deleting a missing key is not an error.
        for key in images.object_keys(image_id)["media"]:
            self.s3.delete_object(Bucket=self.media_bucket, Key=key)


def _original_variant(image: ImageModel) -> dict[str, Any]:
    return {
        "width": int(image.width or 0),
        "height": int(image.height or 0),
        "content_type": image.stored_content_type or image.content_type,
        "key": keys.original_key(image.id),
    }
