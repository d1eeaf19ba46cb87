"""POST /v1/uploads/{id}/complete: assemble a multipart upload from the parts the client sent."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from complete_upload.parts import Claimed, checked
from shoebox import aws, records, uploads
from shoebox.auth import Owner
from shoebox.errors import InvalidParts, NotMultipart, TransitionRefused, UploadExpired
from shoebox.objects import ObjectStore, PartsRefused, UploadGone
from shoebox.observability import MetricUnit, logger, metrics
from shoebox.records import Method
from shoebox.settings import get_settings
from shoebox.views import ImageView, described_error, error_responses, image_view

router = APIRouter(tags=["uploads"])


class CompletedPart(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    number: Annotated[int, Field(ge=1, le=uploads.MAX_PARTS)]
    etag: Annotated[
        str, Field(min_length=1, max_length=1024, description="The ETag S3 answered for the part.")
    ]


class Completion(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    parts: Annotated[list[CompletedPart], Field(min_length=1, max_length=uploads.MAX_PARTS)]


@router.post(
    "/v1/uploads/{id}/complete",
    operation_id="completeUpload",
    response_model=ImageView,
    summary="Complete a multipart upload",
    description="Checks the part list against the parts S3 holds (ascending, unique, ETags matching, "
    "no more bytes than declared), then has S3 assemble the file; validation follows as for any "
    "upload. Answers the image as the completion found it (PENDING): follow it with GET "
    "/v1/images/{id} or ?ids=. Completing again before validation took the bytes answers the "
    "same; after, 409 NOT_PENDING.",
    responses={
        **error_responses(401, 404),
        **described_error(400, "INVALID_PARTS (`details.reason`, `details.number`) or VALIDATION_ERROR."),
        **described_error(
            409, "NOT_PENDING: validation took the bytes; NOT_MULTIPART; UPLOAD_EXPIRED: ask for a new slot."
        ),
        **described_error(413, "PAYLOAD_TOO_LARGE: the parts hold more bytes than declared."),
    },
)
def complete_upload(id: str, body: Completion, owner: Owner) -> ImageView:
    logger.append_keys(image_id=id)
    # The answer is this PENDING record's view, never a later state's: a READY image's view would
    # need the rights to sign its variants' URLs, which this function has no use for otherwise.
    record = records.pending_upload(id, owner)
    if record.method is not Method.MULTIPART or record.multipart_upload_id is None:
        raise NotMultipart(f"the upload is a {record.method.value}, not MULTIPART", {"id": id})
    settings = get_settings()
    uploads.seconds_left(record, settings)  # an expired slot completes nothing
    store = ObjectStore(aws.s3())
    bucket, key, upload_id = settings.uploads_bucket, record.upload_key, record.multipart_upload_id
    try:
        held = store.list_parts(bucket, key, upload_id)
    except UploadGone as exc:
        if record.completion_requested:
            return image_view(record)  # a completion went through; validation has yet to run
        raise UploadExpired("the multipart upload no longer exists: ask for a new slot", {"id": id}) from exc
    parts = checked([Claimed(part.number, part.etag) for part in body.parts], held, int(record.size))
    try:
        # Noted before asking S3, so that "no such upload" can later be told from an abort.
        records.request_completion(id, owner)
    except TransitionRefused:
        records.pending_upload(id, owner)  # the slot moved on meanwhile: 404 or NOT_PENDING
        raise
    try:
        store.complete_multipart(bucket, key, upload_id, parts)
    except PartsRefused as exc:
        records.withdraw_completion(id)
        raise InvalidParts(f"S3 refused the parts: {exc}", {"field": "parts", "reason": exc.code}) from exc
    except UploadGone:
        logger.info("a concurrent completion went through first")
    metrics.add_metric(name="MultipartCompleted", unit=MetricUnit.Count, value=1)
    logger.info("multipart upload completed", extra={"parts": len(parts)})
    return image_view(record)
