"""GET /v1/uploads/{id}: where a PENDING upload stands, and fresh URLs to finish it (resume)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from shoebox import aws, records, uploads
from shoebox.auth import Owner
from shoebox.errors import NotPending, UploadExpired
from shoebox.objects import ObjectStore, UploadGone
from shoebox.records import Method
from shoebox.settings import get_settings
from shoebox.views import ImageView, described_error, error_responses, image_view

router = APIRouter(tags=["uploads"])


class ReceivedPart(BaseModel):
    number: int
    size: int
    etag: str


class UploadStatus(BaseModel):
    image: ImageView
    received: list[ReceivedPart] = Field(
        description="MULTIPART: the parts S3 holds already (send only the others); [] for POST and PUT."
    )
    upload: uploads.Upload


@router.get(
    "/v1/uploads/{id}",
    operation_id="getUpload",
    response_model=UploadStatus,
    summary="Resume an upload",
    description="For a PENDING upload of any method: the parts S3 already holds (MULTIPART) and "
    "fresh presigned URLs for the rest, so an interrupted upload continues where it stopped.",
    responses={
        **error_responses(401, 404),
        **described_error(
            409, "NOT_PENDING: the bytes arrived (follow the image); UPLOAD_EXPIRED: ask for a new slot."
        ),
    },
)
def get_upload(id: str, owner: Owner) -> UploadStatus:
    record = records.pending_upload(id, owner)
    settings = get_settings()
    received: list[ReceivedPart] = []
    if record.method is Method.MULTIPART and record.multipart_upload_id is not None:
        store = ObjectStore(aws.s3())
        try:
            parts = store.list_parts(settings.uploads_bucket, record.upload_key, record.multipart_upload_id)
        except UploadGone as exc:
            if record.completion_requested:
                raise NotPending("the upload was completed: its bytes are being checked", {"id": id}) from exc
            raise UploadExpired(
                "the multipart upload no longer exists: ask for a new slot", {"id": id}
            ) from exc
        received = [ReceivedPart(number=part.number, size=part.size, etag=part.etag) for part in parts]
    upload = uploads.presigned(record, settings, received=(part.number for part in received))
    return UploadStatus(image=image_view(record), received=received, upload=upload)
