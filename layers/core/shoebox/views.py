"""What the API shows: the JSON shape of an image (SPEC §3 `Image`) and of an error.

The models double as the OpenAPI schema, so the document and the responses cannot drift. The
views are named for what they are (ImageView, VariantView) but keep the SPEC's schema names:
pydantic names a schema after the class's `__qualname__`, and titles it after `title`.
"""

from __future__ import annotations

from typing import Any, Literal, cast, get_args

from pydantic import BaseModel, ConfigDict, Field

from shoebox import cdn, shares
from shoebox.records import ImageRecord, StoredShare
from shoebox.variants import Variant

PublicStatus = Literal["PENDING", "PROCESSING", "READY", "REJECTED", "FAILED"]


class VariantView(BaseModel):
    __qualname__ = "Variant"
    model_config = ConfigDict(title="Variant")

    width: int
    height: int
    content_type: str
    url: str = Field(
        description="Signed CDN URL of this variant: the same for a whole window "
        "(DeliveryUrlWindowSeconds), then a new one; valid at least half a window."
    )


class ImageError(BaseModel):
    code: str = Field(description="The rule an upload broke (e.g. TYPE_MISMATCH), or why it failed.")
    message: str


class ImageView(BaseModel):
    __qualname__ = "Image"
    model_config = ConfigDict(title="Image")

    id: str
    status: PublicStatus
    filename: str
    content_type: str = Field(description="As declared when the upload slot was issued.")
    size: int = Field(description="As declared when the upload slot was issued, in bytes.")
    width: int | None = Field(description="Pixels, after EXIF orientation; null until validated.")
    height: int | None
    format: str | None = Field(description='The detected format ("JPEG", "PNG", ...).')
    sha256: str | None = Field(
        description="SHA-256 (hex) of the bytes as uploaded: as declared for the slot, or as "
        "validation read them; the served original may differ (its metadata stripped)."
    )
    created_at: str
    updated_at: str
    error: ImageError | None = Field(description="Set when REJECTED or FAILED.")
    variants: dict[str, VariantView] = Field(
        description='Empty until READY; then "original" and each thumbnail ("256", "512", '
        '"1024") not larger than the original.'
    )
    placeholder: str | None = Field(
        description="READY: a ThumbHash (standard base64): a blurred preview to paint before a variant loads."
    )
    taken_at: str | None = Field(description="EXIF DateTimeOriginal (ISO 8601), when the image has it.")


class ShareView(BaseModel):
    __qualname__ = "Share"
    model_config = ConfigDict(title="Share")

    id: str = Field(description="`<image id>.<nonce>`: what DELETE /v1/shares/{share_id} takes.")
    image_id: str
    url: str = Field(description="The public page of the link (`<API base URL>/s/{token}`).")
    created_at: str
    expires_at: str | None = Field(description="Null: the link lasts until revoked.")


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: dict[str, Any]


class ErrorBody(BaseModel):
    error: ErrorDetail


_ERROR_DESCRIPTIONS = {
    400: "VALIDATION_ERROR: a missing, malformed or out-of-range parameter (`details.field`).",
    401: "No valid bearer token.",
    404: "NOT_FOUND: no such image, or not the caller's.",
    409: "NOT_READY: the image is not READY yet.",
    413: "PAYLOAD_TOO_LARGE: `size` is outside 1 … MAX_UPLOAD_BYTES.",
    415: "UNSUPPORTED_MEDIA_TYPE: `content_type` is not an accepted image type.",
}


# The OpenAPI response of a route that redirects (302) to a variant's signed CDN URL.
REDIRECT_RESPONSE: dict[str, Any] = {
    "description": "Found: `Location` is the signed CDN URL.",
    "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}},
    "content": None,
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for a route's error statuses, all with the SPEC error body."""
    return {status: {"model": ErrorBody, "description": _ERROR_DESCRIPTIONS[status]} for status in statuses}


def described_error(status: int, description: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for an error status whose meaning is the route's own."""
    return {status: {"model": ErrorBody, "description": description}}


def variant_url(variant: Variant) -> str:
    """The variant's signed CDN URL (DESIGN decision 12): one per window, so caches hit."""
    return cdn.signer().url(variant.key)


def _public_status(status: str) -> PublicStatus:
    if status not in get_args(PublicStatus):
        # DELETING is internal: `records` never hands such a record to a view.
        raise ValueError(f"status {status} is not shown by the API")
    return cast(PublicStatus, status)


def _optional_int(value: float | None) -> int | None:
    return None if value is None else int(value)


def image_view(record: ImageRecord) -> ImageView:
    error = None
    if record.error_code:
        error = ImageError(code=record.error_code, message=record.error_message or "")
    variants = {
        name: VariantView(
            width=variant.width,
            height=variant.height,
            content_type=variant.content_type,
            url=variant_url(variant),
        )
        for name, variant in record.ready_variants().items()
    }
    return ImageView(
        id=record.id,
        status=_public_status(record.status),
        filename=record.filename,
        content_type=record.content_type,
        size=int(record.size),
        width=_optional_int(record.width),
        height=_optional_int(record.height),
        format=record.format,
        sha256=record.sha256,
        created_at=record.created_at,
        updated_at=record.updated_at,
        error=error,
        variants=variants,
        placeholder=record.placeholder,
        taken_at=record.taken_at,
    )


def share_view(image_id: str, share: StoredShare, base_url: str, key: bytes) -> ShareView:
    share_id = shares.join_share_id(image_id, share.nonce)
    return ShareView(
        id=share_id,
        image_id=image_id,
        url=shares.share_url(base_url, shares.share_token(share_id, key)),
        created_at=share.created_at,
        expires_at=share.expires_at,
    )
