"""DELETE /v1/images/{id}: remove every object of the image, then its record."""

from __future__ import annotations

from fastapi import APIRouter, Response

from shoebox import aws, records, variants
from shoebox.auth import Owner
from shoebox.objects import ObjectStore
from shoebox.observability import MetricUnit, logger, metrics
from shoebox.settings import get_settings
from shoebox.views import error_responses

router = APIRouter(tags=["images"])


@router.delete(
    "/v1/images/{id}",
    operation_id="deleteImage",
    status_code=204,
    response_class=Response,
    summary="Delete an image",
    description="Removes the upload, the original and every thumbnail, then the record. "
    "A later GET or DELETE is 404.",
    responses={204: {"description": "Deleted."}, **error_responses(401, 404)},
)
def delete_image(id: str, owner: Owner) -> Response:
    logger.append_keys(image_id=id)
    # Tombstone first: no pipeline step can move the image on (or bring it back) from here, and
    # a delete interrupted below is finished by the next one (DELETING is still deletable).
    records.begin_delete(id, owner)
    settings = get_settings()
    store = ObjectStore(aws.s3())
    objects = variants.object_keys(id)
    store.delete(settings.uploads_bucket, objects["uploads"])
    store.delete(settings.media_bucket, objects["media"])
    records.finish_delete(id)
    metrics.add_metric(name="ImagesDeleted", unit=MetricUnit.Count, value=1)
    logger.info("image deleted")
    return Response(status_code=204)
