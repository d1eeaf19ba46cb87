"""The page's viewer and share links in a real Chromium against the local stack: a thumbnail opens
the full image with its placeholder painted first (the JS decoder's pixels are the server's), ←
and → move through the gallery, the details show size, pixels and when it was taken and nothing
about where; the Share dialog creates, copies, lists and revokes links that work for anyone.

The images are made READY by the real pipeline first (tests.local.support.assert_upload_lands).
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, Route, expect
from view_share.placeholder import thumbhash_to_rgba

from infra.local import DevStack
from tests.e2e.web import sign_in, watched_page
from tests.local.support import User, assert_upload_lands, user_of
from tests.photos import make_photo
from tests.unit.samples import exif

pytestmark = [pytest.mark.e2e, pytest.mark.local]

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "e2e"
SETTLED_MS = 30_000
# What a location would look like in the page, however it was worded.
LOCATION = re.compile(r"gps|latitude|longitude|location|50°|50\.87|4\.69", re.IGNORECASE)


@dataclass
class Gallery:
    user: User
    images: list[dict[str, Any]]  # READY, newest first: the gallery's order


def _with_camera_exif(path: Path) -> bytes:
    """The photo as a camera would store it: a capture time and a GPS location."""
    out = io.BytesIO()
    with Image.open(path) as photo:
        photo.save(out, "JPEG", quality=88, exif=exif(1, gps=True))
    return out.getvalue()


@pytest.fixture(scope="module")
def gallery(stack: DevStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gallery]:
    folder = tmp_path_factory.mktemp("viewer")
    with user_of(stack, "e2e-viewer") as user:
        pier = make_photo(folder / "pier.jpg", (900, 1200), seed=31).read_bytes()
        dunes = make_photo(folder / "dunes.png", (800, 500), seed=32).read_bytes()
        harbour = _with_camera_exif(make_photo(folder / "harbour.jpg", (1200, 900), seed=33))
        ids = [
            user.upload(pier, filename="pier.jpg"),
            user.upload(dunes, "image/png", "dunes.png"),
            user.upload(harbour, filename="harbour.jpg"),
        ]
        landed = [assert_upload_lands(user, image_id) for image_id in ids]
        yield Gallery(user, landed[::-1])


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """May use the clipboard; must end with no page error and no console error (a CSP refusal
    is one)."""
    with watched_page(
        browser, console_errors=True, permissions=["clipboard-read", "clipboard-write"]
    ) as opened:
        yield opened


def _all_thumbnails_loaded(page: Page, count: int) -> None:
    page.wait_for_function(
        """count => [...document.querySelectorAll('#gallery li.card[data-status=READY] img')]
                   .filter(img => img.complete && img.naturalWidth > 0).length === count""",
        arg=count,
        timeout=SETTLED_MS,
    )


def test_a_thumbnail_opens_the_viewer_placeholder_first_then_arrows_move(
    stack: DevStack, gallery: Gallery, page: Page
) -> None:
    first, second, third = gallery.images
    sign_in(page, stack.api_url + "/", gallery.user.sub)
    _all_thumbnails_loaded(page, 3)

    # Hold every CDN response from now on: the viewer must show the placeholder meanwhile.
    held: list[Route] = []
    holding = [True]

    def hold(route: Route) -> None:
        if holding[0]:
            held.append(route)
        else:
            route.continue_()

    page.route(f"{stack.cdn_url}/**", hold)
    page.get_by_role("button", name=f"View {first['filename']}").click()

    expect(page.get_by_role("dialog", name=first["filename"])).to_be_visible()
    viewer = page.locator("#viewer")
    placeholder = viewer.locator(".viewer-placeholder")
    expect(placeholder).to_be_visible()
    page.wait_for_function("() => document.querySelector('.viewer-placeholder').naturalWidth > 0")
    assert (placeholder.get_attribute("src") or "").startswith("data:image/png;base64,")
    full = viewer.locator(".viewer-image")
    assert full.evaluate("img => img.naturalWidth") == 0  # its bytes are held: not painted yet
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-viewer-placeholder.png"))
    for _ in range(100):  # the route handler runs while the page is being waited on
        if held:
            break
        page.wait_for_timeout(100)
    assert held
    assert all("/originals/" in route.request.url or "/thumbnails/" in route.request.url for route in held)

    # The page's decoder paints exactly the server's placeholder pixels.
    decoded = page.evaluate(
        """async (b64) => {
            const { thumbHashToRGBA } = await import("./thumbhash.js");
            const { w, h, rgba } = thumbHashToRGBA(Uint8Array.from(atob(b64), c => c.charCodeAt(0)));
            return { w, h, rgba: Array.from(rgba) };
        }""",
        first["placeholder"],
    )
    width, height, rgba = thumbhash_to_rgba(base64.b64decode(first["placeholder"]))
    assert (decoded["w"], decoded["h"], bytes(decoded["rgba"])) == (width, height, rgba)

    holding[0] = False
    for route in held:
        route.continue_()
    expect(page.locator("#viewer-stage.loaded")).to_be_attached(timeout=SETTLED_MS)
    shown = full.evaluate("img => ({width: img.naturalWidth, src: img.currentSrc})")
    assert shown["width"] >= 512, shown
    assert shown["src"].startswith(f"{stack.cdn_url}/"), shown
    expect(placeholder).to_be_hidden()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-viewer.png"))

    # The details: what the API vouches for, the capture time, and nothing about a location.
    details = viewer.locator("#viewer-details")
    expect(details).to_contain_text("1200 × 900 px")
    expect(details).to_contain_text("JPEG")
    expect(details).to_contain_text(re.compile(r"Taken\s*Jun 1, 2024"))
    assert first["taken_at"] == "2024-06-01T12:00:00"
    assert not LOCATION.search(viewer.inner_text())
    expect(viewer.locator("#viewer-position")).to_have_text("1 of 3")

    # ← and → through the gallery's order; the ends stay put; Esc closes onto the card shown last.
    page.keyboard.press("ArrowRight")
    expect(page.locator("#viewer-title")).to_have_text(second["filename"])
    expect(viewer.locator("#viewer-details")).to_contain_text(f"{second['width']} × {second['height']} px")
    expect(viewer.locator("#viewer-details")).to_contain_text("not recorded")
    page.keyboard.press("ArrowRight")
    expect(page.locator("#viewer-title")).to_have_text(third["filename"])
    expect(viewer.locator("#viewer-position")).to_have_text("3 of 3")
    expect(page.get_by_role("button", name="Next image")).to_be_disabled()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#viewer-title")).to_have_text(third["filename"])
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#viewer-title")).to_have_text(second["filename"])
    expect(page.locator("#viewer-stage.loaded")).to_be_attached(timeout=SETTLED_MS)
    page.keyboard.press("Escape")
    expect(page.locator("#viewer")).to_be_hidden()
    expect(page.get_by_role("button", name=f"View {second['filename']}")).to_be_focused()


def test_share_links_are_created_copied_listed_and_revoked_from_the_page(
    stack: DevStack, gallery: Gallery, page: Page
) -> None:
    image = gallery.images[1]
    sign_in(page, stack.api_url + "/", gallery.user.sub)
    page.get_by_role("button", name=f"Share {image['filename']}").click()
    dialog = page.get_by_role("dialog", name=f"Share “{image['filename']}”")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("status")).to_have_text("No links yet.")

    dialog.get_by_label("Link lasts").select_option(label="1 day")
    dialog.get_by_role("button", name="Create link").click()
    rows = dialog.locator("#share-list li")
    expect(rows).to_have_count(1)
    expect(dialog.get_by_role("status")).to_have_text("Link copied to the clipboard.")
    day_link = rows.first.get_by_label("Share link").input_value()
    assert page.evaluate("() => navigator.clipboard.readText()") == day_link
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-share.png"))
    assert day_link.startswith(f"{stack.api_url}/s/")
    expect(rows.first).to_contain_text("expires")

    dialog.get_by_label("Link lasts").select_option(label="until revoked")
    dialog.get_by_role("button", name="Create link").click()
    expect(rows).to_have_count(2)
    lasting_link = rows.first.get_by_label("Share link").input_value()
    expect(rows.first).to_contain_text("until revoked")

    # What the page made is what the API has; each link shows the image to anyone.
    listed = gallery.user.http.get(f"/v1/images/{image['id']}/shares").json()["items"]
    assert [share["url"] for share in listed] == [lasting_link, day_link]
    assert listed[1]["expires_at"] is not None
    assert listed[0]["expires_at"] is None
    for link in (day_link, lasting_link):
        public = httpx.get(link)
        assert public.status_code == 200
        assert f'<meta property="og:image" content="{link}/' in public.text

    # Opened again (from the viewer this time), the list comes from the API.
    dialog.get_by_role("button", name="Done").click()
    page.get_by_role("button", name=f"View {image['filename']}").click()
    page.get_by_role("dialog", name=image["filename"]).get_by_role("button", name="Share").click()
    expect(rows).to_have_count(2)
    rows.nth(1).get_by_role("button", name="Copy").click()
    expect(dialog.get_by_role("status")).to_have_text("Link copied to the clipboard.")
    assert page.evaluate("() => navigator.clipboard.readText()") == day_link

    rows.nth(1).get_by_role("button", name="Revoke").click()
    expect(rows).to_have_count(1)
    expect(dialog.get_by_role("status")).to_contain_text("Link revoked")
    assert httpx.get(day_link).status_code == 404
    assert httpx.get(lasting_link).status_code == 200
    listed = gallery.user.http.get(f"/v1/images/{image['id']}/shares").json()["items"]
    assert [share["url"] for share in listed] == [lasting_link]
