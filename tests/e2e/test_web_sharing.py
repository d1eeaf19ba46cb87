"""Hosting in a real Chromium against the local stack: the gallery's second load comes from the
browser's cache (the same signed URL all window), a share link shows the image to a browser that
never signed in, and `/s/{token}/512` works as an <img> on another site's page until revoked.

Each test starts from an image the real pipeline made READY (tests.local.support.assert_upload_lands).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page

from infra.local import DevStack
from tests.e2e.web import console_error, sign_in
from tests.local.support import User, assert_upload_lands, user_of
from tests.photos import make_photo

pytestmark = [pytest.mark.e2e, pytest.mark.local]

SETTLED_MS = 30_000


@dataclass
class Owner:
    user: User
    image: dict[str, Any]  # READY


@pytest.fixture
def owner(stack: DevStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Owner]:
    photo = make_photo(tmp_path_factory.mktemp("photos") / "harbour.jpg", (1200, 900), seed=5).read_bytes()
    with user_of(stack, "e2e-share") as user:
        yield Owner(user, assert_upload_lands(user, user.upload(photo, filename="harbour.jpg")))


@pytest.fixture
def fresh(browser: Browser) -> Iterator[Any]:
    """New browser contexts (no cookies, storage or cache: a browser that never signed in); each
    must end with no page error and, unless `failing_loads` is expected, no console error (a CSP
    refusal is one, and so is a resource that does not load)."""
    contexts: list[BrowserContext] = []
    problems: list[str] = []

    def open_page(*, failing_loads: bool = False) -> Page:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        if not failing_loads:
            page.on("console", lambda message: problems.extend(console_error(message)))
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not problems, problems


def loaded(image: Locator) -> dict[str, Any]:
    """The <img> once the browser is done with it: whether it shows, its size and source."""
    image.page.wait_for_function("img => img.complete", arg=image.element_handle(), timeout=SETTLED_MS)
    state: dict[str, Any] = image.evaluate(
        "img => ({shown: img.naturalWidth > 0, width: img.naturalWidth, src: img.currentSrc})"
    )
    return state


def cdn_requests(stack: DevStack, image_id: str) -> list[str]:
    """The gateway's log lines of /cdn/ requests for the image's objects: what reached the CDN."""
    log = stack.sink.path.read_text(encoding="utf-8")  # type: ignore[attr-defined]
    return [line for line in log.splitlines() if "/cdn/" in line and image_id in line]


def test_the_gallery_s_second_load_comes_from_the_browser_cache(
    stack: DevStack, owner: Owner, fresh: Any
) -> None:
    image_id = owner.image["id"]
    page = fresh()
    sign_in(page, stack.api_url + "/", owner.user.sub)
    thumbnail = page.locator(f'#gallery li.card[data-id="{image_id}"] img')
    first = loaded(thumbnail)
    assert first["shown"], first
    assert first["src"].startswith(f"{stack.cdn_url}/thumbnails/{image_id}/"), first
    fetched = cdn_requests(stack, image_id)
    assert [line for line in fetched if " 200 " in line], fetched  # the first load went to the CDN

    page.goto(stack.api_url + "/")  # the gallery again, in the same tab (still signed in)
    second = loaded(page.locator(f'#gallery li.card[data-id="{image_id}"] img'))

    assert second == first  # the same signed URL, shown again
    assert cdn_requests(stack, image_id) == fetched  # not even a revalidation reached the CDN


def test_a_share_link_shows_the_image_to_a_browser_that_never_signed_in(
    stack: DevStack, owner: Owner, fresh: Any
) -> None:
    image_id = owner.image["id"]
    created = owner.user.http.post(f"/v1/images/{image_id}/shares", json={}).json()["share"]
    page = fresh()

    page.goto(created["url"])

    shown = loaded(page.locator("main img"))
    assert shown["shown"], shown
    assert shown["src"].startswith(f"{stack.cdn_url}/"), shown  # a variant of srcset, from the CDN
    assert image_id in shown["src"], shown
    og_image = page.locator('meta[property="og:image"]').get_attribute("content")
    assert og_image == f"{created['url']}/1024"
    assert page.evaluate("() => sessionStorage.length + localStorage.length + document.cookie.length") == 0


@pytest.fixture
def elsewhere() -> Iterator[Any]:
    """Serves one HTML page from another origin (another port of 127.0.0.1): `elsewhere(html)`
    gives its URL."""
    pages: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="elsewhere", daemon=True)
    thread.start()

    def serve(html: str) -> str:
        path = f"/{secrets.token_hex(4)}.html"
        pages[path] = html.encode()
        return f"http://127.0.0.1:{server.server_address[1]}{path}"

    yield serve
    server.shutdown()
    server.server_close()
    thread.join()


def test_a_shared_variant_embeds_on_another_site_until_revoked(
    stack: DevStack, owner: Owner, fresh: Any, elsewhere: Any
) -> None:
    image_id = owner.image["id"]
    created = owner.user.http.post(f"/v1/images/{image_id}/shares", json={}).json()["share"]
    url = elsewhere(
        f'<!doctype html><title>A blog</title><img id="shared" src="{created["url"]}/512" alt="shared">'
    )
    assert not url.startswith(stack.api_url)

    page = fresh()
    page.goto(url)
    embedded = loaded(page.locator("#shared"))
    assert embedded["shown"], embedded
    assert embedded["width"] == owner.image["variants"]["512"]["width"]
    assert embedded["src"] == f"{created['url']}/512"

    assert owner.user.http.delete(f"/v1/shares/{created['id']}").status_code == 204
    page = fresh(failing_loads=True)  # a visitor after the revocation (no cached redirect)
    page.goto(url)
    gone = loaded(page.locator("#shared"))
    assert not gone["shown"], gone
