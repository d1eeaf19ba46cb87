"""DELETE /v1/shares/{share_id}: revoke one of the caller's share links."""

from __future__ import annotations

from fastapi import APIRouter, Response

from shoebox import records, shares
from shoebox.auth import Owner
from shoebox.errors import NotFound
from shoebox.observability import MetricUnit, logger, metrics
from shoebox.views import error_responses

router = APIRouter(tags=["shares"])


@router.delete(
    "/v1/shares/{share_id}",
    operation_id="deleteShare",
    status_code=204,
    response_class=Response,
    summary="Revoke a share link",
    description="The link's page and variants answer 404 from now on. Image URLs that a viewer "
    "already got stay valid until they expire (at most 1.5 delivery windows).",
    responses={204: {"description": "Revoked."}, **error_responses(401, 404)},
)
def delete_share(share_id: str, owner: Owner) -> Response:
    try:
        image_id, nonce = shares.split_share_id(share_id)
    except ValueError:
        raise NotFound("share not found", {"id": share_id}) from None
    logger.append_keys(image_id=image_id)
    records.remove_share(image_id, nonce, owner)
    metrics.add_metric(name="SharesRevoked", unit=MetricUnit.Count, value=1)
    logger.info("share revoked")
    return Response(status_code=204)
