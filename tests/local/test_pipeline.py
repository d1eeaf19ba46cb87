"""The pipeline through the local stack, over the wire: upload slot over HTTP, a multipart POST
straight to S3, S3 → SQS → the functions in their own processes, and the API's view of the
outcome. Waits poll with a deadline; nothing sleeps a fixed time."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import ExifTags, Image

from bench.hostile import frame_bomb
from infra.local import DevStack
from tests.local.support import (
    User,
    assert_upload_lands,
    assert_upload_rejected,
    await_drained,
    eventually,
    stack_of_its_own,
    user_of,
)
from tests.photos import make_photo
from tests.unit.samples import HTML, RED, exif, heif_saying, png, stored_for

pytestmark = pytest.mark.local


def camera_photo(folder: Path, size: tuple[int, int] = (2400, 1800), orientation: int = 6) -> bytes:
    """A photo-like JPEG as a phone stores it: sideways with an EXIF orientation, and a GPS
    location. Upright it is `size` with a red block in its top-left corner."""
    with Image.open(make_photo(folder / "scene.jpg", size, seed=7)) as scene:
        upright = scene.convert("RGB")
    upright.paste(RED, (0, 0, size[0] // 4, size[1] // 4))
    out = io.BytesIO()
    stored_for(upright, orientation).save(out, "JPEG", quality=88, exif=exif(orientation, gps=True))
    return out.getvalue()


@pytest.fixture
def user(stack: DevStack) -> Iterator[User]:
    with user_of(stack, "pipeline") as new:
        yield new


def test_a_phone_photo_ends_ready_with_three_upright_variants(user: User, tmp_path: Path) -> None:
    image_id = user.upload(camera_photo(tmp_path, (2400, 1800), orientation=6))

    image = assert_upload_lands(user, image_id)

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


@pytest.mark.parametrize(
    ("data", "content_type", "code"),
    [
        (HTML, "image/jpeg", "NOT_AN_IMAGE"),
        (png(), "image/jpeg", "TYPE_MISMATCH"),
        (heif_saying(8064, 6048), "image/heic", "TOO_MANY_PIXELS"),  # 48 MP of HEVC: over 2 s of CPU
        (frame_bomb(), "image/gif", "TOO_MANY_FRAMES"),  # 1000 frames of 1 MP in 1.8 MB
    ],
    ids=["html_as_jpeg", "png_as_jpeg", "heif_48mp", "frame_bomb"],
)
def test_a_bad_file_ends_rejected_and_leaves_no_object(
    user: User, data: bytes, content_type: str, code: str
) -> None:
    image_id = user.upload(data, content_type)

    assert_upload_rejected(user, image_id, code)


def test_a_delete_during_processing_leaves_nothing_behind(user: User, tmp_path: Path) -> None:
    image_id = user.upload(camera_photo(tmp_path, (1600, 1200)))
    deleted = user.http.delete(f"/v1/images/{image_id}")  # while validation is under way
    assert deleted.status_code == 204, deleted.text

    # Once both steps have had every message (including any retry), nothing may remain.
    await_drained(user.stack, "ValidateQueue", "ThumbnailQueue")
    assert user.objects_of(image_id) == []
    assert user.http.get(f"/v1/images/{image_id}").status_code == 404


@pytest.fixture(scope="module")
def crashing_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    """A stack of its own whose ThumbnailFunction crashes on every image, with two receives
    before the dead-letter queue."""
    with stack_of_its_own(
        tmp_path_factory.mktemp("crashing-stack"),
        parameters={"MaxReceiveCount": "2"},
        handler_overrides={"ThumbnailFunction": "tests.local.crashing_thumbnails.handler"},
    ) as running:
        yield running


@pytest.fixture
def crashing_user(crashing_stack: DevStack) -> Iterator[User]:
    with user_of(crashing_stack, "crashing") as new:
        yield new


def test_a_thumbnail_step_that_keeps_crashing_ends_failed_in_the_dlq(
    crashing_stack: DevStack, crashing_user: User, tmp_path: Path
) -> None:
    user = crashing_user
    image_id = user.upload(camera_photo(tmp_path, (800, 600)))

    image = user.final(image_id)

    assert image["status"] == "FAILED", image
    assert image["error"]["code"] == "INTERNAL_ERROR"
    sqs = crashing_stack.client("sqs")

    def dead_letter() -> list[str]:
        received = sqs.receive_message(
            QueueUrl=crashing_stack.queue_url("ThumbnailDeadLetterQueue"), WaitTimeSeconds=1
        )
        return [message["Body"] for message in received.get("Messages", [])]

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
        lambda: user.image(image_id), "validation to finish", until=lambda image: image["status"] != "PENDING"
    )
    deleted = user.http.delete(f"/v1/images/{image_id}")
    assert deleted.status_code == 204, deleted.text

    await_drained(crashing_stack, "ValidateQueue", "ThumbnailQueue")
    assert user.objects_of(image_id) == []
    assert user.http.get(f"/v1/images/{image_id}").status_code == 404
