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

A transition that changes what the image holds of its owner's quota (an open slot; an image
and its bytes) writes the owner's usage item in the same transaction (`shoebox.usage`, whose
docstring has the exactness argument): create_pending opens a slot, the accepting claim turns
it into an image, and a rejection, failure, cancel (abort_pending) or delete gives back what
the image held. READY images are also indexed by (owner, sha256) for dedup (`find_duplicate`).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.connection import Connection
from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition, size
from pynamodb.expressions.update import Action
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from shoebox import aws, keys, usage
from shoebox.errors import (
    BadRequest,
    Contended,
    NotFound,
    NotPending,
    NotReady,
    TooManyShares,
    TransitionRefused,
)
from shoebox.settings import TableName, get_settings
from shoebox.usage import Holding, UsageRecord
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


class ByOwnerIndex(GlobalSecondaryIndex["ImageRecord"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "by-owner"
        projection = AllProjection()

    owner = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class ReadyBySha256Index(GlobalSecondaryIndex["ImageRecord"]):  # type: ignore[no-untyped-call]
    """Dedup: an owner's READY images by the SHA-256 of their uploaded bytes. Sparse (only READY
    images carry `ready_owner`) and keys only: the check is one query, then one read."""

    class Meta:
        index_name = "ready-by-sha256"
        projection = KeysOnlyProjection()

    ready_owner = UnicodeAttribute(hash_key=True)
    sha256 = UnicodeAttribute(range_key=True)


class Method(StrEnum):
    """How the client sends the bytes (SPEC §3 `method`)."""

    POST = "POST"
    PUT = "PUT"
    MULTIPART = "MULTIPART"


class ImageRecord(Model):
    class Meta:
        table_name = TableName()

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
    # Of the bytes as uploaded (SPEC §3): declared with the slot, or what validation read.
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

    # How the bytes come (absent: POST); for MULTIPART, S3's UploadId and the part size.
    upload_method = UnicodeAttribute(null=True)
    multipart_upload_id = UnicodeAttribute(null=True)
    part_size = NumberAttribute(null=True)
    # Set before the API asks S3 to complete the multipart upload: when S3 then says the upload
    # is gone, a completion went through (this one's retry, or a concurrent one).
    completion_requested = BooleanAttribute(null=True)
    # The owner while READY, and only then: the dedup index's hash key.
    ready_owner = UnicodeAttribute(null=True)

    by_owner = ByOwnerIndex()
    ready_by_sha256 = ReadyBySha256Index()

    @property
    def method(self) -> Method:
        return Method(self.upload_method or Method.POST)

    @property
    def holding(self) -> Holding:
        """What the image holds of its owner's quota (shoebox.usage)."""
        if self.status == Status.PENDING:
            return Holding.SLOT
        if self.status in (Status.PROCESSING, Status.READY):
            return Holding.IMAGE
        return Holding.NOTHING

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


def require_ready(record: ImageRecord) -> None:
    """Raise NotReady (409) unless the image is READY: only a READY image has content to serve
    or share."""
    if record.status != Status.READY:
        raise NotReady(f"image is {record.status}, not READY", {"status": record.status})


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


def find_duplicate(owner: str, sha256: str) -> ImageRecord | None:
    """The owner's READY image whose uploaded bytes have this SHA-256, if any: one query of the
    sparse dedup index (eventually consistent), then a consistent read that confirms it."""
    for key in ImageRecord.ready_by_sha256.query(owner, ImageRecord.sha256 == sha256, limit=5):
        record = find(key.id)
        if record is not None and record.owner == owner and record.status == Status.READY:
            return record
    return None


MAX_BATCH = 100  # DynamoDB's BatchGetItem takes at most 100 keys


def get_many(owner: str, image_ids: Sequence[str], status: Status | None) -> list[ImageRecord]:
    """The owner's visible images among `image_ids` (at most MAX_BATCH), newest first: one
    BatchGetItem of consistent reads. Unknown, malformed and foreign ids are left out."""
    wanted = [image_id for image_id in dict.fromkeys(image_ids) if keys.is_image_id(image_id)]
    if len(wanted) > MAX_BATCH:
        raise ValueError(f"at most {MAX_BATCH} ids")
    found = [
        record
        for record in ImageRecord.batch_get(wanted, consistent_read=True)
        if record.owner == owner and record.status in VISIBLE and (status is None or record.status == status)
    ]
    return sorted(found, key=lambda record: record.created_at, reverse=True)


# ------------------------------------------------------------------ writes

# Attempts of a counted transition: a re-read when the record moved between the read and the
# write (states only move forward, so a few suffice), or a back-off on a transaction conflict.
_ATTEMPTS = 8
_BACKOFF_SECONDS = 0.02
# TransactWriteItems' cancellation reasons, per item.
_CONDITION_FAILED = "ConditionalCheckFailed"
_CONFLICT = "TransactionConflict"


@dataclass(frozen=True)
class Multipart:
    """S3's multipart upload behind a MULTIPART slot."""

    upload_id: str
    part_size: int


def create_pending(
    owner: str,
    filename: str,
    content_type: str,
    size: int,
    pending_ttl_seconds: int,
    *,
    sha256: str | None = None,
    multipart: Multipart | None = None,
    method: Method = Method.POST,
    image_id: str | None = None,
    limits: usage.Limits | None = None,
) -> ImageRecord:
    """A PENDING image and its open slot in the owner's usage, written together only if the
    owner's limits allow one more (raises QuotaExceeded or TooManyPending)."""
    image_id = image_id or keys.new_image_id()
    limits = limits or usage.Limits.from_settings(get_settings())
    stamp = now_iso()
    expires_at = int(time.time()) + pending_ttl_seconds
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
        expires_at=datetime.fromtimestamp(expires_at, UTC),  # the TTL, in epoch seconds
        variants={},
        sha256=sha256,
        upload_method=None if method is Method.POST else method.value,
        multipart_upload_id=multipart.upload_id if multipart else None,
        part_size=multipart.part_size if multipart else None,
    )
    slot = usage.Slot(image_id, expires_at, size)
    for attempt in range(_ATTEMPTS):
        found = usage.read(owner)
        if found is None or not found.complete():
            try:
                usage.initialise(owner)  # the owner's first slot (or an item a claim began)
            except UpdateError as exc:
                if exc.cause_response_code != "TransactionConflictException":
                    raise
                _back_off(attempt, [_CONFLICT])  # another write is at the item: read it again
            continue
        admission = usage.admit(found, slot, limits, time.time())
        try:
            with TransactWrite(connection=_connection()) as transaction:
                # An id collision is astronomically unlikely, but never overwrite someone's record.
                transaction.save(record, condition=ImageRecord.id.does_not_exist())
                transaction.update(
                    UsageRecord(usage.usage_id(owner)),
                    actions=admission.actions,
                    condition=admission.condition,
                )
        except TransactWriteError as exc:
            reasons = _cancellation(exc)
            if reasons[0] == _CONDITION_FAILED:
                raise RuntimeError(f"image id {image_id} exists already") from exc
            _back_off(attempt, reasons)  # the usage item changed since it was read: read again
            continue
        return record
    raise Contended("too many concurrent requests for this owner", {}, {"Retry-After": "1"})


def _connection() -> Connection:
    # The model's own connection (client, region, endpoint), for transactions across items.
    return ImageRecord._get_connection().connection


def connect() -> None:
    """Create the table's DynamoDB client now (a function's init calls this: shoebox.startup).

    PynamoDB gives each model class a connection of its own, each with its own botocore session
    and client, each loading the SDK's data and the service model again (~70 ms each): the usage
    item's model shares the image model's connection instead (one table, the same key: `id`),
    whose client is made from the session of the other clients (shoebox.aws)."""
    table = ImageRecord._get_connection()
    UsageRecord._connection = table
    # PynamoDB keeps its session per thread and makes one on first use: this thread's is set first.
    table.connection._local.session = aws.botocore_session()
    table.connection.client  # noqa: B018  (a property: creates the client)


def _cancellation(exc: TransactWriteError) -> list[str | None]:
    """Each item's cancellation reason code, in the transaction's order."""
    if exc.cause_response_code != "TransactionCanceledException":
        raise exc
    return [reason.code if reason else None for reason in exc.cancellation_reasons]


def _back_off(attempt: int, reasons: Sequence[str | None]) -> None:
    """A transaction that met another one on the same item waits (jittered, growing) before
    trying again; one refused by a condition tries again at once, from a fresh read."""
    if _CONFLICT in reasons:
        # Jitter spreads retries apart; not a secret, so the non-cryptographic generator.
        time.sleep(random.uniform(0, _BACKOFF_SECONDS * 2**attempt))  # noqa: S311


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
class _Step:
    """A transition planned from a read of the record: the write's condition and actions (or
    a delete of the record), and the usage changes to try with it, in order."""

    condition: Condition
    actions: Sequence[Action] = ()
    changes: Sequence[usage.Change | None] = (None,)
    delete: bool = False


class _RecordMoved(Exception):
    """The record no longer meets the step's condition: it moved since it was read."""


class _UsageMismatch(Exception):
    """The usage change's condition does not hold (its slot entry is, or is not, there)."""


def _counted(image_id: str, plan: Callable[[ImageRecord | None], _Step | None]) -> ImageRecord:
    """Read the record, plan the transition from it, and write it together with its usage
    change; when the record moved in between, read and plan again. `plan` answers None (or
    raises a domain error) when the transition does not apply. Returns the record as read."""
    for attempt in range(_ATTEMPTS):
        record = find(image_id)
        step = plan(record)
        if step is None or record is None:
            raise TransitionRefused(f"image {image_id}: transition refused")
        try:
            _write(record, step, attempt)
        except _RecordMoved:
            continue
        return record
    raise TransitionRefused(f"image {image_id}: kept changing")


def _write(record: ImageRecord, step: _Step, attempt: int) -> None:
    for change in step.changes:
        try:
            _write_with(record, step, change, attempt)
        except _UsageMismatch:
            continue
        return
    raise _RecordMoved  # no variant held: read everything again


def _write_with(record: ImageRecord, step: _Step, change: usage.Change | None, attempt: int) -> None:
    image = ImageRecord(record.id)
    actions = [*step.actions, ImageRecord.updated_at.set(now_iso())]
    if change is None:
        try:
            if step.delete:
                image.delete(condition=step.condition)
            else:
                image.update(actions=actions, condition=step.condition)
        except (UpdateError, DeleteError) as exc:
            if _conditional(exc):
                raise _RecordMoved from exc
            raise
        return
    try:
        with TransactWrite(connection=_connection()) as transaction:
            if step.delete:
                transaction.delete(image, condition=step.condition)
            else:
                transaction.update(image, actions=actions, condition=step.condition)
            transaction.update(
                UsageRecord(usage.usage_id(record.owner)),
                actions=change.actions(),
                condition=change.condition(),
            )
    except TransactWriteError as exc:
        reasons = _cancellation(exc)
        _back_off(attempt, reasons)
        if reasons[0] == _CONDITION_FAILED or _CONFLICT in reasons:
            raise _RecordMoved from exc
        if reasons[1] == _CONDITION_FAILED:
            raise _UsageMismatch from exc
        raise


def _usage_changes(
    record: ImageRecord, after: Holding, stored_size: int | None = None
) -> Sequence[usage.Change | None]:
    """What moving `record` to a state holding `after` does to its owner's usage; `stored_size`
    is the clean original's size an accepting claim brings (else the record's own counts)."""
    stored = int(record.stored_size or 0) if stored_size is None else stored_size
    return usage.changes(record.id, int(record.size), record.holding, after, stored)


@dataclass(frozen=True)
class Accepted:
    """What validation learnt about an accepted upload and the clean original it will store."""

    stored_size: int
    content_type: str
    format: str
    width: int
    height: int
    sha256: str  # of the uploaded bytes (SPEC §3), not of the clean original
    source_etag: str


def may_claim(record: ImageRecord, source_etag: str) -> bool:
    """What the claims' condition checks, on a record read: the slot is unclaimed, or this very
    object (its ETag) claimed it and has not stored its original yet: the claimant's retry, or
    a duplicate of its event, continues where the first attempt stopped."""
    unfinished = record.status == Status.PROCESSING and not record.original_stored
    return record.status == Status.PENDING or (unfinished and record.source_etag == source_etag)


def _claimable(source_etag: str) -> Condition:
    """may_claim, as the condition of a write."""
    either: Condition = _status_in(Status.PENDING) | _reclaimable(source_etag)
    return either


def _reclaimable(source_etag: str) -> Condition:
    """The claimant's own unfinished claim (see may_claim)."""
    unfinished = _status_in(Status.PROCESSING) & ImageRecord.original_stored.does_not_exist()
    condition: Condition = unfinished & (ImageRecord.source_etag == source_etag)
    return condition


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


def _claim(
    image_id: str, source_etag: str, actions: Sequence[Action], after: Holding, stored_size: int = 0
) -> None:
    """A claim of the slot by the object `source_etag`: from PENDING, with its usage change;
    as the claimant's own retry, from PROCESSING (counted already when it first claimed)."""

    def plan(record: ImageRecord | None) -> _Step | None:
        if record is None or not may_claim(record, source_etag):
            return None
        if record.status == Status.PENDING:
            changes = _usage_changes(record, after, stored_size)
            return _Step(_status_in(Status.PENDING), actions, changes)
        return _Step(_reclaimable(source_etag), actions, _usage_changes(record, after))

    _counted(image_id, plan)


def claim_accepted(image_id: str, accepted: Accepted) -> None:
    """Validation's claim of the slot for an acceptable object, before anything is written:
    PENDING -> PROCESSING, recording the object's ETag and what validation learnt. The slot's
    reservation becomes an image of the clean original's size in the owner's usage."""
    actions = [
        ImageRecord.status.set(Status.PROCESSING.value),
        ImageRecord.stored_size.set(accepted.stored_size),
        ImageRecord.stored_content_type.set(accepted.content_type),
        ImageRecord.format.set(accepted.format),
        ImageRecord.width.set(accepted.width),
        ImageRecord.height.set(accepted.height),
        ImageRecord.sha256.set(accepted.sha256),
        ImageRecord.source_etag.set(accepted.source_etag),
        ImageRecord.expires_at.remove(),
    ]
    _claim(image_id, accepted.source_etag, actions, Holding.IMAGE, accepted.stored_size)


def claim_rejected(image_id: str, source_etag: str, code: str, message: str) -> None:
    """Validation's claim of the slot for an object that broke a rule: PENDING -> REJECTED. A
    rejected object holds the slot too: any other object sent to it is deleted unprocessed."""
    _claim(
        image_id,
        source_etag,
        [*_rejected(code, message), ImageRecord.source_etag.set(source_etag)],
        Holding.NOTHING,
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


def reject_processing(image_id: str, source_etag: str | None, code: str, message: str) -> None:
    """PROCESSING -> REJECTED: the thumbnail step's full decode of the stored original failed."""

    def plan(record: ImageRecord | None) -> _Step | None:
        if record is None or record.status != Status.PROCESSING:
            return None
        if source_etag is not None and record.source_etag != source_etag:
            return None
        return _Step(
            _processing(source_etag), _rejected(code, message), _usage_changes(record, Holding.NOTHING)
        )

    _counted(image_id, plan)


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
    each when known. From now on a duplicate of its bytes finds it (the dedup index keys on
    `ready_owner`, copied from `owner` in the same write)."""
    actions: list[Action] = [
        ImageRecord.status.set(Status.READY.value),
        ImageRecord.variants.set({variant.name: _stored(variant) for variant in variants}),
        ImageRecord.ready_owner.set(ImageRecord.owner),
    ]
    if placeholder is not None:
        actions.append(ImageRecord.placeholder.set(placeholder))
    if taken_at is not None:
        actions.append(ImageRecord.taken_at.set(taken_at))
    return _transition(image_id, _processing(source_etag), actions)


def mark_failed(image_id: str, code: str, message: str, source_etag: str | None = None) -> None:
    """PENDING or PROCESSING -> FAILED: a step kept failing and gave up. With `source_etag`,
    PROCESSING only when that object claimed the image."""
    actions = [
        ImageRecord.status.set(Status.FAILED.value),
        ImageRecord.error_code.set(code),
        ImageRecord.error_message.set(message),
        ImageRecord.expires_at.remove(),
    ]

    def plan(record: ImageRecord | None) -> _Step | None:
        if record is None:
            return None
        if record.status == Status.PENDING:
            return _Step(_status_in(Status.PENDING), actions, _usage_changes(record, Holding.NOTHING))
        if record.status == Status.PROCESSING and source_etag in (None, record.source_etag):
            return _Step(_processing(source_etag), actions, _usage_changes(record, Holding.NOTHING))
        return None

    _counted(image_id, plan)


def begin_delete(image_id: str, owner: str) -> None:
    """Tombstone the record first: from here no pipeline step can move it forward, and the API
    answers 404. A delete interrupted after this point is finished by the next one. What the
    image held of its owner's usage is given back in the same write."""
    if not keys.is_image_id(image_id):
        raise NotFound("image not found", {"id": image_id})

    def plan(record: ImageRecord | None) -> _Step | None:
        if record is None or record.owner != owner or record.status not in (*VISIBLE, Status.DELETING):
            raise NotFound("image not found", {"id": image_id})
        return _Step(
            (ImageRecord.status == record.status) & (ImageRecord.owner == owner),
            [ImageRecord.status.set(Status.DELETING.value), ImageRecord.ready_owner.remove()],
            _usage_changes(record, Holding.NOTHING),
        )

    try:
        _counted(image_id, plan)
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
        require_ready(record)
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


# ------------------------------------------------------------------ uploads in progress


def pending_upload(image_id: str, owner: str) -> ImageRecord:
    """The caller's upload while its slot is open: NotFound for none (or someone else's),
    NotPending once validation took the slot."""
    record = get_owned(image_id, owner)
    if record.status != Status.PENDING:
        raise NotPending(
            f"the upload's bytes arrived: the image is {record.status}",
            {"id": image_id, "status": record.status},
        )
    return record


def abort_pending(image_id: str, owner: str) -> ImageRecord:
    """Cancel the caller's PENDING upload: its record goes, and its slot with it, in one write
    (an object that arrives later finds no slot and is deleted unprocessed). Returns the record
    as it was, for its multipart upload."""

    def plan(record: ImageRecord | None) -> _Step | None:
        if record is None or record.owner != owner or record.status not in VISIBLE:
            raise NotFound("image not found", {"id": image_id})
        if record.status != Status.PENDING:
            raise NotPending(
                f"the upload's bytes arrived: the image is {record.status}",
                {"id": image_id, "status": record.status},
            )
        condition = (ImageRecord.status == Status.PENDING.value) & (ImageRecord.owner == owner)
        return _Step(condition, changes=_usage_changes(record, Holding.NOTHING), delete=True)

    if not keys.is_image_id(image_id):
        raise NotFound("image not found", {"id": image_id})
    return _counted(image_id, plan)


def request_completion(image_id: str, owner: str) -> None:
    """Note that a completion of the multipart upload is about to be asked of S3."""
    _transition(
        image_id,
        _status_in(Status.PENDING) & (ImageRecord.owner == owner),
        [ImageRecord.completion_requested.set(True)],
    )


def withdraw_completion(image_id: str) -> None:
    """S3 refused the completion (the parts were wrong): the multipart upload is still open."""
    # Refused when the slot moved on meanwhile (deleted, or taken): nothing to withdraw then.
    with contextlib.suppress(TransitionRefused):
        _transition(image_id, _status_in(Status.PENDING), [ImageRecord.completion_requested.remove()])
