"""Image records: one DynamoDB item per image, listed per owner through the `by-owner` GSI, and
the reads and state transitions every function makes on them.

Every transition is a conditional write on `status`, so duplicate, late and concurrent events
cannot move an image backwards or bring a deleted image back (DESIGN decision 4). A refused
write raises TransitionRefused; callers treat it as "nothing to do", or as "take back what I
wrote" when the image went where it keeps no objects (REJECTED, FAILED, deleted).

    PENDING --claim_accepted--> PROCESSING --mark_ready--> READY
       |                            |  --reject_processing--> REJECTED
       +--claim_rejected--> REJECTED    (confirm_original: the claimant stored the original)
    PENDING | PROCESSING --mark_failed--> FAILED;   any visible state --begin_delete--> DELETING

The two claims are validation's, made before it writes anything: the first object (by its
ETag) to claim a slot owns it, and only that object's retry may claim it again (DESIGN
decision 8).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, UpdateError
from pynamodb.expressions.condition import Condition, size
from pynamodb.expressions.update import Action
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from shoebox import keys
from shoebox.errors import BadRequest, NotFound, NotReady, TooManyShares, TransitionRefused
from shoebox.settings import get_settings
from shoebox.variants import ORIGINAL, VARIANT_NAMES, Variant, variant_key


class Status(StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    READY = "READY"
    REJECTED = "REJECTED"
    FAILED = "FAILED"
    # Internal tombstone while a delete removes the objects; the API answers 404 for it.
    DELETING = "DELETING"


VISIBLE = (Status.PENDING, Status.PROCESSING, Status.READY, Status.REJECTED, Status.FAILED)
# Where an image keeps no objects (SPEC §1 and §4): a step that finds its image here, or gone,
# takes back whatever it wrote.
WITHOUT_OBJECTS = (Status.REJECTED, Status.FAILED, Status.DELETING)


class _TableName:
    """Resolves Meta.table_name from the settings on each use, so importing the model reads no
    configuration (PynamoDB reads Meta.table_name when it first connects)."""

    def __get__(self, instance: object, owner: type) -> str:
        return get_settings().table_name


class ByOwnerIndex(GlobalSecondaryIndex["ImageRecord"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "by-owner"
        projection = AllProjection()

    owner = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class ImageRecord(Model):
    class Meta:
        table_name = _TableName()

    id = UnicodeAttribute(hash_key=True)
    owner = UnicodeAttribute()
    # ISO 8601 UTC with microseconds ("2026-11-22T10:15:00.123456Z"): sorts as it reads.
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    status = UnicodeAttribute()
    filename = UnicodeAttribute()
    content_type = UnicodeAttribute()  # declared by the client
    size = NumberAttribute()  # declared by the client
    upload_key = UnicodeAttribute()
    expires_at = TTLAttribute(null=True)  # set only while PENDING
    # Filled in by validation.
    stored_size = NumberAttribute(null=True)
    stored_content_type = UnicodeAttribute(null=True)
    format = UnicodeAttribute(null=True)
    width = NumberAttribute(null=True)
    height = NumberAttribute(null=True)
    sha256 = UnicodeAttribute(null=True)
    # The ETag of the uploaded object that claimed the slot (DESIGN decision 8).
    source_etag = UnicodeAttribute(null=True)
    # Set once the claimant stored the clean original: its retry then has nothing left to do.
    original_stored = BooleanAttribute(null=True)
    # Filled in by a rejection or a failure.
    error_code = UnicodeAttribute(null=True)
    error_message = UnicodeAttribute(null=True)
    # Filled in by the thumbnail step: variant name -> {width, height, content_type, key}, a
    # Variant without its name (see _stored and _variant).
    variants = MapAttribute[str, Any](null=True)  # type: ignore[no-untyped-call]
    # Also by the thumbnail step: the ThumbHash (standard base64) and EXIF DateTimeOriginal (ISO
    # 8601). Never any location.
    placeholder = UnicodeAttribute(null=True)
    taken_at = UnicodeAttribute(null=True)
    # Share links of a READY image: nonce -> {"created_at", "expires_at" (absent: until revoked)}.
    # In the image's own item, so deleting the image deletes its links in the same write.
    shares = MapAttribute[str, Any](null=True)  # type: ignore[no-untyped-call]

    by_owner = ByOwnerIndex()

    def original_variant(self) -> Variant:
        """The stored original, as validation described it."""
        return Variant(
            name=ORIGINAL,
            width=int(self.width or 0),
            height=int(self.height or 0),
            content_type=self.stored_content_type or self.content_type,
            key=variant_key(self.id, ORIGINAL),
        )

    def ready_variants(self) -> dict[str, Variant]:
        """The variants by name, in VARIANT_NAMES order; {} unless READY."""
        if self.status != Status.READY or self.variants is None:
            return {}
        stored: dict[str, dict[str, Any]] = self.variants.as_dict()  # type: ignore[no-untyped-call]
        return {name: _variant(name, stored[name]) for name in VARIANT_NAMES if name in stored}

    def stored_shares(self) -> dict[str, StoredShare]:
        """Every share link of the image by nonce, the expired ones included."""
        if self.shares is None:
            return {}
        stored: dict[str, dict[str, Any]] = self.shares.as_dict()  # type: ignore[no-untyped-call]
        return {
            nonce: StoredShare(nonce, str(value["created_at"]), value.get("expires_at"))
            for nonce, value in stored.items()
        }

    def live_shares(self, now: datetime) -> list[StoredShare]:
        """The links that work at `now`, newest first."""
        live = [share for share in self.stored_shares().values() if share.live_at(now)]
        return sorted(live, key=lambda share: share.created_at, reverse=True)


@dataclass(frozen=True)
class StoredShare:
    """One share link as the image's item keeps it; its id is `<image id>.<nonce>` (shoebox.shares)."""

    nonce: str
    created_at: str
    expires_at: str | None  # None: until revoked

    def live_at(self, now: datetime) -> bool:
        # Both stamps are iso_time(): fixed width, so they compare as they read.
        return self.expires_at is None or iso_time(now) < self.expires_at


def _stored(variant: Variant) -> dict[str, Any]:
    return {
        "width": variant.width,
        "height": variant.height,
        "content_type": variant.content_type,
        "key": variant.key,
    }


def _variant(name: str, stored: dict[str, Any]) -> Variant:
    return Variant(
        name=name,
        width=int(stored["width"]),
        height=int(stored["height"]),
        content_type=str(stored["content_type"]),
        key=str(stored["key"]),
    )


def iso_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now_iso() -> str:
    return iso_time(datetime.now(UTC))


def _conditional(error: PutError | UpdateError | DeleteError) -> bool:
    return error.cause_response_code == "ConditionalCheckFailedException"


# ------------------------------------------------------------------ reads


def find(image_id: str) -> ImageRecord | None:
    """The record, whatever its state, or None."""
    if not keys.is_image_id(image_id):
        return None
    try:
        return ImageRecord.get(image_id, consistent_read=True)
    except DoesNotExist:
        return None


def keeps_no_objects(record: ImageRecord | None) -> bool:
    """The image is gone, being deleted, REJECTED or FAILED: none of its objects may stay."""
    return record is None or record.status in WITHOUT_OBJECTS


def status_of(record: ImageRecord | None) -> str | None:
    """The record's status, None for no record (for logs)."""
    return record.status if record else None


def get_owned(image_id: str, owner: str) -> ImageRecord:
    """The caller's image. Someone else's image is NotFound too: no existence leak."""
    record = find(image_id)
    if record is None or record.owner != owner or record.status not in VISIBLE:
        raise NotFound("image not found", {"id": image_id})
    return record


@dataclass(frozen=True)
class Page:
    items: list[ImageRecord]
    next_cursor: str | None


def _encode_cursor(record: ImageRecord) -> str:
    position = {"id": record.id, "owner": record.owner, "created_at": record.created_at}
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, owner: str) -> dict[str, dict[str, str]]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = json.loads(raw)
        fields = {name: position[name] for name in ("id", "owner", "created_at")}
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise BadRequest("cursor is not valid", {"field": "cursor"}) from exc
    if not all(isinstance(value, str) for value in fields.values()) or fields["owner"] != owner:
        raise BadRequest("cursor is not valid", {"field": "cursor"})
    return {name: {"S": value} for name, value in fields.items()}


def list_owned(owner: str, limit: int, cursor: str | None, status: Status | None) -> Page:
    """The owner's images, newest first. One extra item is read to know whether a next page
    exists, so the last page has no cursor."""
    condition = ImageRecord.status == status if status else ImageRecord.status.is_in(*VISIBLE)
    results = ImageRecord.by_owner.query(
        owner,
        scan_index_forward=False,
        filter_condition=condition,
        limit=limit + 1,
        last_evaluated_key=_decode_cursor(cursor, owner) if cursor else None,
    )
    items = list(results)
    if len(items) <= limit:
        return Page(items, None)
    return Page(items[:limit], _encode_cursor(items[limit - 1]))


# ------------------------------------------------------------------ writes


def create_pending(
    owner: str, filename: str, content_type: str, size: int, pending_ttl_seconds: int
) -> ImageRecord:
    image_id = keys.new_image_id()
    stamp = now_iso()
    record = ImageRecord(
        image_id,
        owner=owner,
        created_at=stamp,
        updated_at=stamp,
        status=Status.PENDING.value,
        filename=filename,
        content_type=content_type,
        size=size,
        upload_key=keys.incoming_key(image_id),
        expires_at=timedelta(seconds=pending_ttl_seconds),  # TTLAttribute: now + delta
        variants={},
    )
    # An id collision is astronomically unlikely, but never overwrite someone's record.
    record.save(condition=ImageRecord.id.does_not_exist())
    return record


def _status_in(*allowed: Status) -> Condition:
    return ImageRecord.status.is_in(*(status.value for status in allowed))


def _transition(image_id: str, condition: Condition, actions: list[Action]) -> ImageRecord:
    """Apply `actions` only if the image exists and meets `condition` (its status, at least)."""
    record = ImageRecord(image_id)
    try:
        record.update(actions=[*actions, ImageRecord.updated_at.set(now_iso())], condition=condition)
    except UpdateError as exc:
        if _conditional(exc):
            raise TransitionRefused(f"image {image_id}: transition refused") from exc
        raise
    return record


@dataclass(frozen=True)
class Accepted:
    """What validation learnt about an accepted upload and the clean original it will store."""

    stored_size: int
    content_type: str
    format: str
    width: int
    height: int
    sha256: str
    source_etag: str


def may_claim(record: ImageRecord, source_etag: str) -> bool:
    """What the claims' condition checks, on a record read: the slot is unclaimed, or this very
    object (its ETag) claimed it and has not stored its original yet: the claimant's retry, or
    a duplicate of its event, continues where the first attempt stopped."""
    unfinished = record.status == Status.PROCESSING and not record.original_stored
    return record.status == Status.PENDING or (unfinished and record.source_etag == source_etag)


def _claimable(source_etag: str) -> Condition:
    """may_claim, as the condition of a write."""
    unfinished = _status_in(Status.PROCESSING) & ImageRecord.original_stored.does_not_exist()
    either: Condition = _status_in(Status.PENDING) | (unfinished & (ImageRecord.source_etag == source_etag))
    return either


def _processing(source_etag: str | None) -> Condition:
    """PROCESSING, and (given the ETag the step read in the record) still that object's claim."""
    condition = _status_in(Status.PROCESSING)
    return condition if source_etag is None else condition & (ImageRecord.source_etag == source_etag)


def _rejected(code: str, message: str) -> list[Action]:
    return [
        ImageRecord.status.set(Status.REJECTED.value),
        ImageRecord.error_code.set(code),
        ImageRecord.error_message.set(message),
        ImageRecord.expires_at.remove(),
    ]


def claim_accepted(image_id: str, accepted: Accepted) -> ImageRecord:
    """Validation's claim of the slot for an acceptable object, before anything is written:
    PENDING -> PROCESSING, recording the object's ETag and what validation learnt."""
    return _transition(
        image_id,
        _claimable(accepted.source_etag),
        [
            ImageRecord.status.set(Status.PROCESSING.value),
            ImageRecord.stored_size.set(accepted.stored_size),
            ImageRecord.stored_content_type.set(accepted.content_type),
            ImageRecord.format.set(accepted.format),
            ImageRecord.width.set(accepted.width),
            ImageRecord.height.set(accepted.height),
            ImageRecord.sha256.set(accepted.sha256),
            ImageRecord.source_etag.set(accepted.source_etag),
            ImageRecord.expires_at.remove(),
        ],
    )


def claim_rejected(image_id: str, source_etag: str, code: str, message: str) -> ImageRecord:
    """Validation's claim of the slot for an object that broke a rule: PENDING -> REJECTED. A
    rejected object holds the slot too: any other object sent to it is deleted unprocessed."""
    return _transition(
        image_id,
        _claimable(source_etag),
        [*_rejected(code, message), ImageRecord.source_etag.set(source_etag)],
    )


def confirm_original(image_id: str, source_etag: str) -> ImageRecord:
    """The claimant stored the clean original. Refused once the image left PROCESSING (deleted,
    REJECTED, FAILED: the original must go again; or READY: the thumbnails overtook this) and
    when a duplicate of the claimant confirmed first."""
    return _transition(
        image_id,
        _processing(source_etag) & ImageRecord.original_stored.does_not_exist(),
        [ImageRecord.original_stored.set(True)],
    )


def reject_processing(image_id: str, source_etag: str | None, code: str, message: str) -> ImageRecord:
    """PROCESSING -> REJECTED: the thumbnail step's full decode of the stored original failed."""
    return _transition(image_id, _processing(source_etag), _rejected(code, message))


def mark_ready(
    image_id: str,
    variants: Iterable[Variant],
    source_etag: str | None = None,
    *,
    placeholder: str | None = None,
    taken_at: str | None = None,
) -> ImageRecord:
    """PROCESSING -> READY, with every variant stored, and what the full decode learnt: the
    ThumbHash `placeholder` (standard base64) and `taken_at` (EXIF DateTimeOriginal, ISO 8601),
    each when known."""
    actions: list[Action] = [
        ImageRecord.status.set(Status.READY.value),
        ImageRecord.variants.set({variant.name: _stored(variant) for variant in variants}),
    ]
    if placeholder is not None:
        actions.append(ImageRecord.placeholder.set(placeholder))
    if taken_at is not None:
        actions.append(ImageRecord.taken_at.set(taken_at))
    return _transition(image_id, _processing(source_etag), actions)


def mark_failed(image_id: str, code: str, message: str, source_etag: str | None = None) -> ImageRecord:
    """PENDING or PROCESSING -> FAILED: a step kept failing and gave up. With `source_etag`,
    PROCESSING only when that object claimed the image."""
    return _transition(
        image_id,
        _status_in(Status.PENDING) | _processing(source_etag),
        [
            ImageRecord.status.set(Status.FAILED.value),
            ImageRecord.error_code.set(code),
            ImageRecord.error_message.set(message),
            ImageRecord.expires_at.remove(),
        ],
    )


def begin_delete(image_id: str, owner: str) -> None:
    """Tombstone the record first: from here no pipeline step can move it forward, and the API
    answers 404. A delete interrupted after this point is finished by the next one."""
    if not keys.is_image_id(image_id):
        raise NotFound("image not found", {"id": image_id})
    try:
        _transition(
            image_id,
            _status_in(*VISIBLE, Status.DELETING) & (ImageRecord.owner == owner),
            [ImageRecord.status.set(Status.DELETING.value)],
        )
    except TransitionRefused as exc:
        raise NotFound("image not found", {"id": image_id}) from exc


def finish_delete(image_id: str) -> None:
    try:
        ImageRecord(image_id).delete(condition=ImageRecord.status == Status.DELETING.value)
    except DeleteError as exc:
        if _conditional(exc):
            return  # already gone: a concurrent delete finished first
        raise


# ------------------------------------------------------------------ share links

MAX_SHARES_PER_IMAGE = 100  # keeps the item far below DynamoDB's 400 KB (~100 bytes a link)
# Expired links are dropped by the next add (at most this many at a time: one condition each).
_PRUNE_PER_ADD = 20
_ADD_ATTEMPTS = 3


def add_share(
    image_id: str, owner: str, nonce: str, now: datetime, expires_at: datetime | None
) -> StoredShare:
    """A new link to the caller's READY image, in one conditional write: the owner, READY, and
    fewer than MAX_SHARES_PER_IMAGE live links are checked by DynamoDB itself, so a concurrent
    delete or add cannot slip past. Expired links are dropped in the same write."""
    share = StoredShare(nonce, iso_time(now), None if expires_at is None else iso_time(expires_at))
    value = {"created_at": share.created_at}
    if share.expires_at is not None:
        value["expires_at"] = share.expires_at
    for _ in range(_ADD_ATTEMPTS):
        record = get_owned(image_id, owner)
        if record.status != Status.READY:
            raise NotReady(f"image is {record.status}, not READY", {"status": record.status})
        stored = record.stored_shares()
        expired = [old.nonce for old in stored.values() if not old.live_at(now)][:_PRUNE_PER_ADD]
        if len(stored) - len(expired) >= MAX_SHARES_PER_IMAGE:
            raise TooManyShares(
                f"an image has at most {MAX_SHARES_PER_IMAGE} share links: revoke one first",
                {"limit": MAX_SHARES_PER_IMAGE},
            )
        condition = (ImageRecord.owner == owner) & (ImageRecord.status == Status.READY.value)
        if record.shares is None:
            # A map must exist before a key can be set in it.
            actions = [ImageRecord.shares.set({nonce: value})]
            condition &= ImageRecord.shares.does_not_exist()
        else:
            actions = [ImageRecord.shares[nonce].set(value)]
            condition &= size(ImageRecord.shares) < MAX_SHARES_PER_IMAGE + len(expired)  # type: ignore[no-untyped-call]
            for old in expired:
                actions.append(ImageRecord.shares[old].remove())
                condition &= ImageRecord.shares[old].exists()  # else the count above is off
        try:
            ImageRecord(image_id).update(actions=actions, condition=condition)
        except UpdateError as exc:
            if _conditional(exc):
                continue  # changed since the read (a link added or revoked, a delete): read again
            raise
        return share
    raise TransitionRefused(f"image {image_id}: its share links kept changing")


def find_shared(image_id: str, nonce: str, now: datetime) -> ImageRecord | None:
    """The READY image a live share link names, or None (no such image or link, expired,
    revoked, or the image is being deleted)."""
    record = find(image_id)
    if record is None or record.status != Status.READY:
        return None
    share = record.stored_shares().get(nonce)
    return record if share is not None and share.live_at(now) else None


def remove_share(image_id: str, nonce: str, owner: str) -> None:
    """Revoke a link: one conditional write. Someone else's, or none, is NotFound."""
    condition = (
        (ImageRecord.owner == owner)
        & ImageRecord.status.is_in(*(status.value for status in VISIBLE))
        & ImageRecord.shares[nonce].exists()
    )
    try:
        ImageRecord(image_id).update(actions=[ImageRecord.shares[nonce].remove()], condition=condition)
    except UpdateError as exc:
        if _conditional(exc):
            raise NotFound("share not found", {"id": f"{image_id}.{nonce}"}) from exc
        raise
