"""POST /v1/uploads: record a PENDING image and hand out a presigned upload to S3 — or, for bytes
the caller already has READY (same SHA-256), that image and no slot."""

from __future__ import annotations

import time
import unicodedata
from typing import Annotated, Literal

from fastapi import APIRouter, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from shoebox import aws, keys, media_types, records, uploads, usage
from shoebox.auth import Owner
from shoebox.errors import PayloadTooLarge, UnsupportedMediaType
from shoebox.objects import ObjectStore
from shoebox.observability import MetricUnit, logger, metrics
from shoebox.records import Method
from shoebox.settings import Settings, get_settings
from shoebox.views import ImageView, described_error, error_responses, image_view

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
    size: int = Field(
        description="Bytes the client will upload: 1 … MAX_UPLOAD_BYTES (MULTIPART: MaxMultipartUploadBytes)."
    )
    method: Literal["POST", "PUT", "MULTIPART"] = Field(
        "POST",
        description="POST (default): S3 enforces key, type, size and checksum. PUT: Content-Type and "
        "checksum signed. MULTIPART: resumable, in parts (see GET /v1/uploads/{id}).",
    )
    sha256: Annotated[str | None, Field(pattern="^[0-9A-Fa-f]{64}$")] = Field(
        None,
        description="SHA-256 of the file (hex). A READY image of the caller with these bytes is answered "
        "instead of a slot (200, `duplicate`); else S3 and validation refuse any other bytes.",
    )


class UploadCreated(BaseModel):
    image: ImageView
    upload: uploads.Upload


class Duplicate(BaseModel):
    image: ImageView
    duplicate: Literal[True]


@router.post(
    "/v1/uploads",
    operation_id="createUpload",
    status_code=201,
    response_model=UploadCreated | Duplicate,
    summary="Get an upload slot",
    description="Records a PENDING image and returns a presigned POST (default), PUT or multipart "
    "upload that sends the file straight to S3 under a key the server chose. With `sha256` of bytes "
    "the caller already has as a READY image: 200 with that image and `duplicate: true`, no slot.",
    responses={
        200: {"model": Duplicate, "description": "The caller has these bytes already: no slot is made."},
        **error_responses(400, 401, 413, 415),
        **described_error(403, "QUOTA_EXCEEDED: MaxImagesPerOwner or MaxBytesPerOwner reached (`details`)."),
        **described_error(429, "TOO_MANY_PENDING: MaxPendingPerOwner slots are open; see Retry-After."),
    },
)
def create_upload(body: UploadRequest, owner: Owner, response: Response) -> UploadCreated | Duplicate:
    settings = get_settings()
    if body.content_type not in ALLOWED_CONTENT_TYPES:
        raise UnsupportedMediaType(
            f"content_type {body.content_type!r} is not accepted",
            {"field": "content_type", "allowed": list(ALLOWED_CONTENT_TYPES)},
        )
    method = Method(body.method)
    max_bytes = (
        settings.max_multipart_upload_bytes if method is Method.MULTIPART else settings.max_upload_bytes
    )
    if not 1 <= body.size <= max_bytes:
        raise PayloadTooLarge(
            f"size must be 1 … {max_bytes} bytes", {"field": "size", "max_bytes": max_bytes}
        )
    sha256 = body.sha256.lower() if body.sha256 else None

    if sha256 is not None and (existing := records.find_duplicate(owner, sha256)) is not None:
        logger.append_keys(image_id=existing.id)
        metrics.add_metric(name="UploadsDeduplicated", unit=MetricUnit.Count, value=1)
        logger.info("duplicate upload: answered with the image the owner has")
        response.status_code = 200
        return Duplicate(image=image_view(existing), duplicate=True)

    record = _new_slot(body, owner, method, sha256, settings)
    logger.append_keys(image_id=record.id)
    upload = uploads.presigned(record, settings)
    metrics.add_dimension(name="method", value=method.value)
    metrics.add_metric(name="UploadsIssued", unit=MetricUnit.Count, value=1)
    logger.info(
        "upload slot issued",
        extra={"method": method.value, "content_type": body.content_type, "size": body.size},
    )
    return UploadCreated(image=image_view(record), upload=upload)


def _new_slot(
    body: UploadRequest, owner: str, method: Method, sha256: str | None, settings: Settings
) -> records.ImageRecord:
    """The PENDING record and its slot; for MULTIPART, S3's multipart upload first (its UploadId
    is in the record from the start), taken back if the slot is then refused."""
    limits = usage.Limits.from_settings(settings)
    image_id = keys.new_image_id()
    multipart = None
    store = ObjectStore(aws.s3())
    key = keys.incoming_key(image_id)
    if method is Method.MULTIPART:
        usage.precheck(owner, body.size, limits, time.time())  # most refusals cost no S3 call
        upload_id = store.create_multipart(settings.uploads_bucket, key, body.content_type)
        multipart = records.Multipart(upload_id, uploads.part_size_for(body.size))
    try:
        return records.create_pending(
            owner,
            body.filename,
            body.content_type,
            body.size,
            settings.pending_ttl_seconds,
            sha256=sha256,
            multipart=multipart,
            method=method,
            image_id=image_id,
            limits=limits,
        )
    except Exception:
        if multipart is not None:  # else the bucket's lifecycle aborts it after a day
            store.abort_multipart(settings.uploads_bucket, key, multipart.upload_id)
        raise
