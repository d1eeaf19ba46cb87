"""The image service: records and their state transitions.

Every transition is a conditional write on `status`, so duplicate, late and concurrent events
cannot move an image backwards or bring a deleted image back (DESIGN decision 4). A refused
write raises TransitionRefused; callers treat it as "nothing to do".
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from shoebox import keys
from shoebox.errors import BadRequest, NotFound, TransitionRefused
from shoebox.models import ImageModel, Status

VISIBLE = (Status.PENDING, Status.PROCESSING, Status.READY, Status.REJECTED, Status.FAILED)
FINAL = (Status.READY, Status.REJECTED, Status.FAILED)


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _conditional(error: PutError | UpdateError | DeleteError) -> bool:
    return error.cause_response_code == "ConditionalCheckFailedException"


# ------------------------------------------------------------------ reads


def find(image_id: str) -> ImageModel | None:
    """The record, whatever its state, or None."""
    if not keys.is_image_id(image_id):
        return None
    try:
        return ImageModel.get(image_id, consistent_read=True)
    except DoesNotExist:
        return None


def get_owned(image_id: str, owner: str) -> ImageModel:
    """The caller's image. Someone else's image is NotFound too: no existence leak."""
    image = find(image_id)
    if image is None or image.owner != owner or image.status not in VISIBLE:
        raise NotFound("image not found", {"id": image_id})
    return image


@dataclass(frozen=True)
class Page:
    items: list[ImageModel]
    next_cursor: str | None


def _encode_cursor(image: ImageModel) -> str:
    position = {"id": image.id, "owner": image.owner, "created_at": image.created_at}
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
    condition = ImageModel.status == status if status else ImageModel.status.is_in(*VISIBLE)
    results = ImageModel.by_owner.query(
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
) -> ImageModel:
    image_id = keys.new_image_id()
    stamp = now_iso()
    image = ImageModel(
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
    image.save(condition=ImageModel.id.does_not_exist())
    return image


def _transition(
    image_id: str, allowed_from: Iterable[Status], actions: list[Action], extra: Condition | None = None
) -> ImageModel:
    """Apply `actions` only if the image exists and is in one of `allowed_from`."""
    image = ImageModel(image_id)
    condition = ImageModel.status.is_in(*(status.value for status in allowed_from))
    if extra is not None:
        condition &= extra
    try:
        image.update(actions=[*actions, ImageModel.updated_at.set(now_iso())], condition=condition)
    except UpdateError as exc:
        if _conditional(exc):
            raise TransitionRefused(f"image {image_id}: transition refused") from exc
        raise
    return image


@dataclass(frozen=True)
class Accepted:
    """What validation learnt about the clean original it stored."""

    stored_size: int
    content_type: str
    format: str
    width: int
    height: int
    sha256: str
    source_etag: str


def mark_processing(image_id: str, accepted: Accepted) -> ImageModel:
    return _transition(
        image_id,
        [Status.PENDING],
        [
            ImageModel.status.set(Status.PROCESSING.value),
            ImageModel.stored_size.set(accepted.stored_size),
            ImageModel.stored_content_type.set(accepted.content_type),
            ImageModel.format.set(accepted.format),
            ImageModel.width.set(accepted.width),
            ImageModel.height.set(accepted.height),
            ImageModel.sha256.set(accepted.sha256),
            ImageModel.source_etag.set(accepted.source_etag),
            ImageModel.expires_at.remove(),
        ],
    )


def mark_rejected(image_id: str, code: str, message: str) -> ImageModel:
    return _transition(
        image_id,
        [Status.PENDING],
        [
            ImageModel.status.set(Status.REJECTED.value),
            ImageModel.error_code.set(code),
            ImageModel.error_message.set(message),
            ImageModel.expires_at.remove(),
        ],
    )


def mark_ready(image_id: str, variants: Mapping[str, Mapping[str, Any]]) -> ImageModel:
    """`variants`: name ("original", "256", ...) -> {width, height, content_type, key}."""
    return _transition(
        image_id,
        [Status.PROCESSING],
        [ImageModel.status.set(Status.READY.value), ImageModel.variants.set(dict(variants))],
    )


def mark_failed(image_id: str, code: str, message: str) -> ImageModel:
    return _transition(
        image_id,
        [Status.PENDING, Status.PROCESSING],
        [
            ImageModel.status.set(Status.FAILED.value),
            ImageModel.error_code.set(code),
            ImageModel.error_message.set(message),
            ImageModel.expires_at.remove(),
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
            [*VISIBLE, Status.DELETING],
            [ImageModel.status.set(Status.DELETING.value)],
            extra=ImageModel.owner == owner,
        )
    except TransitionRefused as exc:
        raise NotFound("image not found", {"id": image_id}) from exc


def finish_delete(image_id: str) -> None:
    try:
        ImageModel(image_id).delete(condition=ImageModel.status == Status.DELETING.value)
    except DeleteError as exc:
        if _conditional(exc):
            return  # already gone: a concurrent delete finished first
        raise


def object_keys(image_id: str) -> dict[str, list[str]]:
    """Every object an image can have, by bucket role: deterministic, so no listing needed."""
    return {
        "uploads": [keys.incoming_key(image_id)],
        "media": [keys.original_key(image_id)]
        + [keys.thumbnail_key(image_id, size) for size in keys.THUMBNAIL_SIZES],
    }
