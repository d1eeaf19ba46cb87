"""The pipeline through the local stack, over the wire: upload slot over HTTP, a multipart POST
straight to S3, S3 → SQS → the functions in their own processes, and the API's view of the
outcome. Waits poll with a deadline; nothing sleeps a fixed time."""

from __future__ import annotations

import io
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import ExifTags, Image

from infra.local import DevStack
from infra.local.processes import FileSink
from tests.local.support import objects_of
from tests.photos import make_photo
from tests.unit.samples import HTML, RED, exif, png, stored_for

pytestmark = pytest.mark.local

DEADLINE_SECONDS = 60.0
FINAL = {"READY", "REJECTED", "FAILED"}


def eventually[T](check: Callable[[], T | None], what: str, seconds: float = DEADLINE_SECONDS) -> T:
    """The first non-None result of `check`, polled until the deadline."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {seconds:.0f} s waiting for {what}")
        time.sleep(0.2)


def camera_photo(folder: Path, size: tuple[int, int] = (2400, 1800), orientation: int = 6) -> bytes:
    """A photo-like JPEG as a phone stores it: sideways with an EXIF orientation, and a GPS
    location. Upright it is `size` with a red block in its top-left corner."""
    with Image.open(make_photo(folder / "scene.jpg", size, seed=7)) as scene:
        upright = scene.convert("RGB")
    upright.paste(RED, (0, 0, size[0] // 4, size[1] // 4))
    out = io.BytesIO()
    stored_for(upright, orientation).save(out, "JPEG", quality=88, exif=exif(orientation, gps=True))
    return out.getvalue()


@dataclass
class User:
    """One user of the local stack, over HTTP like any client."""

    stack: DevStack
    http: httpx.Client

    def upload(self, data: bytes, content_type: str = "image/jpeg", filename: str = "photo.jpg") -> str:
        """Slot (POST /v1/uploads), then the presigned multipart/form-data POST to S3."""
        slot = self.http.post(
            "/v1/uploads", json={"filename": filename, "content_type": content_type, "size": len(data)}
        )
        assert slot.status_code == 201, slot.text
        upload = slot.json()["upload"]
        assert upload["method"] == "POST"
        # httpx sends the fields first and the file last, as S3 requires.
        sent = httpx.post(
            upload["url"], data=upload["fields"], files={"file": (filename, data, content_type)}, timeout=30
        )
        assert sent.status_code in (200, 201, 204), sent.text
        image_id: str = slot.json()["image"]["id"]
        return image_id

    def get(self, image_id: str) -> httpx.Response:
        return self.http.get(f"/v1/images/{image_id}")

    def final(self, image_id: str, seconds: float = DEADLINE_SECONDS) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            reply = self.get(image_id)
            assert reply.status_code == 200, reply.text
            image: dict[str, Any] = reply.json()
            return image if image["status"] in FINAL else None

        return eventually(done, f"image {image_id} to be READY, REJECTED or FAILED", seconds)

    def download(self, image_id: str, variant: str) -> tuple[str, bytes]:
        redirect = self.http.get(f"/v1/images/{image_id}/content", params={"variant": variant})
        assert redirect.status_code == 302, redirect.text
        content = httpx.get(redirect.headers["location"], timeout=30)
        assert content.status_code == 200, content.text
        return content.headers["content-type"], content.content

    def objects_of(self, image_id: str) -> list[str]:
        return objects_of(self.stack, image_id)


def user_of(stack: DevStack) -> Iterator[User]:
    token = stack.token(f"pipeline-{secrets.token_hex(4)}")
    with httpx.Client(
        base_url=stack.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as http:
        yield User(stack, http)


@pytest.fixture
def user(stack: DevStack) -> Iterator[User]:
    yield from user_of(stack)


def queues_idle(stack: DevStack, *logical_ids: str) -> bool:
    sqs = stack.client("sqs")
    for logical_id in logical_ids:
        attributes = sqs.get_queue_attributes(
            QueueUrl=stack.queue_url(logical_id),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        if any(int(value) for value in attributes.values()):
            return False
    return True


def test_a_phone_photo_ends_ready_with_three_upright_variants(user: User, tmp_path: Path) -> None:
    image_id = user.upload(camera_photo(tmp_path, (2400, 1800), orientation=6))

    image = user.final(image_id)

    assert image["status"] == "READY", image
    assert (image["width"], image["height"]) == (2400, 1800)  # upright
    assert image["format"] == "JPEG"
    assert sorted(image["variants"]) == ["1024", "256", "512", "original"]
    content_type, original = user.download(image_id, "original")
    assert content_type == "image/jpeg"
    with Image.open(io.BytesIO(original)) as stored:
        assert not stored.getexif().get_ifd(ExifTags.IFD.GPSInfo)  # no location is handed out
    for size in (256, 512, 1024):
        variant = image["variants"][str(size)]
        assert (variant["width"], variant["height"]) == (size, size * 3 // 4)
        content_type, data = user.download(image_id, str(size))
        assert content_type == "image/webp"
        with Image.open(io.BytesIO(data)) as thumbnail:
            assert thumbnail.format == "WEBP"
            assert thumbnail.size == (variant["width"], variant["height"])
            corner = thumbnail.convert("RGB").getpixel((3, 3))
            assert isinstance(corner, tuple)
            assert _near(corner, RED), corner  # upright: the red block is top-left
    assert not any(key.startswith(user.stack.names["UploadsBucket"]) for key in user.objects_of(image_id))


@pytest.mark.parametrize(
    ("data", "content_type", "code"),
    [(HTML, "image/jpeg", "NOT_AN_IMAGE"), (png(), "image/jpeg", "TYPE_MISMATCH")],
    ids=["html_as_jpeg", "png_as_jpeg"],
)
def test_a_bad_file_ends_rejected_and_leaves_no_object(
    user: User, data: bytes, content_type: str, code: str
) -> None:
    image_id = user.upload(data, content_type)

    image = user.final(image_id)

    assert image["status"] == "REJECTED", image
    assert image["error"]["code"] == code
    assert image["variants"] == {}
    assert user.objects_of(image_id) == []


def test_a_delete_during_processing_leaves_nothing_behind(user: User, tmp_path: Path) -> None:
    image_id = user.upload(camera_photo(tmp_path, (1600, 1200)))
    deleted = user.http.delete(f"/v1/images/{image_id}")  # while validation is under way
    assert deleted.status_code == 204, deleted.text

    # Once both steps have had every message (including any retry), nothing may remain.
    eventually(
        lambda: True if queues_idle(user.stack, "ValidateQueue", "ThumbnailQueue") else None,
        "the pipeline queues to drain",
    )
    assert user.objects_of(image_id) == []
    assert user.get(image_id).status_code == 404


@pytest.fixture(scope="module")
def crashing_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    """A stack of its own whose ThumbnailFunction crashes on every image, with two receives
    before the dead-letter queue."""
    state = tmp_path_factory.mktemp("crashing-stack")
    sink = FileSink(state / "stack.log")
    running = DevStack(
        api_port=0,
        aws_port=0,
        state_dir=state,
        sink=sink,
        parameters={"MaxReceiveCount": "2"},
        handler_overrides={"ThumbnailFunction": "tests.local.crashing_thumbnails.handler"},
    )
    with running:
        yield running
    sink.close()


@pytest.fixture
def crashing_user(crashing_stack: DevStack) -> Iterator[User]:
    yield from user_of(crashing_stack)


def test_a_thumbnail_step_that_keeps_crashing_ends_failed_in_the_dlq(
    crashing_stack: DevStack, crashing_user: User, tmp_path: Path
) -> None:
    user = crashing_user
    image_id = user.upload(camera_photo(tmp_path, (800, 600)))

    image = user.final(image_id)

    assert image["status"] == "FAILED", image
    assert image["error"]["code"] == "INTERNAL_ERROR"
    sqs = crashing_stack.client("sqs")

    def dead_letter() -> list[str] | None:
        received = sqs.receive_message(
            QueueUrl=crashing_stack.queue_url("ThumbnailDeadLetterQueue"), WaitTimeSeconds=1
        )
        bodies = [message["Body"] for message in received.get("Messages", [])]
        return bodies or None

    bodies = eventually(dead_letter, "the message in the thumbnail dead-letter queue")
    assert any(f"originals/{image_id}" in body or f"originals%2F{image_id}" in body for body in bodies)


def _near(pixel: tuple[int, ...], color: tuple[int, int, int], tolerance: int = 50) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, color, strict=True))


def test_a_delete_while_thumbnails_are_retried_leaves_nothing_behind(
    crashing_stack: DevStack, crashing_user: User, tmp_path: Path
) -> None:
    user = crashing_user
    image_id = user.upload(camera_photo(tmp_path, (800, 600)))
    # Validated (its original stored), its thumbnail step failing and about to be retried.
    eventually(
        lambda: True if user.get(image_id).json()["status"] != "PENDING" else None, "validation to finish"
    )
    deleted = user.http.delete(f"/v1/images/{image_id}")
    assert deleted.status_code == 204, deleted.text

    eventually(
        lambda: True if queues_idle(crashing_stack, "ValidateQueue", "ThumbnailQueue") else None,
        "the pipeline queues to drain",
    )
    assert user.objects_of(image_id) == []
    assert user.get(image_id).status_code == 404
