"""The HTTP API over the wire, through the local stack: gateway (JWT checks), each function in
its own process, moto server behind presigned URLs.

A test about an uploaded image (landed, served, deleted, hidden from others) first waits for
the pipeline to make it READY (tests/local/support.py), so it fails when the pipeline does not
run; tests about slots alone accept every state. JWT forgery is test_stack.py's; the pipeline's
own cases are test_pipeline.py's.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from PIL import Image

from infra.local import DevStack
from tests.local.support import User, assert_upload_lands, user_of

pytestmark = pytest.mark.local

STATES = {"PENDING", "PROCESSING", "READY", "REJECTED", "FAILED"}


def jpeg(size: tuple[int, int] = (320, 240)) -> bytes:
    picture = Image.new("RGB", size)
    picture.putdata([(x % 256, y % 256, (x * y) % 256) for y in range(size[1]) for x in range(size[0])])
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=85)
    return out.getvalue()


@pytest.fixture
def connect(stack: DevStack) -> Iterator[Callable[[], User]]:
    """Users with fresh subjects: the session's stack is shared with other tests."""
    with ExitStack() as opened:
        yield lambda: opened.enter_context(user_of(stack, "api"))


@pytest.fixture
def alice(connect: Callable[[], User]) -> User:
    return connect()


@pytest.fixture
def bob(connect: Callable[[], User]) -> User:
    return connect()


def assert_error(reply: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    assert reply.headers.get("x-request-id")
    body = reply.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert set(body["error"]) == {"code", "message", "details"}
    error: dict[str, Any] = body["error"]
    return error


def test_a_presigned_post_upload_lands_and_is_recorded(alice: User) -> None:
    data = jpeg()
    created = alice.slot(len(data))
    upload = created["upload"]
    image_id = created["image"]["id"]
    assert created["image"]["status"] == "PENDING"
    assert upload["fields"]["key"] == f"incoming/{image_id}"
    assert upload["url"].startswith(alice.stack.endpoint("s3"))

    sent = httpx.post(upload["url"], data=upload["fields"], files={"file": ("photo.jpg", data, "image/jpeg")})

    assert sent.status_code in (200, 201, 204), sent.text
    image = assert_upload_lands(alice, image_id)
    assert (image["filename"], image["size"]) == ("photo.jpg", len(data))
    assert (image["format"], image["width"], image["height"]) == ("JPEG", 320, 240)


def test_a_presigned_put_upload_lands_and_is_recorded(alice: User) -> None:
    data = jpeg((200, 150))
    created = alice.slot(len(data), method="PUT")
    upload = created["upload"]
    assert upload["headers"] == {"Content-Type": "image/jpeg"}

    sent = httpx.put(upload["url"], content=data, headers=upload["headers"])

    assert sent.status_code == 200, sent.text
    image = assert_upload_lands(alice, created["image"]["id"])
    assert (image["format"], image["width"], image["height"]) == ("JPEG", 200, 150)
    assert set(image["variants"]) == {"original", "256"}  # smaller than 256 px: one thumbnail


def test_a_ready_upload_is_served_with_its_variants(alice: User) -> None:
    image_id = alice.upload(jpeg((640, 480)))
    image = assert_upload_lands(alice, image_id)

    assert set(image["variants"]) == {"original", "256", "512"}  # 640 px: no 1024
    default = alice.http.get(f"/v1/images/{image_id}/content")
    assert default.status_code == 302, default.text
    assert f"/originals/{image_id}" in default.headers["location"]  # no variant: the original
    content_type, original = alice.download(image_id, "original")
    assert content_type == "image/jpeg"
    with Image.open(io.BytesIO(original)) as served:
        assert (served.format, served.size) == ("JPEG", (640, 480))
    for name in ("256", "512"):
        content_type, thumbnail = alice.download(image_id, name)
        assert content_type == "image/webp"
        with Image.open(io.BytesIO(thumbnail)) as served:
            variant = image["variants"][name]
            assert (served.format, served.size) == ("WEBP", (variant["width"], variant["height"]))
    too_big = alice.http.get(f"/v1/images/{image_id}/content", params={"variant": "1024"})
    assert_error(too_big, 404, "NOT_FOUND")


def test_45_images_listed_10_at_a_time_each_exactly_once(alice: User) -> None:
    created = [alice.slot(filename=f"photo-{n:02}.jpg")["image"]["id"] for n in range(45)]
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 10}
    pages = 0
    while True:
        reply = alice.http.get("/v1/images", params=params)
        assert reply.status_code == 200, reply.text
        pages += 1
        page = reply.json()
        seen += [item["id"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        params = {"limit": 10, "cursor": page["next_cursor"]}
    assert pages == 5
    assert seen == list(reversed(created))


def test_someone_elses_image_is_404_and_never_listed(alice: User, bob: User) -> None:
    image_id = alice.upload(jpeg())
    assert_upload_lands(alice, image_id)  # READY: its content would be served to its owner

    assert_error(bob.http.get(f"/v1/images/{image_id}"), 404, "NOT_FOUND")
    assert_error(bob.http.get(f"/v1/images/{image_id}/content"), 404, "NOT_FOUND")
    assert_error(bob.http.delete(f"/v1/images/{image_id}"), 404, "NOT_FOUND")
    for status in [None, *sorted(STATES)]:
        params: dict[str, str | int] = {"limit": 100, **({"status": status} if status else {})}
        listed = bob.http.get("/v1/images", params=params).json()["items"]
        assert image_id not in [item["id"] for item in listed]
    assert alice.image(image_id)["status"] == "READY"  # still there for its owner


def test_delete_leaves_no_object_in_either_bucket(alice: User) -> None:
    image_id = alice.upload(jpeg((1200, 900)))
    assert_upload_lands(alice, image_id)  # its original and three thumbnails, to be deleted

    reply = alice.http.delete(f"/v1/images/{image_id}")

    assert reply.status_code == 204
    assert reply.content == b""
    assert alice.objects_of(image_id) == []
    assert_error(alice.http.get(f"/v1/images/{image_id}"), 404, "NOT_FOUND")
    assert_error(alice.http.delete(f"/v1/images/{image_id}"), 404, "NOT_FOUND")
    assert image_id not in [item["id"] for item in alice.http.get("/v1/images").json()["items"]]


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        (
            {"filename": "a.svg", "content_type": "image/svg+xml", "size": 10},
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            None,
        ),
        ({"filename": "a.jpg", "content_type": "image/jpeg", "size": 0}, 413, "PAYLOAD_TOO_LARGE", None),
        (
            {"filename": "a.jpg", "content_type": "image/jpeg", "size": 26214401},
            413,
            "PAYLOAD_TOO_LARGE",
            None,
        ),
        ({"filename": "a.jpg", "content_type": "image/jpeg", "size": "12"}, 400, "VALIDATION_ERROR", "size"),
        ({"filename": "a\nb", "content_type": "image/jpeg", "size": 12}, 400, "VALIDATION_ERROR", "filename"),
        (
            {"filename": "a.jpg", "content_type": "image/jpeg", "size": 1, "x": 1},
            400,
            "VALIDATION_ERROR",
            "x",
        ),
        ("{not json", 400, "VALIDATION_ERROR", "body"),
    ],
)
def test_bad_upload_requests(alice: User, body: Any, status: int, code: str, field: str | None) -> None:
    raw = body if isinstance(body, str) else json.dumps(body)
    reply = alice.http.post("/v1/uploads", content=raw, headers={"Content-Type": "application/json"})

    error = assert_error(reply, status, code)
    if field:
        assert error["details"]["field"] == field


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"cursor": "nope"}, "cursor"),
        ({"status": "X"}, "status"),
    ],
)
def test_bad_list_requests(alice: User, params: dict[str, str], field: str) -> None:
    error = assert_error(alice.http.get("/v1/images", params=params), 400, "VALIDATION_ERROR")
    assert error["details"]["field"] == field


def test_content_of_a_slot_without_upload(alice: User) -> None:
    image_id = alice.slot()["image"]["id"]
    assert_error(alice.http.get(f"/v1/images/{image_id}/content"), 409, "NOT_READY")
    assert_error(
        alice.http.get(f"/v1/images/{image_id}/content", params={"variant": "2048"}), 404, "NOT_FOUND"
    )


def test_every_route_needs_a_token(stack: DevStack) -> None:
    with httpx.Client(base_url=stack.api_url, timeout=30) as anonymous:
        replies = [
            anonymous.post(
                "/v1/uploads", json={"filename": "a.jpg", "content_type": "image/jpeg", "size": 1}
            ),
            anonymous.get("/v1/images"),
            anonymous.get("/v1/images/AAAAAAAAAAAAAAAAAAAAAA"),
            anonymous.get("/v1/images/AAAAAAAAAAAAAAAAAAAAAA/content"),
            anonymous.delete("/v1/images/AAAAAAAAAAAAAAAAAAAAAA"),
        ]
    assert [reply.status_code for reply in replies] == [401] * 5


def test_every_answer_carries_a_request_id(alice: User) -> None:
    image_id = alice.slot()["image"]["id"]
    replies = [
        alice.http.get("/v1/images"),
        alice.http.get(f"/v1/images/{image_id}"),
        alice.http.get(f"/v1/images/{image_id}/content"),
        alice.http.delete(f"/v1/images/{image_id}"),
        alice.http.get(f"/v1/images/{image_id}"),
    ]
    ids = [reply.headers.get("x-request-id") for reply in replies]
    assert all(ids)
    assert len(set(ids)) == len(ids)


def test_the_openapi_document_describes_every_route(stack: DevStack) -> None:
    reply = httpx.get(f"{stack.api_url}/openapi.json", timeout=120)
    assert reply.status_code == 200, reply.text
    document = reply.json()
    assert {"/v1/health", "/v1/uploads", "/v1/images", "/v1/images/{id}", "/v1/images/{id}/content"} <= set(
        document["paths"]
    )
    assert document["paths"]["/v1/uploads"]["post"]["security"] == [{"bearerAuth": []}]
