"""GET /v1/images: the caller's images, newest first, a page at a time — or, with `ids`, the
caller's images among those ids in one request (a client following many uploads at once)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from shoebox import records
from shoebox.auth import Owner
from shoebox.errors import BadRequest
from shoebox.records import Status
from shoebox.views import ImageView, PublicStatus, error_responses, image_view

router = APIRouter(tags=["images"])


class ImageList(BaseModel):
    items: list[ImageView]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last.")


@router.get(
    "/v1/images",
    operation_id="listImages",
    response_model=ImageList,
    summary="List my images",
    description="The caller's images, newest first. With `ids`: only those of the caller among them "
    "(unknown or foreign ids are left out; `status` still filters, `limit` and `cursor` are ignored, "
    "`next_cursor` is null).",
    responses=error_responses(400, 401),
)
def list_images(
    owner: Owner,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size.")] = 20,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.")] = None,
    status: Annotated[PublicStatus | None, Query(description="Only images in this state.")] = None,
    ids: Annotated[
        str | None, Query(description=f"Comma-separated image ids, at most {records.MAX_BATCH}.")
    ] = None,
) -> ImageList:
    wanted = Status(status) if status else None
    if ids is not None:
        chosen = [part.strip() for part in ids.split(",") if part.strip()]
        if not 1 <= len(chosen) <= records.MAX_BATCH:
            raise BadRequest(f"ids: 1 … {records.MAX_BATCH} image ids, comma-separated", {"field": "ids"})
        found = records.get_many(owner, chosen, wanted)
        return ImageList(items=[image_view(record) for record in found], next_cursor=None)
    page = records.list_owned(owner, limit, cursor, wanted)
    return ImageList(items=[image_view(record) for record in page.items], next_cursor=page.next_cursor)
