"""POST /v1/uploads: record a PENDING image and hand out a presigned upload to S3."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from shoebox import keys, media_types, presign, records
from shoebox.auth import Owner
from shoebox.errors import PayloadTooLarge, UnsupportedMediaType
from shoebox.observability import MetricUnit, logger, metrics
from shoebox.settings import get_settings
from shoebox.views import ImageView, error_responses, image_view

ALLOWED_CONTENT_TYPES = tuple(media_types.ACCEPTED)

# Bidi embeddings, overrides and isolates: invisible, and they make "gpj.exe" read as "exe.jpg".
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

router = APIRouter(tags=["uploads"])


def _no_control_characters(value: str) -> str:
    # Cc: C0/C1 controls (\n, \x00, ...); Cs: lone surrogates, which JSON can carry but no
    # UTF-8 store (DynamoDB, a header) can.
    if any(unicodedata.category(char) in ("Cc", "Cs") or char in _BIDI_CONTROLS for char in value):
        raise ValueError("must not contain control characters")
    return value


class UploadRequest(BaseModel):
    # Strict: "12", 12.0 and true are not a size; an unknown field is a client bug, not noise.
    model_config = ConfigDict(strict=True, extra="forbid")

    filename: Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_no_control_characters)]
    content_type: str = Field(description="One of " + ", ".join(ALLOWED_CONTENT_TYPES) + ".")
    size: int = Field(description="Bytes the client will upload: 1 … MAX_UPLOAD_BYTES.")
    method: Literal["POST", "PUT"] = Field(
        "POST", description="POST (default): S3 enforces key, type and size. PUT: Content-Type signed."
    )


class PostUpload(BaseModel):
    method: Literal["POST"]
    url: str
    fields: dict[str, str] = Field(
        description="Send every field, then the file last, as multipart/form-data to `url`."
    )
    expires_at: str
    max_bytes: int


class PutUpload(BaseModel):
    method: Literal["PUT"]
    url: str
    headers: dict[str, str] = Field(description="Send exactly these headers with the PUT.")
    expires_at: str
    max_bytes: int


class UploadCreated(BaseModel):
    image: ImageView
    upload: Annotated[PostUpload | PutUpload, Field(discriminator="method")]


@router.post(
    "/v1/uploads",
    operation_id="createUpload",
    status_code=201,
    response_model=UploadCreated,
    summary="Get an upload slot",
    description="Records a PENDING image and returns a presigned POST (default) or PUT that "
    "uploads the file straight to S3 under a key the server chose.",
    responses=error_responses(400, 401, 413, 415),
)
def create_upload(body: UploadRequest, owner: Owner) -> UploadCreated:
    settings = get_settings()
    if body.content_type not in ALLOWED_CONTENT_TYPES:
        raise UnsupportedMediaType(
            f"content_type {body.content_type!r} is not accepted",
            {"field": "content_type", "allowed": list(ALLOWED_CONTENT_TYPES)},
        )
    if not 1 <= body.size <= settings.max_upload_bytes:
        raise PayloadTooLarge(
            f"size must be 1 … {settings.max_upload_bytes} bytes",
            {"field": "size", "max_bytes": settings.max_upload_bytes},
        )

    record = records.create_pending(
        owner, body.filename, body.content_type, body.size, settings.pending_ttl_seconds
    )
    logger.append_keys(image_id=record.id)
    key = keys.incoming_key(record.id)
    upload: PostUpload | PutUpload
    if body.method == "POST":
        post = presign.upload_post(
            settings.uploads_bucket, key, body.content_type, body.size, settings.upload_url_ttl_seconds
        )
        upload = PostUpload(
            method="POST", url=post.url, fields=post.fields, expires_at=post.expires_at, max_bytes=body.size
        )
    else:
        put = presign.upload_put(
            settings.uploads_bucket, key, body.content_type, settings.upload_url_ttl_seconds
        )
        upload = PutUpload(
            method="PUT", url=put.url, headers=put.headers, expires_at=put.expires_at, max_bytes=body.size
        )

    metrics.add_dimension(name="method", value=body.method)
    metrics.add_metric(name="UploadsIssued", unit=MetricUnit.Count, value=1)
    logger.info(
        "upload slot issued",
        extra={"method": body.method, "content_type": body.content_type, "size": body.size},
    )
    return UploadCreated(image=image_view(record), upload=upload)
