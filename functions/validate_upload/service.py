"""Validation of one uploaded object: claim its slot, then store its clean original.

A slot holds exactly one upload: the first object (by ETag) to claim the image wins, and any
other object sent to the slot is deleted unprocessed (SPEC §1, DESIGN decision 8). For object E:

1. Read the record. Not claimable by E (gone, DELETING, READY, REJECTED, FAILED, PROCESSING for
   another object, or E's own claim with its original stored: a late duplicate or retry):
   delete E, write nothing.
2. Read E's bytes (If-Match E) and run the rules in memory (a declared SHA-256 first:
   CHECKSUM_MISMATCH); reading writes nothing. E replaced
   or gone while the slot is unclaimed: the newer object has its own event. E's own claim whose
   bytes are gone before its original was stored: SourceLost (retries, then FAILED).
3. One conditional write claims the slot and carries the outcome (claim_accepted → PROCESSING,
   claim_rejected → REJECTED), allowed from PENDING or from E's own unfinished claim. Refused:
   another object, a delete or a finished duplicate came first; E is deleted unprocessed.
4. Accepted: write the clean original (a deterministic key), then confirm_original. Refused
   because the image is no longer PROCESSING nor READY (deleted, REJECTED, FAILED): take the
   original back.
5. Delete E, and only E: a newer object under the key is left to its own event.

Interleavings this order answers (tests/functional/test_pipeline_races.py):
* Two objects A, B to one slot: only the claimant writes, so record, original and thumbnails
  come from one file, whether B is validated between A's read and A's claim (B wins) or between
  A's claim and A's write (A wins). A loser deletes only its own version, so the late event of
  an object replaced before the claim never deletes bytes the claimant's retry still needs.
* Duplicate events of E: after E's original is stored the duplicate's claim is refused; at
  once, both claims pass (E's own), the same bytes go twice to one key, one confirm counts.
* An object that lost the slot and keeps failing gives up without failing the claimant's image.
* A crash before the claim wrote nothing. After the claim, before or after the original: the
  retry continues E's claim (READY if it comes after the thumbnails, then only E is deleted).
  If E was replaced before its original was stored, the bytes are lost: the image ends FAILED.
* A delete of the image before the claim: the claim is refused, nothing written. After it: the
  confirm is refused and the original taken back (its thumbnail event finds no image either).
* Giving up (pipeline.give_up) marks FAILED, then removes incoming/ and originals/; the
  thumbnail step removes its own outputs when it next sees the image FAILED.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from shoebox import keys, records, variants
from shoebox.errors import TransitionRefused
from shoebox.objects import ObjectGone, ObjectReplaced, ObjectStore
from shoebox.observability import MetricUnit, count_rejection, logger, metrics
from shoebox.pipeline import ObjectCreated
from shoebox.records import ImageRecord, Method, Status
from shoebox.settings import Settings
from validate_upload import rules


class SourceLost(RuntimeError):
    """The claimant's upload was replaced or deleted before its original was stored: nothing can
    finish the image. Failing the message lets the retries run out, and the image ends FAILED."""


@dataclass(frozen=True)
class ValidateUpload:
    store: ObjectStore
    uploads_bucket: str
    media_bucket: str
    limits: rules.Limits
    multipart_max_bytes: int  # a MULTIPART upload's limit, in place of limits.max_bytes

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
                max_total_pixels=settings.max_total_pixels,
                max_cpu_ms=settings.max_image_cpu_ms,
            ),
            multipart_max_bytes=settings.max_multipart_upload_bytes,
        )

    def __call__(self, created: ObjectCreated) -> None:
        if created.bucket != self.uploads_bucket or not created.key.startswith(keys.INCOMING_PREFIX):
            logger.warning("ignoring an object outside the uploads", extra={"bucket": created.bucket})
            return
        if created.image_id is None:
            logger.info("an upload that belongs to no slot: deleting it")
            self.store.delete(self.uploads_bucket, [created.key])
            return
        record = records.find(created.image_id)
        if record is None or not records.may_claim(record, created.etag):
            self._discard(created, record)
            return
        limits = self._limits_for(record)
        try:
            # Before reading a byte: the event says how big the object is.
            rules.check_size(created.size, int(record.size), limits)
            data = self._read(created, record, limits)
            if data is None:
                return
            # First: bytes other than the declared ones are refused whatever they are.
            sha256 = rules.check_sha256(data, record.sha256)
            clean = rules.validate(data, record.content_type, int(record.size), limits)
        except rules.Rejection as rejection:
            self._reject(record, created, rejection)
            return
        self._accept(record, created, clean, sha256)

    def _limits_for(self, record: ImageRecord) -> rules.Limits:
        """A multipart upload may be bigger than any other (its slot allowed it)."""
        if record.method is Method.MULTIPART:
            return replace(self.limits, max_bytes=max(self.limits.max_bytes, self.multipart_max_bytes))
        return self.limits

    def claim_of(self, created: ObjectCreated) -> str:
        """A failure on an object fails its image only while unclaimed or claimed by it."""
        return created.etag

    def remove_objects(self, image_id: str) -> None:
        """Giving up: the upload and the original (the thumbnail step removes its own outputs)."""
        self.store.delete(self.uploads_bucket, variants.object_keys(image_id)["uploads"])
        self.store.delete(self.media_bucket, [keys.original_key(image_id)])

    def _read(self, created: ObjectCreated, record: ImageRecord, limits: rules.Limits) -> bytes | None:
        """The bytes of exactly the object version of the event (If-Match on its ETag), or None
        when there is nothing to do with that version."""

        def check_served_size(size: int) -> None:
            # The event's size is S3's own, but check what is actually served before reading it.
            rules.check_size(size, int(record.size), limits)

        try:
            stored = self.store.read(created.bucket, created.key, created.etag, check_size=check_served_size)
        except (ObjectGone, ObjectReplaced) as exc:
            if record.status == Status.PENDING:
                logger.info("the upload is gone or was replaced: a newer object has its own event")
                return None
            current = records.find(record.id)
            if current is not None and current.status == Status.PROCESSING and not current.original_stored:
                raise SourceLost(f"image {record.id}: upload lost before its original was stored") from exc
            status = records.status_of(current)
            logger.info("the upload is gone, and its image moved on", extra={"status": status})
            return None
        return stored.data

    def _reject(self, record: ImageRecord, created: ObjectCreated, rejection: rules.Rejection) -> None:
        image_id = record.id
        code = str(rejection.code)
        try:
            records.claim_rejected(image_id, created.etag, code, rejection.message)
        except TransitionRefused:
            self._discard(created, records.find(image_id))
            return
        logger.info("upload rejected", extra={"code": code, "reason": rejection.message})
        count_rejection(code)
        self._delete_source(created)

    def _accept(
        self, record: ImageRecord, created: ObjectCreated, clean: rules.CleanImage, sha256: str
    ) -> None:
        image_id = record.id
        accepted = records.Accepted(
            stored_size=len(clean.data),
            content_type=clean.content_type,
            format=clean.format,
            width=clean.width,
            height=clean.height,
            sha256=sha256,  # of the uploaded bytes; the stored original's own is in its metadata
            source_etag=created.etag,
        )
        try:
            records.claim_accepted(image_id, accepted)
        except TransitionRefused:
            self._discard(created, records.find(image_id))
            return
        original = keys.original_key(image_id)
        self.store.put_immutable(
            self.media_bucket,
            original,
            clean.data,
            clean.content_type,
            # Which upload it came from (its SHA-256, as the record has it); S3 checksums it itself.
            metadata={"image-id": image_id, "upload-sha256": sha256},
        )
        try:
            records.confirm_original(image_id, created.etag)
        except TransitionRefused:
            current = records.find(image_id)
            status = records.status_of(current)
            if records.keeps_no_objects(current):
                logger.info("the image is gone or final: removing its original", extra={"status": status})
                self.store.delete(self.media_bucket, [original])
            else:
                logger.info("the original is stored already (a duplicate event)", extra={"status": status})
        else:
            # The work limit's estimate for both steps: to check it on Lambda's CPUs (README, Speed).
            logger.info(
                "upload accepted",
                extra={
                    "format": clean.format,
                    "width": clean.width,
                    "height": clean.height,
                    "estimated_cpu_ms": round(clean.cpu_ms),
                },
            )
            metrics.add_metric(name="ImagesAccepted", unit=MetricUnit.Count, value=1)
        self._delete_source(created)

    def _discard(self, created: ObjectCreated, record: ImageRecord | None) -> None:
        """An object that lost its slot (or never had one): deleted unprocessed."""
        status = records.status_of(record)
        logger.info("the slot is not this upload's: deleting it unprocessed", extra={"status": status})
        self._delete_source(created)

    def _delete_source(self, created: ObjectCreated) -> None:
        # Only this version: a newer object under the key is deleted by its own event, and until
        # then it may be the bytes a claimant's retry still needs.
        self.store.delete_if_unchanged(self.uploads_bucket, created.key, created.etag)
