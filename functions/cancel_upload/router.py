"""DELETE /v1/uploads/{id}: cancel a PENDING upload of any method, freeing its slot at once."""

from __future__ import annotations

from fastapi import APIRouter, Response

from shoebox import aws, records
from shoebox.auth import Owner
from shoebox.objects import ObjectStore
from shoebox.observability import MetricUnit, logger, metrics
from shoebox.settings import get_settings
from shoebox.views import described_error, error_responses

router = APIRouter(tags=["uploads"])


@router.delete(
    "/v1/uploads/{id}",
    operation_id="cancelUpload",
    status_code=204,
    response_class=Response,
    summary="Cancel an upload",
    description="Removes a PENDING upload: its record and slot, S3's multipart upload and any bytes "
    "sent. Later, the image is 404. Once the bytes have arrived, delete the image instead.",
    responses={
        204: {"description": "Cancelled."},
        **error_responses(401, 404),
        **described_error(409, "NOT_PENDING: the bytes arrived; DELETE /v1/images/{id} instead."),
    },
)
def cancel_upload(id: str, owner: Owner) -> Response:
    logger.append_keys(image_id=id)
    # The record (and its slot) first: from here an object that arrives finds no slot and is
    # deleted unprocessed; what is below is tidying, which the bucket's lifecycle also does.
    record = records.abort_pending(id, owner)
    settings = get_settings()
    store = ObjectStore(aws.s3())
    if record.multipart_upload_id is not None:
        store.abort_multipart(settings.uploads_bucket, record.upload_key, record.multipart_upload_id)
    store.delete(settings.uploads_bucket, [record.upload_key])
    metrics.add_metric(name="UploadsCancelled", unit=MetricUnit.Count, value=1)
    logger.info("upload cancelled", extra={"method": record.method.value})
    return Response(status_code=204)
