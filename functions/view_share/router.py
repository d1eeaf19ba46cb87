"""GET /s/{token}: the public page of a share link (no auth: the token is the permission)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from shoebox import shares, views
from shoebox.app import BaseUrl, Now
from shoebox.observability import logger
from shoebox.views import error_responses
from view_share import page, placeholder

router = APIRouter(tags=["shares"])


@router.get(
    "/s/{token}",
    operation_id="viewShare",
    response_class=HTMLResponse,
    summary="A shared image's page",
    description="HTML: the image (its variants in `srcset`, the placeholder painted first) with "
    "Open Graph tags, so that a pasted link previews in chat apps. No script. Unknown, revoked "
    "and expired links, and links to a deleted image, are 404.",
    responses={200: {"content": {"text/html": {}}}, **error_responses(404)},
)
def view_share(token: str, base_url: BaseUrl, now: Now) -> HTMLResponse:
    record = shares.shared_image(token, now)
    logger.append_keys(image_id=record.id)
    pictures = [
        page.Picture(name, views.variant_url(variant), variant.width, variant.height, variant.content_type)
        for name, variant in record.ready_variants().items()
    ]
    shown = page.render(
        title=record.filename,
        page_url=shares.share_url(base_url, token),
        preview_url=shares.share_url(base_url, token, page.preview(pictures).name),
        pictures=pictures,
        placeholder_url=placeholder.data_url(record.placeholder),
    )
    return HTMLResponse(shown.html, headers=shown.headers)
