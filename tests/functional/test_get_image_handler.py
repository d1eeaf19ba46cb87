"""GET /v1/images/{id} and GET /v1/images/{id}/content through their functions' handlers."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlparse

import pytest

from shoebox import keys, records
from tests.functional.harness import Api, Cloud


def test_a_pending_image(api: Api, cloud: Cloud) -> None:
    created = api.upload_slot(filename="holiday.jpg", size=1234)

    reply = api.get(created["id"])

    assert reply.status == 200
    assert reply.json == created
    assert reply.json["status"] == "PENDING"
    assert reply.json["variants"] == {}


def test_a_ready_image_has_every_variant_with_a_short_lived_url(api: Api, cloud: Cloud) -> None:
    image_id = api.upload_slot()["id"]
    cloud.make_ready(image_id, 4032, 3024)

    image = api.get(image_id).json

    assert image["status"] == "READY"
    assert (image["width"], image["height"], image["format"]) == (4032, 3024, "JPEG")
    assert image["sha256"] == "0" * 64
    assert list(image["variants"]) == ["original", "256", "512", "1024"]
    assert image["variants"]["original"] == {
        "width": 4032,
        "height": 3024,
        "content_type": "image/jpeg",
        "url": image["variants"]["original"]["url"],
    }
    assert image["variants"]["1024"]["content_type"] == "image/webp"
    assert (image["variants"]["1024"]["width"], image["variants"]["1024"]["height"]) == (1024, 768)
    for name, variant in image["variants"].items():
        url = urlparse(variant["url"])
        query = parse_qs(url.query)
        assert query["X-Amz-Expires"] == ["300"]
        expected = (
            keys.original_key(image_id) if name == "original" else keys.thumbnail_key(image_id, int(name))
        )
        assert url.path.endswith(expected)
        assert query["response-content-type"] == [variant["content_type"]]


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
    location = urlparse(reply.headers["location"])
    assert location.path.endswith(keys.original_key(image_id))
    query = parse_qs(location.query)
    assert query["X-Amz-Expires"] == ["300"]
    assert query["response-content-type"] == ["image/jpeg"]
    [disposition] = query["response-content-disposition"]
    assert disposition.startswith("inline; ")
    fallback = disposition.split('filename="', 1)[1].split('"', 1)[0]
    assert fallback == "Ete _quoted__ x.jpg"  # no quote, semicolon or non-ASCII in the plain name
    assert unquote(disposition.split("filename*=UTF-8''", 1)[1]) == 'Été "quoted"; x.jpg'
    # The object the URL points to is in the media bucket.
    assert cloud.s3.get_object(Bucket=cloud.media, Key=keys.original_key(image_id))["Body"].read()


@pytest.mark.parametrize("variant", ["256", "512", "1024"])
def test_content_of_a_thumbnail(api: Api, cloud: Cloud, variant: str) -> None:
    image_id = api.upload_slot(filename="holiday.jpg")["id"]
    cloud.make_ready(image_id)

    reply = api.content(image_id, variant)

    assert reply.status == 302
    location = urlparse(reply.headers["location"])
    assert location.path.endswith(keys.thumbnail_key(image_id, int(variant)))
    query = parse_qs(location.query)
    assert query["response-content-type"] == ["image/webp"]
    assert f'filename="holiday-{variant}.webp"' in query["response-content-disposition"][0]


@pytest.mark.parametrize("status", ["PENDING", "PROCESSING", "REJECTED", "FAILED"])
def test_content_before_ready_is_409(api: Api, cloud: Cloud, status: str) -> None:
    image_id = api.upload_slot()["id"]
    accepted = records.Accepted(8, "image/jpeg", "JPEG", 10, 10, "0" * 64, "etag")
    if status == "PROCESSING":
        records.claim_accepted(image_id, accepted)
    elif status == "REJECTED":
        records.claim_rejected(image_id, "etag", "CORRUPT_IMAGE", "truncated")
    elif status == "FAILED":
        records.mark_failed(image_id, "INTERNAL_ERROR", "kept failing")

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
