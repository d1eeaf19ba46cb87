"""Hosting through the local stack: variant URLs are signed CDN URLs, stable for a window and
served by the gateway's /cdn/; share links show an image to anyone until revoked, expired or
the image is deleted; every bad token, id or variant is the same SPEC 404.

Every test starts from an image that went through the real pipeline (upload to the emulated S3,
validation, thumbnails) to READY: without the pipeline there is nothing to share or serve.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from infra.local import DevStack
from shoebox.cdn import window_expiry
from tests.local.support import User, assert_upload_lands, user_of
from tests.photos import make_photo

pytestmark = pytest.mark.local

OG_IMAGE = re.compile(r'<meta property="og:image" content="([^"]+)">')
IMG_SRC = re.compile(r'<img src="([^"]+)"')


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_photo(tmp_path_factory.mktemp("photos") / "harbour.jpg", (1200, 900), seed=7).read_bytes()


@pytest.fixture(scope="module")
def owner(stack: DevStack) -> Iterator[User]:
    with user_of(stack, "share") as user:
        yield user


@pytest.fixture(scope="module")
def image(owner: User, photo: bytes) -> dict[str, Any]:
    """The owner's READY image, shared by the tests that do not delete it."""
    return assert_upload_lands(owner, owner.upload(photo, filename="harbour.jpg"))


@pytest.fixture
def anonymous(stack: DevStack) -> Iterator[httpx.Client]:
    """Someone with the link and nothing else."""
    with httpx.Client(base_url=stack.api_url, timeout=30) as client:
        yield client


def share(owner: User, image_id: str, **body: Any) -> dict[str, Any]:
    reply = owner.http.post(f"/v1/images/{image_id}/shares", json=body)
    assert reply.status_code == 201, reply.text
    created: dict[str, Any] = reply.json()["share"]
    return created


def token_of(stack: DevStack, created: dict[str, Any]) -> str:
    prefix = f"{stack.api_url}/s/"
    assert created["url"].startswith(prefix), created
    return str(created["url"]).removeprefix(prefix)


def assert_not_found(reply: httpx.Response) -> dict[str, Any]:
    """The SPEC's 404: the error body, the request id."""
    assert reply.status_code == 404, f"{reply.request.url}: {reply.status_code} {reply.text}"
    assert reply.headers.get("x-request-id")
    body: dict[str, Any] = reply.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["code"] == "NOT_FOUND", body
    return body


def stored_bytes(stack: DevStack, key: str) -> bytes:
    found: bytes = stack.client("s3").get_object(Bucket=stack.names["MediaBucket"], Key=key)["Body"].read()
    return found


def test_each_variant_has_one_signed_cdn_url_all_window(
    stack: DevStack, owner: User, image: dict[str, Any]
) -> None:
    image_id = image["id"]
    assert set(image["variants"]) == {"original", "256", "512", "1024"}
    again = owner.http.get(f"/v1/images/{image_id}").json()
    listed = next(
        item
        for item in owner.http.get("/v1/images", params={"limit": 100}).json()["items"]
        if item["id"] == image_id
    )
    assert again["variants"] == image["variants"] == listed["variants"]  # the very same URLs

    window = int(stack.template.parameters["DeliveryUrlWindowSeconds"])
    for name, variant in image["variants"].items():
        url = variant["url"]
        assert url.startswith(f"{stack.cdn_url}/"), url
        assert f"Key-Pair-Id={stack.cdn_key.key_pair_id}" in url
        assert f"Expires={window_expiry(time.time(), window)}&" in url
        redirect = owner.http.get(f"/v1/images/{image_id}/content", params={"variant": name})
        assert redirect.status_code == 302, redirect.text
        assert redirect.headers["location"] == url

        served = httpx.get(url)
        assert served.status_code == 200, served.text
        assert served.headers["content-type"] == variant["content_type"]
        assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert served.headers["x-content-type-options"] == "nosniff"
        assert "script-src" not in served.headers["content-security-policy"]
        key = f"originals/{image_id}" if name == "original" else f"thumbnails/{image_id}/{name}.webp"
        assert served.content == stored_bytes(stack, key)


def test_a_share_link_shows_the_image_to_anyone_until_revoked(
    stack: DevStack, owner: User, anonymous: httpx.Client, image: dict[str, Any]
) -> None:
    image_id = image["id"]
    created = share(owner, image_id)
    assert created["image_id"] == image_id
    assert created["expires_at"] is None
    token = token_of(stack, created)
    listed = owner.http.get(f"/v1/images/{image_id}/shares").json()["items"]
    assert created in listed

    page = anonymous.get(f"/s/{token}")
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    (og_image,) = OG_IMAGE.findall(page.text)
    assert og_image == f"{created['url']}/1024"  # stable for link previews: outlives signatures
    (shown,) = IMG_SRC.findall(page.text)
    shown = shown.replace("&amp;", "&")
    assert shown.startswith(f"{stack.cdn_url}/thumbnails/{image_id}/")
    assert httpx.get(shown).status_code == 200

    redirect = anonymous.get(f"/s/{token}/512")
    assert redirect.status_code == 302, redirect.text
    assert redirect.headers["location"] == image["variants"]["512"]["url"]  # the owner's URL, this window
    preview = httpx.get(og_image, follow_redirects=True)
    assert preview.status_code == 200
    assert preview.content == stored_bytes(stack, f"thumbnails/{image_id}/1024.webp")

    assert owner.http.delete(f"/v1/shares/{created['id']}").status_code == 204
    assert_not_found(anonymous.get(f"/s/{token}"))
    assert_not_found(anonymous.get(f"/s/{token}/512"))
    assert created not in owner.http.get(f"/v1/images/{image_id}/shares").json()["items"]
    assert_not_found(owner.http.delete(f"/v1/shares/{created['id']}"))


def test_only_the_owner_sees_and_revokes_links(
    stack: DevStack, owner: User, anonymous: httpx.Client, image: dict[str, Any]
) -> None:
    created = share(owner, image["id"])
    with user_of(stack, "other") as other:
        assert_not_found(other.http.get(f"/v1/images/{image['id']}/shares"))
        assert_not_found(other.http.post(f"/v1/images/{image['id']}/shares", json={}))
        assert_not_found(other.http.delete(f"/v1/shares/{created['id']}"))
    assert anonymous.get(f"/s/{token_of(stack, created)}").status_code == 200  # untouched


def test_an_expired_link_is_404(
    stack: DevStack, owner: User, anonymous: httpx.Client, image: dict[str, Any]
) -> None:
    created = share(owner, image["id"], expires_in=1)
    token = token_of(stack, created)
    time.sleep(1.5)
    assert_not_found(anonymous.get(f"/s/{token}"))
    assert_not_found(anonymous.get(f"/s/{token}/256"))


def test_deleting_the_image_ends_its_links_and_its_cdn_urls(
    stack: DevStack, owner: User, anonymous: httpx.Client, photo: bytes
) -> None:
    image = assert_upload_lands(owner, owner.upload(photo, filename="to-delete.jpg"))
    token = token_of(stack, share(owner, image["id"]))
    urls = [variant["url"] for variant in image["variants"].values()]
    assert [httpx.get(url).status_code for url in urls] == [200] * len(urls)
    assert anonymous.get(f"/s/{token}").status_code == 200

    assert owner.http.delete(f"/v1/images/{image['id']}").status_code == 204

    assert_not_found(anonymous.get(f"/s/{token}"))
    assert_not_found(anonymous.get(f"/s/{token}/512"))
    for url in urls:  # still well signed, but nothing is left to serve
        assert httpx.get(url).status_code in (403, 404), url


def test_bad_tokens_ids_and_variants_are_the_same_404(
    stack: DevStack, owner: User, anonymous: httpx.Client, image: dict[str, Any]
) -> None:
    live = share(owner, image["id"])
    token = token_of(stack, live)
    revoked = share(owner, image["id"])
    assert owner.http.delete(f"/v1/shares/{revoked['id']}").status_code == 204
    share_id, tag = token.rsplit(".", 1)
    forged_tag = ("A" if tag[0] != "A" else "B") + tag[1:]
    other_image = secrets.token_urlsafe(16)
    bad_tokens = {
        "malformed": "not-a-token",
        "too short": token[:-1],
        "too long": token + "A",
        "a forged tag": f"{share_id}.{forged_tag}",
        "another image's id": f"{other_image}.{share_id.split('.')[1]}.{tag}",
        "revoked": token_of(stack, revoked),
        "huge": "A" * 4000,
        "encoded junk": "%00%2e%2e%ff",
    }
    bodies = []
    for why, bad in bad_tokens.items():
        for path in (f"/s/{bad}", f"/s/{bad}/512"):
            reply = anonymous.get(path)
            bodies.append((why, assert_not_found(reply)))
    # Nothing tells a forged token from a revoked one, or an image that exists from one that does not.
    assert len({repr(body) for _, body in bodies}) == 1, bodies

    for variant in ("2048", "0", "originals", "512.webp", "ORIGINAL", "%2e%2e"):
        assert_not_found(anonymous.get(f"/s/{token}/{variant}"))
    for bad_id in ("x", secrets.token_urlsafe(16), f"{image['id']}.{secrets.token_urlsafe(16)}", "%00"):
        assert_not_found(owner.http.delete(f"/v1/shares/{bad_id}"))
    for bad_id in ("x", secrets.token_urlsafe(16), "-" + image["id"][1:]):
        assert_not_found(owner.http.post(f"/v1/images/{bad_id}/shares", json={}))
        assert_not_found(owner.http.get(f"/v1/images/{bad_id}/shares"))
    assert anonymous.get(f"/s/{token}").status_code == 200  # the live link, after all that
