"""POST /v1/uploads through CreateUploadFunction's handler."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from shoebox import keys
from shoebox.observability import logger
from shoebox.records import ImageRecord
from tests.events import load_event
from tests.functional.harness import MAX_UPLOAD_BYTES, Api, Cloud, Output, Reply

ALLOWED = ["image/jpeg", "image/png", "image/webp", "image/gif", "image/heic", "image/heif", "image/avif"]
VALID = {"filename": "holiday.jpg", "content_type": "image/jpeg", "size": 2481152}


def records() -> list[ImageRecord]:
    return list(ImageRecord.scan())


def assert_refused(reply: Reply, status: int, code: str, field: str) -> None:
    """Refused with the SPEC error body naming `field`, and no record written."""
    assert reply.status == status
    assert reply.error["code"] == code
    assert reply.error["details"]["field"] == field
    assert records() == []


def test_post_slot_pins_the_server_chosen_key(api: Api, cloud: Cloud) -> None:
    reply = api.create(VALID, sub="alice")

    assert reply.status == 201
    body = reply.json
    assert set(body) == {"image", "upload"}
    image, upload = body["image"], body["upload"]
    assert keys.is_image_id(image["id"])
    assert image["status"] == "PENDING"
    assert image["filename"] == "holiday.jpg"
    assert image["content_type"] == "image/jpeg"
    assert image["size"] == 2481152
    assert image["variants"] == {}
    assert image["error"] is None
    assert image["width"] is None
    assert image["height"] is None
    assert image["created_at"].endswith("Z")
    assert image["updated_at"].endswith("Z")

    assert set(upload) == {"method", "url", "fields", "expires_at", "max_bytes"}
    assert upload["method"] == "POST"
    assert upload["max_bytes"] == 2481152
    assert upload["fields"]["key"] == f"incoming/{image['id']}"
    assert upload["fields"]["Content-Type"] == "image/jpeg"
    assert {"policy", "x-amz-signature", "x-amz-credential", "x-amz-date"} <= set(upload["fields"])
    assert cloud.uploads in upload["url"]
    expires = datetime.strptime(upload["expires_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs((expires - datetime.now(UTC)).total_seconds() - 900) < 10

    # The PENDING record belongs to the token's subject and remembers what was declared.
    record = ImageRecord.get(image["id"])
    assert record.owner == "alice"
    assert record.status == "PENDING"
    assert record.upload_key == f"incoming/{image['id']}"
    assert record.expires_at is not None


def test_put_slot_signs_the_content_type(api: Api, cloud: Cloud) -> None:
    reply = api.create({**VALID, "content_type": "image/png", "method": "PUT"})

    assert reply.status == 201
    image, upload = reply.json["image"], reply.json["upload"]
    assert set(upload) == {"method", "url", "headers", "expires_at", "max_bytes"}
    assert upload["method"] == "PUT"
    assert upload["headers"] == {"Content-Type": "image/png"}
    url = urlparse(upload["url"])
    assert url.path.endswith(f"/incoming/{image['id']}")
    query = parse_qs(url.query)
    assert "content-type" in query["X-Amz-SignedHeaders"][0].split(";")
    assert query["X-Amz-Expires"] == ["900"]
    assert upload["expires_at"].endswith("Z")


def test_the_client_cannot_choose_the_key(api: Api, cloud: Cloud) -> None:
    reply = api.create({**VALID, "filename": "../../originals/someone-else.jpg"})

    assert reply.status == 201
    image = reply.json["image"]
    assert reply.json["upload"]["fields"]["key"] == f"incoming/{image['id']}"
    assert image["filename"] == "../../originals/someone-else.jpg"  # only a label


@pytest.mark.parametrize("content_type", ALLOWED)
def test_every_allowed_type_gets_a_slot(api: Api, cloud: Cloud, content_type: str) -> None:
    reply = api.create({**VALID, "content_type": content_type})
    assert reply.status == 201
    assert reply.json["upload"]["fields"]["Content-Type"] == content_type


@pytest.mark.parametrize("size", [1, MAX_UPLOAD_BYTES])
def test_size_bounds_are_inclusive(api: Api, cloud: Cloud, size: int) -> None:
    reply = api.create({**VALID, "size": size})
    assert reply.status == 201
    assert reply.json["upload"]["max_bytes"] == size


def test_a_255_character_filename_is_accepted(api: Api, cloud: Cloud) -> None:
    name = "a" * 251 + ".png"
    reply = api.create({**VALID, "filename": name})
    assert reply.status == 201
    assert reply.json["image"]["filename"] == name


def test_unicode_filenames_are_kept(api: Api, cloud: Cloud) -> None:
    reply = api.create({**VALID, "filename": "Été à Zürich 🌄.jpg"})
    assert reply.status == 201
    assert reply.json["image"]["filename"] == "Été à Zürich 🌄.jpg"


@pytest.mark.parametrize(
    "content_type",
    ["image/svg+xml", "text/html", "application/pdf", "image/jpg", "IMAGE/JPEG", "image/jpeg; x=y", ""],
)
def test_unsupported_type_is_415(api: Api, cloud: Cloud, content_type: str) -> None:
    reply = api.create({**VALID, "content_type": content_type})

    assert_refused(reply, 415, "UNSUPPORTED_MEDIA_TYPE", "content_type")


@pytest.mark.parametrize("size", [0, -1, MAX_UPLOAD_BYTES + 1, 10**30])
def test_size_out_of_range_is_413(api: Api, cloud: Cloud, size: int) -> None:
    reply = api.create({**VALID, "size": size})

    assert_refused(reply, 413, "PAYLOAD_TOO_LARGE", "size")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"content_type": "image/jpeg", "size": 10}, "filename"),
        ({"filename": "a.jpg", "size": 10}, "content_type"),
        ({"filename": "a.jpg", "content_type": "image/jpeg"}, "size"),
        ({**VALID, "size": "12"}, "size"),
        ({**VALID, "size": True}, "size"),
        ({**VALID, "size": 12.0}, "size"),
        ({**VALID, "size": 12.5}, "size"),
        ({**VALID, "size": None}, "size"),
        ({**VALID, "size": [12]}, "size"),
        ({**VALID, "filename": "a" * 256}, "filename"),
        ({**VALID, "filename": ""}, "filename"),
        ({**VALID, "filename": "a\nb.jpg"}, "filename"),
        ({**VALID, "filename": "a\x00b.jpg"}, "filename"),
        ({**VALID, "filename": "a\x7fb.jpg"}, "filename"),
        ({**VALID, "filename": "a\u0085b.jpg"}, "filename"),
        ({**VALID, "filename": "evil\u202egpj.exe"}, "filename"),
        ({**VALID, "filename": 12}, "filename"),
        ({**VALID, "content_type": 12}, "content_type"),
        ({**VALID, "content_type": None}, "content_type"),
        ({**VALID, "method": "GET"}, "method"),
        ({**VALID, "method": "post"}, "method"),
        ({**VALID, "owner": "mallory"}, "owner"),
        ({**VALID, "key": "originals/x"}, "key"),
        ([VALID], "body"),
        ("holiday.jpg", "body"),
        (12, "body"),
    ],
)
def test_invalid_body_is_400_naming_the_field(api: Api, cloud: Cloud, body: Any, field: str) -> None:
    reply = api.create(json.dumps(body))

    assert_refused(reply, 400, "VALIDATION_ERROR", field)
    assert field in reply.error["message"]


def test_a_lone_surrogate_in_the_filename_is_400(api: Api, cloud: Cloud) -> None:
    # Valid JSON, but no UTF-8 store could keep it.
    raw = '{"filename": "a\\ud800.jpg", "content_type": "image/jpeg", "size": 10}'
    reply = api.create(raw)
    assert reply.status == 400
    assert reply.error["details"]["field"] == "filename"


@pytest.mark.parametrize("raw", ["{", '{"filename": "a.jpg",}', "not json", '{"size": 1'])
def test_malformed_json_is_400_on_the_body(api: Api, cloud: Cloud, raw: str) -> None:
    reply = api.create(raw)

    assert reply.status == 400
    assert reply.error["code"] == "VALIDATION_ERROR"
    assert reply.error["details"]["field"] == "body"


def test_undecodable_bytes_are_400(api: Api, cloud: Cloud) -> None:
    reply = api.create(b"\xff\xfe\xfd{")
    assert reply.status == 400
    assert reply.error["code"] == "VALIDATION_ERROR"


def test_empty_body_is_400(api: Api, cloud: Cloud) -> None:
    reply = api.create(None)
    assert reply.status == 400
    assert reply.error["details"]["field"] == "body"


def test_json_without_a_content_type_is_400_not_500(api: Api, cloud: Cloud) -> None:
    # curl -d without -H: API Gateway base64-encodes a body it does not know to be text.
    event = load_event("apigw_create_upload_no_content_type")
    assert event["isBase64Encoded"] is True

    reply = api.call("create_upload", event)

    assert reply.status == 400
    assert reply.error["details"]["field"] == "body"


def test_a_type_error_wins_over_range_errors(api: Api, cloud: Cloud) -> None:
    reply = api.create({"filename": "a.jpg", "content_type": "text/html", "size": "big"})
    assert reply.status == 400
    assert reply.error["details"]["field"] == "size"


def test_metrics_and_logs_name_the_image(api: Api, cloud: Cloud, output: Output) -> None:
    reply = api.create({**VALID, "method": "PUT"})
    lines = output.lines()

    image_id = reply.json["image"]["id"]
    [log] = [line for line in lines if line.get("message") == "upload slot issued"]
    assert log["image_id"] == image_id
    assert log["request_id"] == reply.request_id
    [metric] = [line for line in lines if "UploadsIssued" in line]
    assert metric["method"] == "PUT"
    [definition] = metric["_aws"]["CloudWatchMetrics"]
    assert definition["Namespace"] == "Shoebox"
    assert any("method" in dimensions for dimensions in definition["Dimensions"])


def test_the_image_id_does_not_outlive_the_request(api: Api, cloud: Cloud) -> None:
    assert api.create(VALID).status == 201
    assert "image_id" not in logger.get_current_keys()
