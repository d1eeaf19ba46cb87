"""The upload page in a real headless Chromium against the local stack: sign in, upload, delete."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Dialog, Page, expect

from tests.e2e.web import sign_in, watched_page
from tests.photos import make_photo

pytestmark = [pytest.mark.e2e, pytest.mark.local]

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "e2e"
PIPELINE_TIMEOUT_MS = 120_000

# Every value any <progress> takes, in order: the test's view of the bars moving.
RECORD_PROGRESS = """
window.__progress = [];
new MutationObserver((records) => {
  for (const record of records) {
    if (record.target.tagName === "PROGRESS") {
      window.__progress.push([record.target.getAttribute("aria-label"), record.target.value]);
    }
  }
}).observe(document, { subtree: true, attributes: true, attributeFilter: ["value"] });
"""


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with watched_page(browser, init_script=RECORD_PROGRESS) as opened:
        yield opened


def _throttle_uploads(page: Page) -> None:
    """512 KiB/s up, so that a few hundred KB take long enough for the bar to be seen moving."""
    session = page.context.new_cdp_session(page)
    session.send("Network.enable")
    session.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 5, "downloadThroughput": -1, "uploadThroughput": 512 * 1024},
    )


def _loaded_thumbnails(page: Page) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = page.eval_on_selector_all(
        "#gallery li.card[data-status=READY] img",
        """images => images.map(img => ({
            srcset: img.getAttribute("srcset"), current: img.currentSrc,
            loaded: img.complete && img.naturalWidth > 0, alt: img.alt}))""",
    )
    return result


def test_upload_see_thumbnails_and_rejection_then_delete(stack: Any, page: Page, tmp_path: Path) -> None:
    photos = [
        make_photo(tmp_path / "harbour.jpg", (2000, 1500), seed=11),
        make_photo(tmp_path / "meadow.png", (900, 600), seed=12),
        make_photo(tmp_path / "portrait.jpg", (1200, 1600), seed=13),
    ]
    fake = tmp_path / "not-a-photo.jpg"
    fake.write_text("just some text pretending to be a JPEG\n" * 40)

    sign_in(page, stack.api_url + "/", f"e2e-{secrets.token_hex(3)}")
    expect(page.locator("#gallery-empty")).to_be_visible()
    _throttle_uploads(page)
    page.set_input_files("#file-input", [*photos, fake])

    uploads = page.locator("#uploads li.upload")
    expect(uploads).to_have_count(4)
    ready_cards = page.locator("#gallery li.card[data-status=READY]")
    expect(ready_cards).to_have_count(3, timeout=PIPELINE_TIMEOUT_MS)
    rejected = page.locator("#uploads li.upload[data-state=rejected]")
    expect(rejected).to_have_count(1, timeout=PIPELINE_TIMEOUT_MS)
    expect(rejected.locator(".upload-name")).to_have_text("not-a-photo.jpg")
    expect(rejected.locator(".upload-status")).to_contain_text("NOT_AN_IMAGE")
    expect(rejected.locator(".upload-status")).to_contain_text("not an image")
    expect(page.locator("#gallery li.card[data-status=REJECTED] .card-reason")).to_contain_text(
        "NOT_AN_IMAGE"
    )
    expect(page.locator("#uploads li.upload[data-state=ready]")).to_have_count(3)

    # The bars moved: every file's bar reached 100, through values in between.
    progress: list[tuple[str, float]] = page.evaluate("window.__progress")
    for path in [*photos, fake]:
        values = [value for label, value in progress if label == f"Upload of {path.name}"]
        assert values, f"no progress seen for {path.name}"
        assert max(values) == 100
        assert values == sorted(values)
    partial = [value for _, value in progress if 0 < value < 100]
    assert partial, f"no bar was seen part-way: {progress}"

    page.wait_for_function(
        """() => [...document.querySelectorAll('#gallery li.card[data-status=READY] img')]
                 .filter(img => img.complete && img.naturalWidth > 0).length === 3""",
        timeout=30_000,
    )
    thumbnails = _loaded_thumbnails(page)
    assert sorted(thumb["alt"] for thumb in thumbnails) == sorted(path.name for path in photos)
    for thumb in thumbnails:
        assert thumb["loaded"]
        # One candidate per thumbnail, described by its real width (a portrait's "256" is 192w).
        candidates = thumb["srcset"].split(", ")
        assert len(candidates) >= 2
        assert all(re.fullmatch(r"http\S+/thumbnails/\S+ \d+w", candidate) for candidate in candidates)
        assert thumb["current"]
        assert "thumbnails" in thumb["current"]

    # "Open" links to the clean original itself: a presigned GET, no API token needed.
    original = ready_cards.filter(has_text="harbour.jpg").get_by_role(
        "link", name="Open original of harbour.jpg"
    )
    href = original.get_attribute("href")
    assert href
    assert "/originals/" in href
    fetched = page.request.get(href)
    assert fetched.ok
    assert fetched.headers["content-type"] == "image/jpeg"

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web.png"), full_page=True)

    # Delete one, after accepting the confirmation, and it stays gone after a reload.
    victim = ready_cards.filter(has_text="meadow.png")
    victim_id = victim.get_attribute("data-id")
    dialogs: list[str] = []

    def accept(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    victim.get_by_role("button", name="Delete meadow.png").click()
    expect(page.locator(f'#gallery li.card[data-id="{victim_id}"]')).to_have_count(0)
    assert dialogs
    assert "meadow.png" in dialogs[0]
    expect(page.locator("#announcer")).to_have_text("Deleted meadow.png.")

    page.reload()
    expect(page.locator("#gallery li.card[data-status=READY]")).to_have_count(2)
    expect(page.locator(f'#gallery li.card[data-id="{victim_id}"]')).to_have_count(0)
    expect(page.locator("#gallery")).not_to_contain_text("meadow.png")
    page.screenshot(path=str(ARTIFACTS / "web-after-delete.png"), full_page=True)


def test_declining_the_confirmation_keeps_the_image(stack: Any, page: Page, tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "keep.jpg", (800, 600), seed=21)
    sign_in(page, stack.api_url + "/", f"e2e-{secrets.token_hex(3)}")
    page.set_input_files("#file-input", [photo])
    card = page.locator("#gallery li.card[data-status=READY]")
    expect(card).to_have_count(1, timeout=PIPELINE_TIMEOUT_MS)
    page.once("dialog", lambda dialog: dialog.dismiss())
    card.get_by_role("button", name="Delete keep.jpg").click()
    page.reload()
    expect(page.locator("#gallery li.card[data-status=READY]")).to_have_count(1)


def test_an_unreachable_api_is_shown_plainly(stack: Any, page: Page) -> None:
    sign_in(page, stack.api_url + "/", f"e2e-{secrets.token_hex(3)}")
    page.route("**/v1/images?*", lambda route: route.abort("connectionrefused"))
    page.get_by_role("button", name="Refresh").click()
    expect(page.get_by_role("alert")).to_contain_text("Could not load your images")
    expect(page.get_by_role("alert")).to_contain_text("NETWORK_ERROR")


def test_an_expired_sign_in_goes_back_to_the_sign_in_form(stack: Any, page: Page) -> None:
    sign_in(page, stack.api_url + "/", f"e2e-{secrets.token_hex(3)}")
    # A token the gateway refuses (tampered signature): the API answers 401.
    page.evaluate(
        """() => {
            const token = sessionStorage.getItem("shoebox.session");
            sessionStorage.setItem("shoebox.session", token.slice(0, -4) + "AAAA");
        }"""
    )
    page.get_by_role("button", name="Refresh").click()
    expect(page.get_by_role("alert")).to_contain_text("Please sign in again")
    expect(page.get_by_label("Your name")).to_be_visible()


def test_the_gallery_pages_with_load_more(stack: Any, page: Page) -> None:
    # 25 upload slots that are never used: PENDING records, listed like any other image.
    name = f"e2e-{secrets.token_hex(3)}"
    headers = {"Authorization": f"Bearer {stack.token(name)}"}
    with httpx.Client(base_url=stack.api_url, headers=headers) as api:
        for number in range(25):
            body = {"filename": f"slot-{number:02}.jpg", "content_type": "image/jpeg", "size": 1000}
            api.post("/v1/uploads", json=body).raise_for_status()

    sign_in(page, stack.api_url + "/", name)
    cards = page.locator("#gallery li.card")
    expect(cards).to_have_count(24)
    expect(cards.first).to_contain_text("slot-24.jpg")  # newest first
    more = page.get_by_role("button", name="Load more")
    more.click()
    expect(cards).to_have_count(25)
    expect(cards.last).to_contain_text("slot-00.jpg")
    expect(more).to_be_hidden()
