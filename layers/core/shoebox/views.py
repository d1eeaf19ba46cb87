"""What the API shows: the JSON shape of an image (SPEC §3 `Image`) and of an error.

The models double as the OpenAPI schema, so the document and the responses cannot drift.
"""

from __future__ import annotations

from typing import Any, Literal, cast, get_args

from pydantic import BaseModel, Field

from shoebox import keys, media_types, storage
from shoebox.models import ImageModel, Status
from shoebox.settings import get_settings

PublicStatus = Literal["PENDING", "PROCESSING", "READY", "REJECTED", "FAILED"]
VARIANT_NAMES = ("original", *(str(size) for size in keys.THUMBNAIL_SIZES))


class Variant(BaseModel):
    width: int
    height: int
    content_type: str
    url: str = Field(description="Short-lived presigned GET of this variant.")


class ImageError(BaseModel):
    code: str = Field(description="The rule an upload broke (e.g. TYPE_MISMATCH), or why it failed.")
    message: str


class Image(BaseModel):
    id: str
    status: PublicStatus
    filename: str
    content_type: str = Field(description="As declared when the upload slot was issued.")
    size: int = Field(description="As declared when the upload slot was issued, in bytes.")
    width: int | None = Field(description="Pixels, after EXIF orientation; null until validated.")
    height: int | None
    format: str | None = Field(description='The detected format ("JPEG", "PNG", ...).')
    sha256: str | None = Field(description="Of the clean original.")
    created_at: str
    updated_at: str
    error: ImageError | None = Field(description="Set when REJECTED or FAILED.")
    variants: dict[str, Variant] = Field(
        description='Empty until READY; then "original" and each thumbnail ("256", "512", '
        '"1024") not larger than the original.'
    )


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


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for a route's error statuses, all with the SPEC error body."""
    return {status: {"model": ErrorBody, "description": _ERROR_DESCRIPTIONS[status]} for status in statuses}


def download_name(filename: str, variant: str, content_type: str) -> str:
    """The name a browser saves a variant under: the upload's own for the original,
    `<stem>-<size><ext>` for a thumbnail."""
    if variant == "original":
        return filename
    stem, dot, _ = filename.rpartition(".")
    base = stem if dot and stem else filename
    media = media_types.ACCEPTED.get(content_type)
    return f"{base}-{variant}{media.extension if media else ''}"


def stored_variants(image: ImageModel) -> dict[str, dict[str, Any]]:
    """name -> {width, height, content_type, key}, in VARIANT_NAMES order; {} unless READY."""
    if image.status != Status.READY or image.variants is None:
        return {}
    stored: dict[str, dict[str, Any]] = image.variants.as_dict()  # type: ignore[no-untyped-call]
    return {name: stored[name] for name in VARIANT_NAMES if name in stored}


def variant_url(image: ImageModel, name: str, variant: dict[str, Any]) -> str:
    settings = get_settings()
    content_type = str(variant["content_type"])
    return storage.presign_download(
        settings.media_bucket,
        str(variant["key"]),
        content_type,
        download_name(image.filename, name, content_type),
        settings.download_url_ttl_seconds,
    )


def _public_status(status: str) -> PublicStatus:
    if status not in get_args(PublicStatus):
        # DELETING is internal: the service never hands such a record to a view.
        raise ValueError(f"status {status} is not shown by the API")
    return cast(PublicStatus, status)


def _optional_int(value: float | None) -> int | None:
    return None if value is None else int(value)


def image_view(image: ImageModel) -> Image:
    error = ImageError(code=image.error_code, message=image.error_message or "") if image.error_code else None
    variants = {
        name: Variant(
            width=int(variant["width"]),
            height=int(variant["height"]),
            content_type=str(variant["content_type"]),
            url=variant_url(image, name, variant),
        )
        for name, variant in stored_variants(image).items()
    }
    return Image(
        id=image.id,
        status=_public_status(image.status),
        filename=image.filename,
        content_type=image.content_type,
        size=int(image.size),
        width=_optional_int(image.width),
        height=_optional_int(image.height),
        format=image.format,
        sha256=image.sha256,
        created_at=image.created_at,
        updated_at=image.updated_at,
        error=error,
        variants=variants,
    )
