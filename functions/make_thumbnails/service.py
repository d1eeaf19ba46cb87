"""Thumbnails for one stored original: the one full decode, the variants, then READY.

An original exists only once validation claimed its image (PROCESSING comes first, DESIGN
decision 8), so this step works on PROCESSING images and never waits for one. Outputs have
deterministic keys, so a retry overwrites. An original that does not decode is the upload's
fault, not an internal error: REJECTED CORRUPT_IMAGE at once, never retried into FAILED.
Whenever this step finds the image where it keeps no objects (deleted, REJECTED, FAILED) —
before its writes, or through a refused transition after them — it removes the image's media
objects, the original and every thumbnail.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image as PILImage

from make_thumbnails import imaging, thumbhash
from shoebox import records, variants
from shoebox.errors import TransitionRefused
from shoebox.objects import ObjectGone, ObjectReplaced, ObjectStore
from shoebox.observability import MetricUnit, count_rejection, logger, metrics
from shoebox.pipeline import ObjectCreated
from shoebox.records import ImageRecord, Status
from shoebox.rejections import Rejection
from shoebox.settings import Settings
from shoebox.variants import Variant


@dataclass(frozen=True)
class MakeThumbnails:
    store: ObjectStore
    media_bucket: str
    clock: Callable[[], float]  # monotonic seconds: the ThumbnailMilliseconds metric

    @classmethod
    def from_settings(
        cls, settings: Settings, store: ObjectStore, clock: Callable[[], float] = time.monotonic
    ) -> MakeThumbnails:
        return cls(store=store, media_bucket=settings.media_bucket, clock=clock)

    def __call__(self, created: ObjectCreated) -> None:
        image_id = created.image_id
        if created.bucket != self.media_bucket or image_id is None:
            logger.warning("ignoring an object that is no image's original", extra={"bucket": created.bucket})
            return
        record = records.find(image_id)
        if record is None or records.keeps_no_objects(record):
            status = records.status_of(record)
            logger.info("the image keeps no objects: removing its media", extra={"status": status})
            self.remove_objects(image_id)
            return
        if record.status != Status.PROCESSING:
            # READY: a duplicate or late event. (PENDING cannot be: the claim precedes the original.)
            logger.info("nothing to do for this image", extra={"status": record.status})
            return
        data = self._read(created)
        if data is None:
            return
        started = self.clock()
        try:
            rendition = imaging.make_thumbnails(data)
        except Rejection as rejection:
            self._reject(record, rejection)
            return
        elapsed_ms = (self.clock() - started) * 1000
        made = [record.original_variant()]
        for thumbnail in rendition.thumbnails:
            name = str(thumbnail.size)
            variant = Variant(
                name=name,
                width=thumbnail.width,
                height=thumbnail.height,
                content_type=thumbnail.content_type,
                key=variants.variant_key(image_id, name),
            )
            self.store.put_immutable(self.media_bucket, variant.key, thumbnail.data, variant.content_type)
            made.append(variant)
        try:
            records.mark_ready(
                image_id,
                made,
                record.source_etag,
                placeholder=_placeholder(rendition.preview),
                taken_at=rendition.taken_at,
            )
        except TransitionRefused:
            self._refused(image_id)
            return
        names = sorted(variant.name for variant in made)
        logger.info("image ready", extra={"variants": names, "thumbnail_ms": round(elapsed_ms)})
        metrics.add_metric(name="ImagesReady", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="ThumbnailMilliseconds", unit=MetricUnit.Milliseconds, value=elapsed_ms)

    def claim_of(self, created: ObjectCreated) -> None:
        """Only the claimant writes an original: any failure here is the image's."""
        return

    def remove_objects(self, image_id: str) -> None:
        """Every media object of the image: the original and the thumbnails. Deterministic keys:
        no listing needed, and deleting a missing key is not an error."""
        self.store.delete(self.media_bucket, variants.object_keys(image_id)["media"])

    def _read(self, created: ObjectCreated) -> bytes | None:
        """The original of the event (If-Match on its ETag), or None when it was replaced (the
        new version has its own event) or removed with its image."""
        try:
            return self.store.read(created.bucket, created.key, created.etag).data
        except ObjectReplaced:
            logger.info("the original was replaced since this event: its own event follows")
            return None
        except ObjectGone:
            current = records.find(created.image_id or "")
            if current is not None and current.status == Status.PROCESSING:
                # A PROCESSING image without its original must not stay PROCESSING: let the
                # retries run out and mark it FAILED.
                raise
            logger.info("the original was removed with its image: nothing to do")
            return None

    def _reject(self, record: ImageRecord, rejection: Rejection) -> None:
        """The full decode failed (CORRUPT_IMAGE, or TOO_MANY_PIXELS from the decoder's own
        guard): REJECTED, and the original and any thumbnail go."""
        code = str(rejection.code)
        try:
            records.reject_processing(record.id, record.source_etag, code, rejection.message)
        except TransitionRefused:
            self._refused(record.id)
            return
        logger.info("image rejected by the full decode", extra={"code": code, "reason": rejection.message})
        count_rejection(code)
        self.remove_objects(record.id)

    def _refused(self, image_id: str) -> None:
        """This step's transition was refused: keep the media if the image is READY (a duplicate
        finished first), remove it if the image is deleted, REJECTED or FAILED meanwhile."""
        current = records.find(image_id)
        status = records.status_of(current)
        if records.keeps_no_objects(current):
            logger.info("the image is gone or final meanwhile: removing its media", extra={"status": status})
            self.remove_objects(image_id)
        else:
            logger.info("already done (a duplicate event)", extra={"status": status})


def _placeholder(preview: PILImage.Image) -> str:
    """The ThumbHash of the smallest variant's pixels (no second decode), at most 100 px."""
    small = preview.convert("RGBA")
    small.thumbnail((thumbhash.MAX_SIZE, thumbhash.MAX_SIZE))
    return thumbhash.placeholder(small.width, small.height, small.tobytes())
