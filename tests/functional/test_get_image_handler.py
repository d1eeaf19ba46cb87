"""GET /v1/images/{id} and GET /v1/images/{id}/content through their functions' handlers."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlparse

import pytest

from shoebox import cdn, keys, records
from shoebox.variants import variant_key
from tests.functional.harness import CDN_BASE_URL, CDN_KEY_PAIR_ID, NOT_READY, Api, Cloud, verified

PLACEHOLDER = "3wcKNZqAh4eAiHeIeHiHiICACPh3"  # a ThumbHash (tests/unit/test_thumbhash.py)


def test_a_pending_image(api: Api, cloud: Cloud) -> None:
    created = api.upload_slot(filename="holiday.jpg", size=1234)

    reply = api.get(created["id"])

    assert reply.status == 200
    assert reply.json == created
    assert reply.json["status"] == "PENDING"
    assert reply.json["variants"] == {}


def test_a_ready_image_has_every_variant_with_a_signed_cdn_url(api: Api, cloud: Cloud) -> None:
    image_id = api.upload_slot()["id"]
    cloud.make_ready(image_id, 4032, 3024, placeholder=PLACEHOLDER, taken_at="2024-07-01T18:42:05")

    image = api.get(image_id).json

    assert image["status"] == "READY"
    assert (image["width"], image["height"], image["format"]) == (4032, 3024, "JPEG")
    assert image["sha256"] == "0" * 64
    assert image["placeholder"] == PLACEHOLDER
    assert image["taken_at"] == "2024-07-01T18:42:05"
    assert list(image["variants"]) == ["original", "256", "512", "1024"]
    assert image["variants"]["original"] == {
        "width": 4032,
        "height": 3024,
        "content_type": "image/jpeg",
        "url": image["variants"]["original"]["url"],
    }
    assert image["variants"]["1024"]["content_type"] == "image/webp"
    assert (image["variants"]["1024"]["width"], image["variants"]["1024"]["height"]) == (1024, 768)
    now = time.time()
    for name, variant in image["variants"].items():
        # The CDN would let it through: our key pair, the variant's own object, not expired.
        assert verified(variant["url"]) == f"{CDN_BASE_URL}/{variant_key(image_id, name)}"
        query = parse_qs(urlparse(variant["url"]).query)
        assert query["Key-Pair-Id"] == [CDN_KEY_PAIR_ID]
        # Windowed: valid at least half a window, at most one and a half.
        assert now + cdn.DEFAULT_WINDOW_SECONDS / 2 <= int(query["Expires"][0])
        assert int(query["Expires"][0]) <= now + 1.5 * cdn.DEFAULT_WINDOW_SECONDS + 1


def test_a_variant_keeps_its_url_for_the_window(api: Api, cloud: Cloud) -> None:
    # The same URL on every read (and in the list) is what lets browsers and the CDN cache it.
    image_id = api.upload_slot()["id"]
    cloud.make_ready(image_id)

    first, second = api.get(image_id).json, api.get(image_id).json
    listed = next(item for item in api.list().json["items"] if item["id"] == image_id)

    assert first["variants"] == second["variants"] == listed["variants"]
    assert api.content(image_id, "512").headers["location"] == first["variants"]["512"]["url"]


def test_an_image_shows_no_placeholder_or_date_before_ready(api: Api, cloud: Cloud) -> None:
    image = api.upload_slot()
    assert (image["placeholder"], image["taken_at"]) == (None, None)
    # An image the pipeline found no date in has none; the placeholder is still there.
    image_id = api.upload_slot()["id"]
    cloud.make_ready(image_id, placeholder=PLACEHOLDER)
    ready = api.get(image_id).json
    assert (ready["placeholder"], ready["taken_at"]) == (PLACEHOLDER, None)


def test_a_small_image_has_no_larger_thumbnails(api: Api, cloud: Cloud) -> None:
    image_id = api.upload_slot()["id"]
    cloud.make_ready(image_id, 300, 200)

    image = api.get(image_id).json

    assert list(image["variants"]) == ["original", "256"]


def test_a_rejected_image_says_why(api: Api, cloud: Cloud) -> None:
    image_id = api.upload_slot()["id"]
    records.claim_rejected(image_id, "etag", "TYPE_MISMATCH", "declared image/jpeg, got PNG")

    image = api.get(image_id).json

    assert image["status"] == "REJECTED"
    assert image["error"] == {"code": "TYPE_MISMATCH", "message": "declared image/jpeg, got PNG"}
    assert image["variants"] == {}


@pytest.mark.parametrize("image_id", ["AAAAAAAAAAAAAAAAAAAAAA", "nope", "x" * 300, "..%2F..%2Fetc"])
def test_a_missing_or_malformed_id_is_404(api: Api, cloud: Cloud, image_id: str) -> None:
    reply = api.get(image_id)
    assert reply.status == 404
    assert reply.error["code"] == "NOT_FOUND"


# ------------------------------------------------------------------ content


def test_content_redirects_to_the_original_by_default(api: Api, cloud: Cloud) -> None:
    image_id = api.upload_slot(filename='Été "quoted"; x.jpg')["id"]
    cloud.make_ready(image_id)

    reply = api.content(image_id)

    assert reply.status == 302
    assert verified(reply.headers["location"]) == f"{CDN_BASE_URL}/{keys.original_key(image_id)}"
    assert reply.headers["location"] == api.get(image_id).json["variants"]["original"]["url"]
    # The object the URL points to is in the media bucket.
    assert cloud.s3.get_object(Bucket=cloud.media, Key=keys.original_key(image_id))["Body"].read()


@pytest.mark.parametrize("variant", ["256", "512", "1024"])
def test_content_of_a_thumbnail(api: Api, cloud: Cloud, variant: str) -> None:
    image_id = api.upload_slot(filename="holiday.jpg")["id"]
    cloud.make_ready(image_id)

    reply = api.content(image_id, variant)

    assert reply.status == 302
    expected = keys.thumbnail_key(image_id, int(variant))
    assert verified(reply.headers["location"]) == f"{CDN_BASE_URL}/{expected}"


@pytest.mark.parametrize("status", NOT_READY)
def test_content_before_ready_is_409(api: Api, cloud: Cloud, status: str) -> None:
    image_id = api.not_ready_image(status)

    reply = api.content(image_id)

    assert reply.status == 409
    assert reply.error["code"] == "NOT_READY"
    assert "location" not in reply.headers


def test_a_variant_the_image_does_not_have_is_404(api: Api, cloud: Cloud) -> None:
    image_id = api.upload_slot()["id"]
    cloud.make_ready(image_id, 300, 200)

    assert api.content(image_id, "256").status == 302
    for variant in ("512", "1024"):
        reply = api.content(image_id, variant)
        assert reply.status == 404
        assert reply.error["code"] == "NOT_FOUND"


@pytest.mark.parametrize("variant", ["2048", "thumb", "", "ORIGINAL", "../original"])
def test_an_unknown_variant_is_404(api: Api, cloud: Cloud, variant: str) -> None:
    image_id = api.upload_slot()["id"]
    cloud.make_ready(image_id)

    reply = api.content(image_id, variant)

    assert reply.status == 404
    assert reply.error["code"] == "NOT_FOUND"


def test_content_of_a_missing_image_is_404(api: Api, cloud: Cloud) -> None:
    assert api.content("AAAAAAAAAAAAAAAAAAAAAA").status == 404
    assert api.content("bad.id").status == 404
