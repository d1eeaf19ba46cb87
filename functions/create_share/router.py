"""POST /v1/images/{id}/shares: a public link to one of the caller's READY images."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict, Field

from shoebox import records, shares
from shoebox.app import BaseUrl, Now
from shoebox.auth import Owner
from shoebox.errors import BadRequest
from shoebox.observability import MetricUnit, logger, metrics
from shoebox.views import ErrorBody, ShareView, error_responses, share_view

router = APIRouter(tags=["shares"])


class ShareRequest(BaseModel):
    # Strict: "60", 60.5 and true are not seconds; an unknown field is a client bug, not noise.
    model_config = ConfigDict(strict=True, extra="forbid")

    expires_in: int | None = Field(
        None,
        description="Seconds the link works, 1 … MaxShareSeconds (30 days by default); "
        "null or absent: until revoked.",
    )


class ShareCreated(BaseModel):
    share: ShareView


@router.post(
    "/v1/images/{id}/shares",
    operation_id="createShare",
    status_code=201,
    response_model=ShareCreated,
    summary="Share an image",
    description="A public link to a READY image (`url`: a page with the image and link-preview "
    "tags, for anyone who has the link) until it expires or is revoked.",
    responses={
        **error_responses(400, 401, 404),
        409: {
            "model": ErrorBody,
            "description": "NOT_READY: the image is not READY; TOO_MANY_SHARES: it has "
            f"{records.MAX_SHARES_PER_IMAGE} live links already.",
        },
    },
)
def create_share(
    id: str,
    owner: Owner,
    base_url: BaseUrl,
    now: Now,
    body: Annotated[ShareRequest | None, Body()] = None,
) -> ShareCreated:
    logger.append_keys(image_id=id)
    expires_in = body.expires_in if body else None
    limit = shares.share_settings().max_seconds
    if expires_in is not None and not 1 <= expires_in <= limit:
        raise BadRequest(
            f"expires_in: seconds, 1 to {limit}, or null for a link that lasts until revoked",
            {"field": "expires_in", "max": limit},
        )
    key = shares.token_key()  # before the write: a link is never made that cannot be shown
    expires_at = None if expires_in is None else now + timedelta(seconds=expires_in)
    stored = records.add_share(id, owner, shares.new_nonce(), now, expires_at)
    metrics.add_metric(name="SharesCreated", unit=MetricUnit.Count, value=1)
    logger.info("share created", extra={"expires_in": expires_in})
    return ShareCreated(share=share_view(id, stored, base_url, key))
