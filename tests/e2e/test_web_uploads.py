"""Uploads from the page in a real Chromium against the local stack: the page's SHA-256 (known
vectors, and Web Crypto's answer), a second upload of the same file answered as a duplicate with
nothing sent, at most 3 uploads at once followed with one status request per round, cancel and
retry, a 429 waited out, and a big upload sent in parts, interrupted by a reload, resumed by
choosing the file again: only the missing parts are sent, and the image ends READY."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Request, Route, expect

from infra.local import DevStack
from tests.e2e.web import sign_in, watched_page
from tests.local.support import User, assert_upload_lands
from tests.photos import big_png, make_photo

pytestmark = [pytest.mark.e2e, pytest.mark.local]

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "e2e"
PIPELINE_TIMEOUT_MS = 120_000
ACTIVE_STATES = ("hashing", "starting", "waiting", "uploading", "completing")

# Every data-state any upload row takes, in order, with how many rows were active and how many
# were waiting for their turn then.
RECORD_STATES = """
window.__states = [];
new MutationObserver((records) => {
  for (const record of records) {
    const row = record.target;
    if (!row.classList || !row.classList.contains("upload")) continue;
    const rows = [...document.querySelectorAll("#uploads li.upload")];
    const active = rows.filter((each) => ACTIVE_STATES.includes(each.dataset.state)).length;
    const queued = rows.filter((each) => each.dataset.state === "queued").length;
    const name = row.querySelector(".upload-name").textContent;
    window.__states.push([name, row.dataset.state, active, queued]);
  }
}).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-state"] });
""".replace("ACTIVE_STATES", json.dumps(ACTIVE_STATES))


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with watched_page(browser, init_script=RECORD_STATES) as opened:
        yield opened


@pytest.fixture
def user(stack: DevStack) -> Iterator[User]:
    """The API as the user the page signs in as (its own `sub`)."""
    sub = f"e2e-up-{secrets.token_hex(4)}"
    headers = {"Authorization": f"Bearer {stack.token(sub)}"}
    with httpx.Client(base_url=stack.api_url, headers=headers, timeout=30) as http:
        yield User(stack, http, sub)


def _throttle_uploads(page: Page, bytes_per_second: int) -> None:
    session = page.context.new_cdp_session(page)
    session.send("Network.enable")
    session.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 5, "downloadThroughput": -1, "uploadThroughput": bytes_per_second},
    )


def _requests(page: Page) -> list[Request]:
    seen: list[Request] = []
    page.on("request", lambda request: seen.append(request))
    return seen


def _listed(user: User) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = user.http.get("/v1/images", params={"limit": 100}).json()["items"]
    return items


def test_the_page_s_sha256_matches_known_vectors_and_web_crypto(stack: DevStack, page: Page) -> None:
    page.goto(stack.api_url + "/")
    results = page.evaluate(
        """async () => {
            const { Sha256, sha256File } = await import("./sha256.js");
            const text = (value) => new Sha256().update(new TextEncoder().encode(value)).hex();
            const webCrypto = async (bytes) => Array.from(
                new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)),
                (byte) => byte.toString(16).padStart(2, "0")).join("");
            const random = new Uint8Array(17 * 1024 * 1024 + 5);  // the sliced path: over 16 MiB
            for (let i = 0; i < random.length; i += 65536) {
                crypto.getRandomValues(random.subarray(i, i + 65536));
            }
            const pieces = new Sha256();  // fed in pieces that straddle every block boundary
            for (let i = 0, n = 1; i < 300_000; i += n, n = (n * 7) % 197 + 1) {
                pieces.update(random.subarray(i, Math.min(i + n, 300_000)));
            }
            const head = random.subarray(0, 1000);
            return {
                empty: text(""),
                abc: text("abc"),
                two_blocks: text("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                million: text("a".repeat(1_000_000)),
                pieces: [pieces.hex(), await webCrypto(random.subarray(0, 300_000))],
                file: [await sha256File(new File([random], "big.bin")), await webCrypto(random)],
                small: [await sha256File(new File([head], "s")), await webCrypto(head)],
            };
        }"""
    )
    assert results["empty"] == hashlib.sha256(b"").hexdigest()
    assert results["abc"] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert results["two_blocks"] == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    assert results["million"] == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
    for name in ("pieces", "file", "small"):
        ours, theirs = results[name]
        assert ours == theirs, name


def test_a_second_upload_of_the_same_file_is_a_duplicate_and_sends_nothing(
    stack: DevStack, page: Page, user: User, tmp_path: Path
) -> None:
    photo = make_photo(tmp_path / "lighthouse.jpg", (1000, 750), seed=41)
    sign_in(page, stack.api_url + "/", user.sub)
    page.set_input_files("#file-input", [photo])
    expect(page.locator("#uploads li.upload[data-state=ready]")).to_have_count(1, timeout=PIPELINE_TIMEOUT_MS)
    (first,) = _listed(user)
    assert first["sha256"] == hashlib.sha256(photo.read_bytes()).hexdigest()  # the page's hash
    expect(page.locator("#usage")).to_contain_text("1 of ")

    requests = _requests(page)
    page.set_input_files("#file-input", [photo])
    duplicate = page.locator("#uploads li.upload[data-state=duplicate]")
    expect(duplicate).to_have_count(1, timeout=30_000)
    expect(duplicate).to_contain_text("Already in your images")
    expect(page.locator(f'#gallery li.card[data-id="{first["id"]}"].highlight')).to_have_count(1)
    expect(page.locator("#gallery li.card")).to_have_count(1)
    assert [image["id"] for image in _listed(user)] == [first["id"]]
    assert not [request for request in requests if request.url.startswith(stack.aws_url)]  # no byte sent


def test_at_most_three_uploads_at_once_followed_with_one_request_per_round(
    stack: DevStack, page: Page, user: User, tmp_path: Path
) -> None:
    photos = [make_photo(tmp_path / f"cove-{n}.jpg", (1400, 1050), seed=50 + n) for n in range(5)]
    sign_in(page, stack.api_url + "/", user.sub)
    _throttle_uploads(page, 1024 * 1024)
    requests = _requests(page)
    page.set_input_files("#file-input", photos)
    expect(page.locator("#uploads li.upload[data-state=ready]")).to_have_count(5, timeout=PIPELINE_TIMEOUT_MS)
    expect(page.locator("#gallery li.card[data-status=READY]")).to_have_count(5)

    states: list[tuple[str, str, int, int]] = page.evaluate("window.__states")
    assert max(active for _, _, active, _ in states) == 3, states
    assert max(queued for _, _, _, queued in states) == 2, states  # two waited for their turn
    uploading = {name for name, state, _, _ in states if state == "uploading"}
    assert uploading == {path.name for path in photos}, states

    # Followed together: no request for one image, and rounds that ask about several at once.
    api_paths = [
        request.url.removeprefix(stack.api_url)
        for request in requests
        if request.url.startswith(stack.api_url)
    ]
    assert not [path for path in api_paths if re.fullmatch(r"/v1/images/[^/?]+", path)], api_paths
    rounds = [
        httpx.URL(path).params["ids"].split(",") for path in api_paths if path.startswith("/v1/images?ids=")
    ]
    assert rounds, api_paths
    assert max(len(ids) for ids in rounds) >= 2, rounds
    assert len(rounds) < 5 * 6, rounds  # a handful of rounds, not a poll per image per tick


def test_an_upload_can_be_cancelled_then_retried(
    stack: DevStack, page: Page, user: User, tmp_path: Path
) -> None:
    photo = make_photo(tmp_path / "tide.png", (900, 700), seed=61)  # ~1 MB: seconds at 100 KB/s
    sign_in(page, stack.api_url + "/", user.sub)
    _throttle_uploads(page, 100 * 1024)
    requests = _requests(page)
    page.set_input_files("#file-input", [photo])
    row = page.locator("#uploads li.upload").first
    page.wait_for_function(
        "() => document.querySelector('#uploads progress').value > 0", timeout=PIPELINE_TIMEOUT_MS
    )
    (pending,) = _listed(user)
    assert pending["status"] == "PENDING"

    row.get_by_role("button", name="Cancel tide.png").click()
    expect(row).to_have_attribute("data-state", "cancelled")
    expect(row).to_contain_text("Cancelled")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-cancelled.png"))
    assert [r.method for r in requests if r.url == f"{stack.api_url}/v1/uploads/{pending['id']}"] == [
        "DELETE"
    ]
    assert user.http.get(f"/v1/images/{pending['id']}").status_code == 404
    expect(page.locator("#gallery li.card")).to_have_count(0)
    assert user.objects_of(pending["id"]) == []

    _throttle_uploads(page, -1)
    row.get_by_role("button", name="Retry tide.png").click()
    expect(row).to_have_attribute("data-state", "ready", timeout=PIPELINE_TIMEOUT_MS)
    (retried,) = _listed(user)
    assert retried["id"] != pending["id"]
    assert_upload_lands(user, retried["id"])


def test_too_many_pending_uploads_are_waited_out(
    stack: DevStack, page: Page, user: User, tmp_path: Path
) -> None:
    photo = make_photo(tmp_path / "reef.jpg", (800, 600), seed=71)
    refusals: list[str] = []

    def refuse_once(route: Route) -> None:
        if route.request.method == "POST" and not refusals:
            refusals.append(route.request.url)
            body = {
                "error": {"code": "TOO_MANY_PENDING", "message": "at most 50 uploads may wait", "details": {}}
            }
            route.fulfill(status=429, json=body, headers={"Retry-After": "2"})
        else:
            route.continue_()

    sign_in(page, stack.api_url + "/", user.sub)
    page.route(f"{stack.api_url}/v1/uploads", refuse_once)
    page.set_input_files("#file-input", [photo])
    row = page.locator("#uploads li.upload").first
    expect(row).to_have_attribute("data-state", "waiting")
    expect(row).to_contain_text("Trying again in 2 s")
    expect(row).to_have_attribute("data-state", "ready", timeout=PIPELINE_TIMEOUT_MS)
    assert len(refusals) == 1


def test_an_interrupted_multipart_upload_resumes_after_a_reload(
    stack: DevStack, page: Page, user: User, tmp_path: Path
) -> None:
    big = tmp_path / "panorama.png"
    big.write_bytes(big_png(20 * 1024 * 1024, seed=81))
    sha256 = hashlib.sha256(big.read_bytes()).hexdigest()
    part_size = 8 * 1024 * 1024
    parts = -(-big.stat().st_size // part_size)
    assert parts == 3

    # The first part goes through; the second is held, never answered: the reload cuts it off.
    held: list[Route] = []
    holding = [True]

    def first_part_only(route: Route) -> None:
        if not holding[0] or httpx.URL(route.request.url).params["partNumber"] == "1":
            route.continue_()
        else:
            held.append(route)

    sign_in(page, stack.api_url + "/", user.sub)
    page.route(re.compile(r".*[?&]partNumber=\d+.*"), first_part_only)
    page.set_input_files("#file-input", [big])
    card = page.locator("#gallery li.card[data-status=PENDING]")
    expect(card).to_have_count(1, timeout=60_000)
    image_id = card.get_attribute("data-id")

    def received() -> list[int]:
        reply = user.http.get(f"/v1/uploads/{image_id}")
        assert reply.status_code == 200, reply.text
        return [part["number"] for part in reply.json()["received"]]

    page.wait_for_function(
        "() => document.querySelector('#uploads li.upload').textContent.includes('part 2 of 3')"
    )
    for _ in range(100):  # route handlers run while the page is being waited on
        if held:
            break
        page.wait_for_timeout(100)
    assert held  # the second part is on its way, and stays there
    assert received() == [1]
    remembered = page.evaluate("() => JSON.parse(localStorage.getItem('shoebox.uploads'))")
    assert [(entry["imageId"], entry["sha256"], entry["size"]) for entry in remembered] == [
        (image_id, sha256, big.stat().st_size)
    ]

    page.reload()
    holding[0] = False  # from now on every part goes through
    interrupted = page.locator("#uploads li.upload[data-state=interrupted]")
    expect(interrupted).to_contain_text("Interrupted after 8.0 MiB of 20.0 MiB")
    expect(interrupted).to_contain_text("panorama.png")
    assert received() == [1]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-interrupted.png"))

    requests = _requests(page)
    page.set_input_files("#file-input", [big])
    row = page.locator("#uploads li.upload").first
    expect(row).to_contain_text("1 sent before it was interrupted", timeout=60_000)
    expect(row).to_have_attribute("data-state", "ready", timeout=PIPELINE_TIMEOUT_MS)
    expect(interrupted).to_have_count(0)

    sent = sorted(
        int(httpx.URL(request.url).params["partNumber"])
        for request in requests
        if request.method == "PUT" and "partNumber=" in request.url
    )
    assert sent == [2, 3]  # part 1 was with S3 already: not sent again
    assert [r.url for r in requests if r.method == "POST" and r.url == f"{stack.api_url}/v1/uploads"] == []
    landed = assert_upload_lands(user, image_id, seconds=120)
    assert landed["sha256"] == sha256
    assert [image["id"] for image in _listed(user)] == [image_id]
    assert page.evaluate("() => JSON.parse(localStorage.getItem('shoebox.uploads'))") == []
