"""GET /v1/images/{id}: one of the caller's images."""

from __future__ import annotations

from fastapi import APIRouter

from shoebox import records
from shoebox.auth import Owner
from shoebox.observability import logger
from shoebox.views import ImageView, error_responses, image_view

router = APIRouter(tags=["images"])


@router.get(
    "/v1/images/{id}",
    operation_id="getImage",
    response_model=ImageView,
    summary="Get an image",
    description="Its state, metadata and, once READY, short-lived URLs of every variant.",
    responses=error_responses(401, 404),
)
def get_image(id: str, owner: Owner) -> ImageView:
    logger.append_keys(image_id=id)
    return image_view(records.get_owned(id, owner))
