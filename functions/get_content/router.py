"""GET /v1/images/{id}/content: a redirect to the signed CDN URL of one variant."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import RedirectResponse

from shoebox import records, views
from shoebox.auth import Owner
from shoebox.errors import NotFound
from shoebox.observability import logger
from shoebox.variants import VARIANT_NAMES

router = APIRouter(tags=["images"])


@router.get(
    "/v1/images/{id}/content",
    operation_id="getContent",
    status_code=302,
    response_class=RedirectResponse,
    summary="Download an image",
    description="Redirects (302) to the variant's signed CDN URL (the same one for a whole window, "
    "as in the Image's `variants`). A thumbnail is never larger than the original, so a small "
    "image lacks the bigger variants (404).",
    responses={
        302: views.REDIRECT_RESPONSE,
        **views.error_responses(401, 404, 409),
    },
)
def get_content(
    id: str,
    owner: Owner,
    variant: Annotated[
        str, Query(description="original, " + ", ".join(VARIANT_NAMES[1:]) + ".")
    ] = "original",
) -> RedirectResponse:
    logger.append_keys(image_id=id)
    record = records.get_owned(id, owner)
    if variant not in VARIANT_NAMES:
        raise NotFound(f"unknown variant {variant!r}", {"field": "variant", "allowed": list(VARIANT_NAMES)})
    records.require_ready(record)
    stored = record.ready_variants().get(variant)
    if stored is None:
        raise NotFound(f"image has no {variant} variant", {"field": "variant"})
    return RedirectResponse(views.variant_url(stored), status_code=302)
