"""GET /v1/images/{id}/shares: the live links to one of the caller's images."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from shoebox import records, shares
from shoebox.app import BaseUrl, Now
from shoebox.auth import Owner
from shoebox.observability import logger
from shoebox.views import ShareView, error_responses, share_view

router = APIRouter(tags=["shares"])


class ShareList(BaseModel):
    items: list[ShareView]


@router.get(
    "/v1/images/{id}/shares",
    operation_id="listShares",
    response_model=ShareList,
    summary="List an image's share links",
    description="The links that work now, newest first (expired and revoked ones are left out).",
    responses=error_responses(401, 404),
)
def list_shares(id: str, owner: Owner, base_url: BaseUrl, now: Now) -> ShareList:
    logger.append_keys(image_id=id)
    record = records.get_owned(id, owner)
    live = record.live_shares(now)
    if not live:
        return ShareList(items=[])
    key = shares.token_key()
    return ShareList(items=[share_view(record.id, share, base_url, key) for share in live])
