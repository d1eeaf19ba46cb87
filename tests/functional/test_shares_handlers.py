"""Share links through their functions' handlers: POST/GET /v1/images/{id}/shares,
DELETE /v1/shares/{share_id}, and the public GET /s/{token} and GET /s/{token}/{variant}."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import create_share.handler
import get_shared_content.handler
import list_shares.handler
import pytest
import view_share.handler

from shoebox import records, shares
from shoebox.app import utc_now
from shoebox.errors import TooManyShares
from shoebox.variants import variant_key
from tests.events import load_event
from tests.functional.harness import CDN_BASE_URL, NOT_READY, SHARE_KEY, Api, Cloud, Reply, verified

API_URL = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"  # the events' domainName
PLACEHOLDER = "n3cOPxiJeYeWeIeQZqiIh3d5CIWEpn8C"  # a ThumbHash (tests/unit/test_thumbhash.py)
WEEK = 7 * 86_400
APPS = (
    create_share.handler.app,
    list_shares.handler.app,
    view_share.handler.app,
    get_shared_content.handler.app,
)


@pytest.fixture
def clock() -> Iterator[list[datetime]]:
    """The functions' clock, set by the test: `clock[0] = ...` moves it for every share function."""
    moment = [datetime.now(UTC)]
    for app in APPS:
        app.dependency_overrides[utc_now] = lambda: moment[0]
    yield moment
    for app in APPS:
        app.dependency_overrides.pop(utc_now, None)


def ready_image(api: Api, cloud: Cloud, *, sub: str = "alice", **fields: Any) -> str:
    image_id: str = api.upload_slot(sub=sub, **fields)["id"]
    cloud.make_ready(image_id, 4032, 3024, placeholder=PLACEHOLDER)
    return image_id


def token_of(share: dict[str, Any]) -> str:
    url: str = share["url"]
    assert url.startswith(f"{API_URL}/s/")
    return url.removeprefix(f"{API_URL}/s/")


def new_share(api: Api, image_id: str, body: Any = None, *, sub: str = "alice") -> dict[str, Any]:
    reply = api.share(image_id, body, sub=sub)
    assert reply.status == 201, reply.body
    share: dict[str, Any] = reply.json["share"]
    return share


# ------------------------------------------------------------------ create


def test_a_share_of_a_ready_image(api: Api, cloud: Cloud, clock: list[datetime]) -> None:
    image_id = ready_image(api, cloud)

    reply = api.share(image_id, {"expires_in": WEEK})

    assert reply.status == 201
    assert set(reply.json) == {"share"}
    share = reply.json["share"]
    assert set(share) == {"id", "image_id", "url", "created_at", "expires_at"}
    assert share["image_id"] == image_id
    assert shares.split_share_id(share["id"])[0] == image_id
    # The link is the API's own base URL (the event's domainName), /s/, and a token for this share.
    token = token_of(share)
    assert shares.share_id_from_token(token, SHARE_KEY.encode()) == share["id"]
    assert share["created_at"] == records.iso_time(clock[0])
    assert share["expires_at"] == records.iso_time(clock[0] + timedelta(seconds=WEEK))


@pytest.mark.parametrize("body", [None, {}, {"expires_in": None}])
def test_a_share_without_expiry_lasts_until_revoked(api: Api, cloud: Cloud, body: Any) -> None:
    image_id = ready_image(api, cloud)

    share = new_share(api, image_id, body)

    assert share["expires_at"] is None


def test_each_share_is_a_new_link(api: Api, cloud: Cloud) -> None:
    image_id = ready_image(api, cloud)
    first, second = new_share(api, image_id), new_share(api, image_id)
    assert first["id"] != second["id"]
    assert first["url"] != second["url"]


@pytest.mark.parametrize(
    "body",
    [
        {"expires_in": 0},
        {"expires_in": -5},
        {"expires_in": shares.DEFAULT_MAX_SECONDS + 1},
        {"expires_in": "60"},
        {"expires_in": 60.5},
        {"expires_in": True},
        {"expires_in": 60, "public": True},
        "{not json",
        [60],
    ],
)
def test_a_bad_expiry_is_400_and_makes_no_link(api: Api, cloud: Cloud, body: Any) -> None:
    image_id = ready_image(api, cloud)

    reply = api.share(image_id, body)

    assert reply.status == 400, reply.body
    assert reply.error["code"] == "VALIDATION_ERROR"
    assert reply.error["details"]["field"] in {"expires_in", "public", "body"}
    assert records.find(image_id).stored_shares() == {}  # type: ignore[union-attr]


def test_the_longest_expiry_is_accepted(api: Api, cloud: Cloud) -> None:
    image_id = ready_image(api, cloud)
    assert api.share(image_id, {"expires_in": shares.DEFAULT_MAX_SECONDS}).status == 201
    assert api.share(image_id, {"expires_in": 1}).status == 201


@pytest.mark.parametrize("status", NOT_READY)
def test_an_image_that_is_not_ready_cannot_be_shared(api: Api, cloud: Cloud, status: str) -> None:
    image_id = api.not_ready_image(status)

    reply = api.share(image_id)

    assert reply.status == 409
    assert reply.error["code"] == "NOT_READY"
    assert records.find(image_id).stored_shares() == {}  # type: ignore[union-attr]


def test_someone_elses_image_is_404_and_gets_no_link(api: Api, cloud: Cloud) -> None:
    image_id = ready_image(api, cloud, sub="alice")
    missing = api.share("AAAAAAAAAAAAAAAAAAAAAA", sub="bob")

    for reply in (api.share(image_id, sub="bob"), api.shares(image_id, sub="bob")):
        assert reply.status == 404
        assert reply.error["code"] == "NOT_FOUND"
        assert reply.error["message"] == missing.error["message"]  # no existence leak
    assert records.find(image_id).stored_shares() == {}  # type: ignore[union-attr]


@pytest.mark.parametrize("image_id", ["AAAAAAAAAAAAAAAAAAAAAA", "nope", "x" * 300, "..%2F..%2Fetc"])
def test_a_missing_or_malformed_image_id_is_404(api: Api, cloud: Cloud, image_id: str) -> None:
    for reply in (api.share(image_id), api.shares(image_id)):
        assert reply.status == 404
        assert reply.error["code"] == "NOT_FOUND"


@pytest.fixture
def small_cap(monkeypatch: pytest.MonkeyPatch) -> int:
    # The logic is the same at 100 (the real cap), and 5 writes are 20 times quicker than 100.
    assert records.MAX_SHARES_PER_IMAGE == 100
    monkeypatch.setattr(records, "MAX_SHARES_PER_IMAGE", 5)
    return 5


def test_an_image_has_at_most_so_many_live_links(
    api: Api, cloud: Cloud, clock: list[datetime], small_cap: int
) -> None:
    image_id = ready_image(api, cloud)
    expiring = new_share(api, image_id, {"expires_in": 60})
    for _ in range(records.MAX_SHARES_PER_IMAGE - 1):
        new_share(api, image_id)

    refused = api.share(image_id)

    assert refused.status == 409
    assert refused.error["code"] == "TOO_MANY_SHARES"
    assert refused.error["details"] == {"limit": small_cap}
    # Once a link has expired it no longer counts, and the next add drops it from the item.
    clock[0] += timedelta(seconds=61)
    assert api.share(image_id).status == 201
    stored = records.find(image_id).stored_shares()  # type: ignore[union-attr]
    assert len(stored) == records.MAX_SHARES_PER_IMAGE
    assert shares.split_share_id(expiring["id"])[1] not in stored


def test_the_cap_holds_against_a_concurrent_add(
    api: Api, cloud: Cloud, monkeypatch: pytest.MonkeyPatch, small_cap: int
) -> None:
    # Two adds that both read the item with one slot free: DynamoDB's condition, not the read,
    # decides, so the second one reads again and is refused.
    image_id = ready_image(api, cloud)
    now = datetime.now(UTC)
    for index in range(records.MAX_SHARES_PER_IMAGE - 1):
        records.add_share(image_id, "alice", f"{index:022d}", now, None)
    stale = records.get_owned(image_id, "alice")
    reads = iter([stale, stale])
    real_get_owned = records.get_owned
    monkeypatch.setattr(records, "get_owned", lambda *args: next(reads, None) or real_get_owned(*args))

    records.add_share(image_id, "alice", "first-of-two-concurren", now, None)
    with pytest.raises(TooManyShares):
        records.add_share(image_id, "alice", "second-of-two-concurre", now, None)

    assert len(records.find(image_id).stored_shares()) == records.MAX_SHARES_PER_IMAGE  # type: ignore[union-attr]


def test_a_link_is_never_made_for_an_image_deleted_meanwhile(
    api: Api, cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    image_id = ready_image(api, cloud)
    stale = records.get_owned(image_id, "alice")
    assert api.delete(image_id).status == 204
    reads = iter([stale])
    real_get_owned = records.get_owned
    monkeypatch.setattr(records, "get_owned", lambda *args: next(reads, None) or real_get_owned(*args))

    reply = api.share(image_id)

    assert reply.status == 404
    assert records.find(image_id) is None  # the conditional write did not bring the item back


def test_no_link_is_made_when_the_token_key_cannot_be_read(
    api: Api, cloud: Cloud, aws_clients: dict[str, Any]
) -> None:
    image_id = ready_image(api, cloud)
    aws_clients["secretsmanager"].delete_secret(SecretId="shoebox-share-key", ForceDeleteWithoutRecovery=True)

    reply = api.share(image_id)

    assert reply.status == 500
    assert reply.error == {"code": "INTERNAL_ERROR", "message": "internal error", "details": {}}
    assert records.find(image_id).stored_shares() == {}  # type: ignore[union-attr]


# ------------------------------------------------------------------ base URL


@pytest.mark.parametrize(
    ("domain", "stage", "proto", "expected"),
    [
        ("127.0.0.1:3000", "$default", "http", "http://127.0.0.1:3000"),  # the local gateway
        ("localhost:41234", "$default", "https,http", "http://localhost:41234"),  # client's first
        ("photos.example.com", "$default", "https", "https://photos.example.com"),
        ("a1b2c3d4e5.execute-api.us-east-1.amazonaws.com", "prod", "https", f"{API_URL}/prod"),
        ("photos.example.com", "prod", "https", "https://photos.example.com"),  # a mapping hides it
    ],
)
def test_the_link_starts_with_the_url_the_api_was_reached_at(
    api: Api, cloud: Cloud, domain: str, stage: str, proto: str, expected: str
) -> None:
    image_id = ready_image(api, cloud)
    event = load_event(
        "apigw_create_share",
        path={"id": image_id},
        body={},
        sub="alice",
        headers={"x-forwarded-proto": proto, "host": domain},
    )
    event["requestContext"]["domainName"] = domain
    event["requestContext"]["stage"] = stage

    reply = api.call("create_share", event)

    assert reply.status == 201, reply.body
    share_id = reply.json["share"]["id"]
    token = shares.share_token(share_id, SHARE_KEY.encode())
    assert reply.json["share"]["url"] == f"{expected}/s/{token}"


def test_a_request_without_a_usable_host_is_400(api: Api, cloud: Cloud) -> None:
    image_id = ready_image(api, cloud)
    headers = {"host": "evil/host"}
    event = load_event("apigw_create_share", path={"id": image_id}, body={}, sub="alice", headers=headers)
    event["requestContext"]["domainName"] = "evil/host"

    reply = api.call("create_share", event)

    assert reply.status == 400
    assert records.find(image_id).stored_shares() == {}  # type: ignore[union-attr]


# ------------------------------------------------------------------ list


def test_the_list_shows_live_links_newest_first(api: Api, cloud: Cloud, clock: list[datetime]) -> None:
    image_id = ready_image(api, cloud)
    forever = new_share(api, image_id)
    clock[0] += timedelta(seconds=1)
    short = new_share(api, image_id, {"expires_in": 60})
    clock[0] += timedelta(seconds=1)
    week = new_share(api, image_id, {"expires_in": WEEK})

    assert api.shares(image_id).json == {"items": [week, short, forever]}

    clock[0] += timedelta(seconds=60)
    assert api.shares(image_id).json == {"items": [week, forever]}  # the expired one is left out


def test_an_image_without_links_lists_none(api: Api, cloud: Cloud) -> None:
    assert api.shares(ready_image(api, cloud)).json == {"items": []}
    assert api.shares(api.upload_slot()["id"]).json == {"items": []}


def test_the_image_views_never_show_the_links(api: Api, cloud: Cloud) -> None:
    image_id = ready_image(api, cloud)
    new_share(api, image_id)

    image = api.get(image_id).json
    listed = api.list().json["items"]

    assert "shares" not in image
    assert all("shares" not in item for item in listed)


# ------------------------------------------------------------------ revoke


def test_a_revoked_link_stops_working(api: Api, cloud: Cloud) -> None:
    image_id = ready_image(api, cloud)
    kept, revoked = new_share(api, image_id), new_share(api, image_id)
    assert api.view(token_of(revoked)).status == 200

    reply = api.revoke(revoked["id"])

    assert reply.status == 204
    assert reply.body == ""
    assert api.view(token_of(revoked)).status == 404
    assert api.shared(token_of(revoked), "512").status == 404
    assert api.shares(image_id).json == {"items": [kept]}
    assert api.view(token_of(kept)).status == 200
    again = api.revoke(revoked["id"])
    assert again.status == 404
    assert again.error["code"] == "NOT_FOUND"


def test_someone_elses_link_cannot_be_revoked(api: Api, cloud: Cloud) -> None:
    image_id = ready_image(api, cloud, sub="alice")
    share = new_share(api, image_id, sub="alice")

    reply = api.revoke(share["id"], sub="bob")
    unknown = api.revoke(f"{image_id}.AAAAAAAAAAAAAAAAAAAAAA", sub="bob")

    assert reply.status == unknown.status == 404
    assert reply.error["message"] == unknown.error["message"]
    assert api.view(token_of(share)).status == 200


@pytest.mark.parametrize(
    "share_id",
    ["nope", "A" * 22, "A" * 22 + ".short", "a.b.c", "x" * 300, "A" * 22 + "." + "A" * 22],
)
def test_a_malformed_or_unknown_share_id_is_404(api: Api, cloud: Cloud, share_id: str) -> None:
    reply = api.revoke(share_id)
    assert reply.status == 404
    assert reply.error["code"] == "NOT_FOUND"


# ------------------------------------------------------------------ the public page


class Tags(HTMLParser):
    """The tags of a page, with their attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.style = ""
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.style += data

    def meta(self, key: str) -> str:
        values = [
            attrs["content"]
            for tag, attrs in self.tags
            if tag == "meta" and key in (attrs.get("property"), attrs.get("name"))
        ]
        assert len(values) == 1, (key, values)
        return values[0]

    def one(self, name: str) -> dict[str, str]:
        found = [attrs for tag, attrs in self.tags if tag == name]
        assert len(found) == 1, (name, found)
        return found[0]


def parse(reply: Reply) -> Tags:
    tags = Tags()
    tags.feed(reply.body)
    return tags


def directives(csp: str) -> dict[str, str]:
    found = {}
    for directive in csp.split(";"):
        name, _, value = directive.strip().partition(" ")
        found[name] = value
    return found


def test_the_page_shows_the_image_with_link_preview_tags(api: Api, cloud: Cloud) -> None:
    image_id = ready_image(api, cloud, filename="holiday.jpg")
    token = token_of(new_share(api, image_id))

    reply = api.view(token)

    assert reply.status == 200
    assert reply.headers["content-type"] == "text/html; charset=utf-8"
    page = parse(reply)
    image = api.get(image_id).json
    # Open Graph: the preview is the 1024 variant through the link itself (it outlives a signature).
    assert page.meta("og:image") == f"{API_URL}/s/{token}/1024"
    assert page.meta("og:image:width") == "1024"
    assert page.meta("og:image:height") == "768"
    assert page.meta("og:image:type") == "image/webp"
    assert page.meta("og:title") == "holiday.jpg"
    assert page.meta("og:type") == "website"
    assert page.meta("og:url") == f"{API_URL}/s/{token}"
    assert page.meta("twitter:card") == "summary_large_image"
    # The image: every variant in srcset by width, each URL the CDN accepts (and the Image's own).
    img = page.one("img")
    candidates = [part.strip().rsplit(" ", 1) for part in img["srcset"].split(",")]
    assert candidates == [[variant["url"], f"{variant['width']}w"] for variant in image["variants"].values()]
    for name, (url, _) in zip(image["variants"], candidates, strict=True):
        assert verified(url) == f"{CDN_BASE_URL}/{variant_key(image_id, name)}"
    assert img["src"] == image["variants"]["1024"]["url"]
    assert (img["width"], img["height"], img["alt"]) == ("4032", "3024", "holiday.jpg")


def test_the_page_paints_the_placeholder_first(api: Api, cloud: Cloud) -> None:
    token = token_of(new_share(api, ready_image(api, cloud)))

    page = parse(api.view(token))

    [data] = re.findall(r"url\((data:image/png;base64,[A-Za-z0-9+/=]+)\)", page.style)
    png = base64.b64decode(data.removeprefix("data:image/png;base64,"))
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert png[16:24] == (32).to_bytes(4, "big") * 2  # the 32x32 preview of a square hash
    assert "img{" in page.style
    assert "background:" in page.style


def test_the_page_runs_no_script_and_leaks_no_link(api: Api, cloud: Cloud) -> None:
    token = token_of(new_share(api, ready_image(api, cloud)))

    reply = api.view(token)

    assert "<script" not in reply.body.lower()
    assert " on" not in re.sub(r'"[^"]*"', "", reply.body)  # no event handler attributes
    csp = directives(reply.headers["content-security-policy"])
    assert csp["default-src"] == "'none'"  # and no script-src: scripts fall back to 'none'
    assert "script-src" not in csp
    assert set(csp["img-src"].split()) == {CDN_BASE_URL, "data:"}
    # The one stylesheet is allowed by its hash: no inline style or script otherwise.
    style = parse(reply).style
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert csp["style-src"] == f"'sha256-{digest}'"
    assert csp["frame-ancestors"] == "'none'"
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["referrer-policy"] == "no-referrer"
    max_age = int(re.search(r"max-age=(\d+)", reply.headers["cache-control"])[1])  # type: ignore[index]
    assert 0 < max_age <= 300


def test_the_filename_is_text_not_markup(api: Api, cloud: Cloud) -> None:
    name = '"><script>alert(1)</script><img src=x onerror=alert(2)>.jpg'
    token = token_of(new_share(api, ready_image(api, cloud, filename=name)))

    reply = api.view(token)

    assert reply.status == 200
    assert "<script" not in reply.body
    page = parse(reply)
    assert page.meta("og:title") == name
    assert page.one("img")["alt"] == name
    assert [tag for tag, _ in page.tags].count("img") == 1


def test_a_page_without_placeholder_or_web_original(api: Api, cloud: Cloud) -> None:
    # An image shared before placeholders existed, from a HEIC original browsers cannot show.
    image_id = api.upload_slot(filename="IMG_0001.heic", content_type="image/heic")["id"]
    cloud.make_ready(image_id, 300, 200)
    original = records.ImageRecord.variants["original"]["content_type"]  # type: ignore[index]
    records.ImageRecord(image_id).update(actions=[original.set("image/heic")])
    token = token_of(new_share(api, image_id))

    page = parse(api.view(token))

    assert "data:image" not in page.style
    img = page.one("img")
    assert img["srcset"].count(" ") == 1  # the 256 thumbnail only: no HEIC in srcset
    assert page.meta("og:image").endswith(f"/s/{token}/256")


# ------------------------------------------------------------------ the public variants


def test_a_shared_variant_redirects_to_its_signed_cdn_url(api: Api, cloud: Cloud) -> None:
    image_id = ready_image(api, cloud)
    token = token_of(new_share(api, image_id))

    first, second = api.shared(token, "512"), api.shared(token, "512")

    assert first.status == 302
    location = first.headers["location"]
    assert verified(location) == f"{CDN_BASE_URL}/{variant_key(image_id, '512')}"
    assert second.headers["location"] == location  # the same URL all window: caches hit
    assert location == api.get(image_id).json["variants"]["512"]["url"]
    assert first.headers["referrer-policy"] == "no-referrer"
    assert "max-age=" in first.headers["cache-control"]
    original = api.shared(token, "original").headers["location"]
    assert verified(original) == f"{CDN_BASE_URL}/{variant_key(image_id, 'original')}"


def test_a_variant_the_image_does_not_have_is_404(api: Api, cloud: Cloud) -> None:
    image_id = api.upload_slot()["id"]
    cloud.make_ready(image_id, 300, 200)
    token = token_of(new_share(api, image_id))

    assert api.shared(token, "256").status == 302
    for variant in ("512", "1024", "2048", "ORIGINAL", "thumb", "..", "%2e%2e"):
        reply = api.shared(token, variant)
        assert reply.status == 404, variant
        assert reply.error["code"] == "NOT_FOUND"
        assert "location" not in reply.headers


# ------------------------------------------------------------------ bad tokens: all alike


def bad_tokens(api: Api, cloud: Cloud, clock: list[datetime]) -> dict[str, str]:
    image_id = ready_image(api, cloud)
    good = token_of(new_share(api, image_id))
    share_id = good.rsplit(".", 1)[0]
    revoked = new_share(api, image_id)
    api.revoke(revoked["id"])
    expired = new_share(api, image_id, {"expires_in": 60})
    deleted_image = ready_image(api, cloud)
    deleted = token_of(new_share(api, deleted_image))
    api.delete(deleted_image)
    deleting_image = ready_image(api, cloud)
    deleting = token_of(new_share(api, deleting_image))
    records.begin_delete(deleting_image, "alice")  # a delete under way
    unknown_share = shares.join_share_id(image_id, "AAAAAAAAAAAAAAAAAAAAAA")
    clock[0] += timedelta(seconds=61)
    return {
        "malformed": "not-a-token",
        "empty-ish": "..",
        "too long": good + "A",
        "forged tag": f"{share_id}.{'A' * 22}",
        "another key": shares.share_token(share_id, b"k" * 64),
        "unknown share": shares.share_token(unknown_share, SHARE_KEY.encode()),
        "unknown image": shares.share_token(shares.new_share_id("B" * 22), SHARE_KEY.encode()),
        "revoked": token_of(revoked),
        "expired": token_of(expired),
        "deleted image": deleted,
        "image being deleted": deleting,
    }


def test_every_bad_token_gets_the_same_404(api: Api, cloud: Cloud, clock: list[datetime]) -> None:
    tokens = bad_tokens(api, cloud, clock)

    answers = set()
    for kind, token in tokens.items():
        for reply in (api.view(token), api.shared(token, "512"), api.shared(token, "nope")):
            assert reply.status == 404, kind
            assert "location" not in reply.headers
            answers.add((reply.body, tuple(sorted(set(reply.headers) - {"x-request-id", "content-length"}))))
    assert len(answers) == 1, answers  # nothing tells one kind of bad token from another
    body = api.view(tokens["malformed"]).error
    assert body["code"] == "NOT_FOUND"
    assert body["details"] == {}
