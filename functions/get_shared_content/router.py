"""GET /s/{token}/{variant}: a redirect to the signed CDN URL of a shared image's variant (no auth:
the token is the permission). Link previews point here: the URL outlives any one signature."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from shoebox import shares, views
from shoebox.app import Now
from shoebox.errors import NotFound
from shoebox.observability import logger

router = APIRouter(tags=["shares"])

# Short: a revoked link stops redirecting soon; the target itself is the same all window.
CACHE_CONTROL = "public, max-age=60"


@router.get(
    "/s/{token}/{variant}",
    operation_id="getSharedContent",
    status_code=302,
    response_class=RedirectResponse,
    summary="A shared image's variant",
    description="Redirects (302) to the variant's signed CDN URL. Unknown, revoked and expired "
    "links, links to a deleted image, and variants the image does not have are 404.",
    responses={
        302: views.REDIRECT_RESPONSE,
        **views.error_responses(404),
    },
)
def get_shared_content(token: str, variant: str, now: Now) -> RedirectResponse:
    # The token first: a bad one gets the same answer whatever the variant.
    record = shares.shared_image(token, now)
    logger.append_keys(image_id=record.id)
    stored = record.ready_variants().get(variant)
    if stored is None:
        raise NotFound(f"the image has no {variant!r} variant", {"field": "variant"})
    headers = {"cache-control": CACHE_CONTROL, "referrer-policy": "no-referrer"}
    return RedirectResponse(views.variant_url(stored), status_code=302, headers=headers)
