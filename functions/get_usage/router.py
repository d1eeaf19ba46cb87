"""GET /v1/usage: what the caller stores and has in flight, and the limits (SPEC §3 quotas)."""

from __future__ import annotations

import time

from fastapi import APIRouter
from pydantic import BaseModel, Field

from shoebox import usage
from shoebox.auth import Owner
from shoebox.settings import get_settings
from shoebox.views import error_responses

router = APIRouter(tags=["usage"])


class UsageLimits(BaseModel):
    images: int = Field(description="MaxImagesPerOwner.")
    bytes: int = Field(description="MaxBytesPerOwner.")
    pending: int = Field(description="MaxPendingPerOwner.")


class UsageView(BaseModel):
    images: int = Field(description="PROCESSING and READY images.")
    bytes: int = Field(description="Size of their stored clean originals.")
    pending: int = Field(description="Open upload slots (not expired, bytes not arrived).")
    limits: UsageLimits


@router.get(
    "/v1/usage",
    operation_id="getUsage",
    response_model=UsageView,
    summary="My usage and limits",
    description="Counts kept exact under concurrency; a new slot is refused once images or bytes, "
    "open slots included, would pass a limit (403 QUOTA_EXCEEDED), or with too many open slots (429).",
    responses=error_responses(401),
)
def get_usage(owner: Owner) -> UsageView:
    limits = usage.Limits.from_settings(get_settings())
    found = usage.current(owner, time.time())
    return UsageView(
        images=found.images,
        bytes=found.bytes,
        pending=found.pending,
        limits=UsageLimits(images=limits.images, bytes=limits.bytes, pending=limits.pending),
    )
