"""Per-owner usage: the counters behind quotas and back-pressure (SPEC §3), exact under concurrency.

One item per owner, in the images table (id `usage#<owner>`, which no image id can be):

    images, stored_bytes   what GET /v1/usage reports: PROCESSING and READY images, and the size
                           of their clean originals
    slots                  the open upload slots: image id -> {"expires_at": epoch s, "size": declared}
    held_images            images + the slots in the map: what a new slot is admitted against
    held_bytes             stored_bytes + the slots' declared sizes

Why the counters stay exact:

1. **Admission is one conditional write.** A new slot is added to `slots` by an update whose
   condition is the limit itself (`size(slots) < MaxPending`, `held_images < MaxImages`,
   `held_bytes <= MaxBytes - size`), evaluated by DynamoDB on the item as it is at the write.
   Twenty creators at once are serialised on the item: each write sees the ones before it, so
   the limit is reached exactly and never overshot. (Counting first and then creating — a query
   of PENDING records, say, which a GSI only answers eventually — lets every creator see the
   same count and all pass.) A slot reserves an image and its declared bytes until it is used
   or expires, so the uploads in flight cannot overshoot either.
2. **Every other change rides on the image transition that causes it**, in one
   TransactWriteItems: the validation claim that accepts (the slot becomes an image: +1 image,
   + the clean original's bytes), a rejection, a failure, a cancel, a delete (subtract what the
   image held). The transition's own condition (`status` in the expected set) makes a retried
   or duplicate event a no-op — the whole transaction is refused — so nothing is counted twice,
   and nothing is counted without the transition. (`shoebox.records` makes the transitions.)
3. **Expiry needs no code.** An unused slot's record vanishes by DynamoDB TTL, which no code
   follows, so a counter of open slots would drift. The map keeps each slot's expiry instead:
   an expired entry no longer counts (`pending` counts the live ones), and the next admission
   removes it — with `attribute_exists` conditions on each entry it removes, and the limits in
   its condition raised by what it removes — in the same write. The bytes an upload that
   arrives after its slot was pruned are still counted exactly (its claim adds to `held_*`
   itself); only then can a limit be passed, by that late upload.
4. **A slot's entry decides which variant applies.** A claim, cancel or rejection of a PENDING
   image removes its entry on condition that it is there (its reservation becomes the image, or
   is released); if it is not (pruned after expiry), the variant that expects it absent applies.
   An entry is only ever removed, never re-added, so at most one variant is retried.

The one inexactness: `bytes` counts the clean original, admission the declared size; a clean
original may be larger than the upload (HEIC stored as JPEG), and then `bytes` may pass
MaxBytesPerOwner by that difference. It is counted, so the next slot is refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Any

from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.expressions.condition import Condition, size
from pynamodb.expressions.update import Action
from pynamodb.models import Model

from shoebox.errors import QuotaExceeded, TooManyPending
from shoebox.settings import Settings, TableName

USAGE_PREFIX = "usage#"
# Expired entries an admission removes at most (each adds a condition; a few KB of expression).
PRUNE_PER_WRITE = 20
# Retry-After of TOO_MANY_PENDING, at most. A slot is usually freed within seconds by its own
# upload (the client's uploads in flight); waiting for the oldest slot to expire could mean a
# day, which a client with leaked slots should not wait out but cancel (DELETE /v1/uploads/{id}).
RETRY_AFTER_SECONDS = 5


class UsageRecord(Model):
    class Meta:
        table_name = TableName()

    id = UnicodeAttribute(hash_key=True)
    # Null only on an item a claim created (its ADDs make the counters, not the map) or one
    # older than a counter: `complete` says, and `initialise` fills in what is missing.
    images = NumberAttribute(null=True)
    stored_bytes = NumberAttribute(null=True)
    held_images = NumberAttribute(null=True)
    held_bytes = NumberAttribute(null=True)
    slots = MapAttribute[str, Any](null=True)  # type: ignore[no-untyped-call]

    def complete(self) -> bool:
        counters = (self.images, self.stored_bytes, self.held_images, self.held_bytes)
        return self.slots is not None and all(value is not None for value in counters)


_COUNTERS = ("images", "stored_bytes", "held_images", "held_bytes")


def usage_id(owner: str) -> str:
    return USAGE_PREFIX + owner


@dataclass(frozen=True)
class Limits:
    images: int
    bytes: int
    pending: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            images=settings.max_images_per_owner,
            bytes=settings.max_bytes_per_owner,
            pending=settings.max_pending_per_owner,
        )


@dataclass(frozen=True)
class Slot:
    image_id: str
    expires_at: int  # epoch seconds, the image record's TTL
    size: int  # declared


@dataclass(frozen=True)
class Usage:
    """What GET /v1/usage reports."""

    images: int
    bytes: int
    pending: int


def read(owner: str) -> UsageRecord | None:
    try:
        return UsageRecord.get(usage_id(owner), consistent_read=True)
    except UsageRecord.DoesNotExist:
        return None


def current(owner: str, now: float) -> Usage:
    record = read(owner)
    if record is None:
        return Usage(images=0, bytes=0, pending=0)
    live = [slot for slot in slots_of(record) if slot.expires_at > now]
    return Usage(images=int(record.images or 0), bytes=int(record.stored_bytes or 0), pending=len(live))


def slots_of(record: UsageRecord) -> list[Slot]:
    if record.slots is None:
        return []
    stored: dict[str, dict[str, Any]] = record.slots.as_dict()  # type: ignore[no-untyped-call]
    return [
        Slot(image_id, int(value["expires_at"]), int(value["size"])) for image_id, value in stored.items()
    ]


def initialise(owner: str) -> None:
    """Make the owner's usage item complete: each attribute it lacks, zero (or no slots).
    Idempotent and safe under concurrency (if_not_exists keeps what a concurrent write put)."""
    item = UsageRecord(usage_id(owner))
    actions: list[Action] = [
        getattr(UsageRecord, name).set(getattr(UsageRecord, name) | 0) for name in _COUNTERS
    ]
    actions.append(UsageRecord.slots.set(UsageRecord.slots | {}))
    item.update(actions=actions)


# ------------------------------------------------------------------ admission


@dataclass(frozen=True)
class Admission:
    """The conditional update of the usage item that opens one slot, made from one read of it."""

    actions: list[Action]
    condition: Condition


def admit(record: UsageRecord, slot: Slot, limits: Limits, now: float) -> Admission:
    """Refuse the slot if the read already shows a limit reached (QuotaExceeded before
    TooManyPending: the first lasts, the second passes), else the write that opens it — whose
    condition re-checks the limits on the item as it is when written."""
    slots = slots_of(record)
    expired = sorted((each for each in slots if each.expires_at <= now), key=lambda each: each.expires_at)
    pruned = expired[:PRUNE_PER_WRITE]
    pruned_bytes = sum(each.size for each in pruned)
    open_slots = len(slots) - len(pruned)
    held_images = int(record.held_images or 0) - len(pruned)
    held_bytes = int(record.held_bytes or 0) - pruned_bytes
    images, stored_bytes = int(record.images or 0), int(record.stored_bytes or 0)
    if held_images >= limits.images:
        raise QuotaExceeded(
            f"at most {limits.images} images (open upload slots included)",
            {"quota": "images", "used": images, "pending": open_slots, "limit": limits.images},
        )
    if held_bytes + slot.size > limits.bytes:
        raise QuotaExceeded(
            f"at most {limits.bytes} bytes (open upload slots included at their declared size)",
            {
                "quota": "bytes",
                "used": stored_bytes,
                "pending": held_bytes - stored_bytes,
                "requested": slot.size,
                "limit": limits.bytes,
            },
        )
    if open_slots >= limits.pending:
        live = [each.expires_at for each in slots if each.expires_at > now]
        raise TooManyPending(
            f"at most {limits.pending} uploads may wait for their bytes: finish or cancel one",
            {"pending": open_slots, "limit": limits.pending},
            {"Retry-After": str(retry_after(live, now))},
        )
    removed = len(pruned)
    condition = (
        (size(UsageRecord.slots) < limits.pending + removed)  # type: ignore[no-untyped-call]
        & (UsageRecord.held_images < limits.images + removed)
        & (UsageRecord.held_bytes <= limits.bytes - slot.size + pruned_bytes)
    )
    actions: list[Action] = [
        UsageRecord.slots[slot.image_id].set({"expires_at": slot.expires_at, "size": slot.size}),
        UsageRecord.held_images.add(1 - removed),
        UsageRecord.held_bytes.add(slot.size - pruned_bytes),
    ]
    for each in pruned:
        # The counts above assume each pruned entry is still there: a concurrent admission or a
        # late claim that removed it first makes this write fail, and the caller reads again.
        condition &= UsageRecord.slots[each.image_id].exists()
        actions.append(UsageRecord.slots[each.image_id].remove())
    return Admission(actions=actions, condition=condition)


def precheck(owner: str, size: int, limits: Limits, now: float) -> None:
    """Raise what admitting a slot of `size` would raise, from a read alone: a refusal before
    any S3 call is made for the slot (a multipart upload). The write still decides."""
    record = read(owner)
    if record is not None:
        admit(record, Slot("", 0, size), limits, now)


def retry_after(expiries: list[int], now: float) -> int:
    """Whole seconds: until the oldest open slot expires, but never more than
    RETRY_AFTER_SECONDS (uploads in flight free their slots sooner)."""
    if not expiries:
        return 1
    return max(1, min(RETRY_AFTER_SECONDS, math.ceil(min(expiries) - now)))


# ------------------------------------------------------------------ transitions


class Holding(Enum):
    """What an image holds of its owner's usage, by state."""

    SLOT = "slot"  # PENDING: an open slot (while its entry is in the map)
    IMAGE = "image"  # PROCESSING, READY: one image and its clean original's bytes
    NOTHING = "nothing"  # REJECTED, FAILED, being deleted, gone


@dataclass(frozen=True)
class Change:
    """What one image transition does to its owner's usage item, and when that is right."""

    images: int = 0
    stored_bytes: int = 0
    held_images: int = 0
    held_bytes: int = 0
    slot: str | None = None  # the image's slot entry: removed, and must be there
    without_slot: str | None = None  # the image's slot entry must not be there

    def actions(self) -> list[Action]:
        found: list[Action] = [
            getattr(UsageRecord, name).add(getattr(self, name)) for name in _COUNTERS if getattr(self, name)
        ]
        if self.slot is not None:
            found.append(UsageRecord.slots[self.slot].remove())
        return found

    def condition(self) -> Condition | None:
        if self.slot is not None:
            present: Condition = UsageRecord.slots[self.slot].exists()
            return present
        if self.without_slot is not None:
            absent: Condition = UsageRecord.slots[self.without_slot].does_not_exist()
            return absent
        return None


def changes(
    image_id: str, declared: int, before: Holding, after: Holding, stored: int
) -> list[Change | None]:
    """The usage changes an image's move from `before` to `after` may need, to be tried in
    order until one's condition holds (None: the usage item is left alone). `stored` is the
    clean original's size: the one the image gets (SLOT -> IMAGE) or gives back (IMAGE -> ...)."""
    if before is Holding.SLOT and after is Holding.IMAGE:
        return [
            # The reservation becomes the image: held_images stays, held_bytes trades the declared
            # size for the stored one.
            Change(images=1, stored_bytes=stored, held_bytes=stored - declared, slot=image_id),
            # The slot expired and was pruned (its reservation released): count it afresh.
            Change(images=1, stored_bytes=stored, held_images=1, held_bytes=stored, without_slot=image_id),
        ]
    if before is Holding.SLOT and after is Holding.NOTHING:
        return [Change(held_images=-1, held_bytes=-declared, slot=image_id), None]
    if before is Holding.IMAGE and after is Holding.NOTHING:
        return [Change(images=-1, stored_bytes=-stored, held_images=-1, held_bytes=-stored)]
    return [None]
