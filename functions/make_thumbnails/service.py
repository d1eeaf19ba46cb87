"""Thumbnails for one stored original: make them, store them, mark the image READY.

Only a PROCESSING image is worked on. The outputs' keys are deterministic, so a retry
overwrites; a refused READY tells us whether the image was deleted meanwhile, and then this step
takes back everything it (or an earlier attempt) left in the media bucket.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from make_thumbnails import imaging
from shoebox import records, variants
from shoebox.errors import TransitionRefused
from shoebox.objects import ObjectGone, ObjectReplaced, ObjectStore
from shoebox.observability import MetricUnit, logger, metrics
from shoebox.pipeline import ObjectCreated
from shoebox.records import ImageRecord, Status
from shoebox.settings import Settings
from shoebox.variants import Variant

# Validation stores the original just before it marks the image PROCESSING, so this step can
# see PENDING for a few milliseconds: wait about that long rather than for SQS's retry (minutes).
PENDING_WAIT_SECONDS = 3.0


class Clock(Protocol):
    """What this step needs of time: to measure it and to wait."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real time, as the time module keeps it."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


SYSTEM_CLOCK = SystemClock()


class NotYetAccepted(RuntimeError):
    """The original's event overtook validation's move to PROCESSING: retry later."""


@dataclass(frozen=True)
class MakeThumbnails:
    store: ObjectStore
    media_bucket: str
    clock: Clock

    @classmethod
    def from_settings(
        cls, settings: Settings, store: ObjectStore, clock: Clock = SYSTEM_CLOCK
    ) -> MakeThumbnails:
        return cls(store=store, media_bucket=settings.media_bucket, clock=clock)

    def __call__(self, created: ObjectCreated) -> None:
        image_id = created.image_id
        if created.bucket != self.media_bucket or image_id is None:
            logger.warning("ignoring an object that is no image's original", extra={"bucket": created.bucket})
            return
        record = self._find_past_pending(image_id)
        if record is None or record.status == Status.DELETING:
            logger.info("the image was deleted: removing its media objects")
            self._remove_media(image_id)
            return
        if record.status != Status.PROCESSING:
            # READY: a duplicate or late event. REJECTED/FAILED: final, nothing to add.
            logger.info("nothing to do for this image", extra={"status": record.status})
            return
        data = self._read(created)
        if data is None:
            return
        started = self.clock.monotonic()
        thumbnails = imaging.make_thumbnails(data)
        elapsed_ms = (self.clock.monotonic() - started) * 1000
        made = [record.original_variant()]
        for thumbnail in thumbnails:
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
            records.mark_ready(image_id, made)
        except TransitionRefused:
            current = records.find(image_id)
            if current is None or current.status == Status.DELETING:
                logger.info("the image was deleted during thumbnailing: removing its media objects")
                self._remove_media(image_id)
            else:
                logger.info("already done (a duplicate event)", extra={"status": current.status})
            return
        names = sorted(variant.name for variant in made)
        logger.info("image ready", extra={"variants": names, "thumbnail_ms": round(elapsed_ms)})
        metrics.add_metric(name="ImagesReady", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="ThumbnailMilliseconds", unit=MetricUnit.Milliseconds, value=elapsed_ms)

    def _find_past_pending(self, image_id: str) -> ImageRecord | None:
        record = records.find(image_id)
        delay, deadline = 0.05, self.clock.monotonic() + PENDING_WAIT_SECONDS
        while record is not None and record.status == Status.PENDING:
            if self.clock.monotonic() + delay > deadline:
                raise NotYetAccepted(f"image {image_id} is still PENDING although its original is stored")
            self.clock.sleep(delay)
            delay *= 2
            record = records.find(image_id)
        return record

    def _read(self, created: ObjectCreated) -> bytes | None:
        """The original of the event (If-Match on its ETag), or None when it was replaced (the
        new version has its own event) or deleted along with its image."""
        try:
            return self.store.read(created.bucket, created.key, created.etag).data
        except ObjectReplaced:
            logger.info("the original was replaced since this event: its own event follows")
            return None
        except ObjectGone:
            current = records.find(created.image_id or "")
            if current is None or current.status == Status.DELETING:
                logger.info("the original was deleted with its image: nothing to do")
                return None
            # A PROCESSING image without its original must not stay PROCESSING: let the
            # retries run out and mark it FAILED.
            raise

    def _remove_media(self, image_id: str) -> None:
        # Deterministic keys: no listing needed, and deleting a missing key is not an error.
        self.store.delete(self.media_bucket, variants.object_keys(image_id)["media"])
