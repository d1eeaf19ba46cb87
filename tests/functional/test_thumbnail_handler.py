"""ThumbnailFunction's real handler on real S3 → SQS event payloads, under moto; with
ValidateFunction before it, the whole pipeline from upload to READY."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from make_thumbnails import thumbhash
from PIL import Image
from view_share.placeholder import thumbhash_to_rgba

from shoebox import keys, records, variants
from shoebox.records import Status
from tests.events import load_s3_event
from tests.functional.pipeline_support import (
    Flow,
    batch,
    delete_concurrently,
    message_ids,
    metric_values,
    photo,
)
from tests.unit.samples import RED, WHITE


@pytest.fixture
def flow(cloud: Any) -> Flow:
    return Flow(cloud.s3, cloud.uploads, cloud.media)


def media_keys(image_id: str) -> list[str]:
    return sorted(variants.object_keys(image_id)["media"])


def store_every_media_object(flow: Flow, image_id: str) -> None:
    for key in variants.object_keys(image_id)["media"]:
        flow.s3.put_object(Bucket=flow.media, Key=key, Body=b"left over")


def test_an_upload_ends_ready_with_upright_thumbnails(flow: Flow, capsys: pytest.CaptureFixture[str]) -> None:
    image = flow.accept(photo(size=(1600, 1200), orientation=6))

    assert flow.thumbnails(flow.original_event(image.id)) == {"batchItemFailures": []}

    record = flow.record(image.id)
    assert record.status == Status.READY
    variants = record.to_simple_dict()["variants"]
    assert variants["original"] == {
        "width": 1600,
        "height": 1200,
        "content_type": "image/jpeg",
        "key": keys.original_key(image.id),
    }
    assert sorted(variants) == ["1024", "256", "512", "original"]
    for size in (256, 512, 1024):
        variant = variants[str(size)]
        assert variant["key"] == keys.thumbnail_key(image.id, size)
        assert variant["content_type"] == "image/webp"
        assert (variant["width"], variant["height"]) == (size, size * 3 // 4)
        stored = flow.s3.get_object(Bucket=flow.media, Key=variant["key"])
        assert stored["ContentType"] == "image/webp"
        with Image.open(io.BytesIO(stored["Body"].read())) as thumbnail:
            assert thumbnail.format == "WEBP"
            assert thumbnail.size == (variant["width"], variant["height"])
            assert not thumbnail.getexif()  # pixels only
            rgb = thumbnail.convert("RGB")
            # Upright: the red block is top-left, whatever the camera stored.
            assert _near(rgb.getpixel((5, 5)), RED)
            assert _near(rgb.getpixel((rgb.width - 5, rgb.height - 5)), WHITE)
    assert sorted(flow.objects_of(image.id)) == [f"{flow.media}/{key}" for key in media_keys(image.id)]
    # What the page paints first, and the camera's capture time (its location never).
    assert record.taken_at == "2024-06-01T12:00:00"
    assert record.placeholder is not None
    width, height, _ = thumbhash_to_rgba(base64.b64decode(record.placeholder))
    assert width > height  # upright, as the thumbnails
    output = capsys.readouterr().out
    assert [value for value, _ in metric_values(output, "ImagesReady")] == [1]
    [(milliseconds, _)] = metric_values(output, "ThumbnailMilliseconds")
    assert milliseconds > 0


def test_a_small_image_has_no_variant_larger_than_itself(flow: Flow) -> None:
    image = flow.accept(photo(size=(300, 200), orientation=1))

    assert flow.thumbnails(flow.original_event(image.id)) == {"batchItemFailures": []}

    variants = flow.record(image.id).to_simple_dict()["variants"]
    assert sorted(variants) == ["256", "original"]
    assert (variants["256"]["width"], variants["256"]["height"]) == (256, 171)
    assert "Contents" not in flow.s3.list_objects_v2(Bucket=flow.media, Prefix=f"thumbnails/{image.id}/512")


def test_a_duplicate_or_late_event_after_ready_changes_nothing(flow: Flow) -> None:
    image = flow.accept()
    event = flow.original_event(image.id)
    assert flow.thumbnails(event) == {"batchItemFailures": []}
    ready = flow.record(image.id)
    flow.record_calls()

    # The same message again, and a second copy of it in one batch.
    assert flow.thumbnails(batch(event, flow.original_event(image.id))) == {"batchItemFailures": []}

    assert flow.record(image.id).to_simple_dict() == ready.to_simple_dict()
    assert flow.calls == []  # nothing read, written or deleted


@pytest.mark.parametrize("finish", [False, True], ids=["tombstoned", "removed"])
def test_an_event_for_a_deleted_image_removes_its_media(flow: Flow, finish: bool) -> None:
    image = flow.accept()
    event = flow.original_event(image.id)
    delete_concurrently(image.id, finish=finish)
    store_every_media_object(flow, image.id)  # e.g. left by an earlier, interrupted attempt

    assert flow.thumbnails(event) == {"batchItemFailures": []}

    assert flow.objects_of(image.id) == []


@pytest.mark.parametrize("status", [Status.REJECTED, Status.FAILED])
def test_an_event_for_a_rejected_or_failed_image_removes_its_media(flow: Flow, status: Status) -> None:
    image = flow.accept()
    event = flow.original_event(image.id)
    if status == Status.FAILED:
        records.mark_failed(image.id, "INTERNAL_ERROR", "gave up")
    else:
        records.reject_processing(image.id, image.source_etag, "CORRUPT_IMAGE", "does not decode")
    store_every_media_object(flow, image.id)  # e.g. left by an attempt cut short
    before = flow.record(image.id).to_simple_dict()
    flow.record_calls()

    assert flow.thumbnails(event) == {"batchItemFailures": []}

    # Such an image keeps no objects (SPEC §1, §4); nothing is read or made for it.
    assert flow.record(image.id).to_simple_dict() == before
    assert flow.objects_of(image.id) == []
    assert {operation for operation, _ in flow.calls} == {"DeleteObjects"}


def test_an_original_replaced_since_its_event_is_left_to_the_newer_event(flow: Flow) -> None:
    image = flow.accept(photo(orientation=1))
    stale = flow.original_event(image.id)
    flow.s3.put_object(Bucket=flow.media, Key=keys.original_key(image.id), Body=photo(size=(800, 600)))
    newer = flow.original_event(image.id)

    assert flow.thumbnails(stale) == {"batchItemFailures": []}
    assert flow.record(image.id).status == Status.PROCESSING
    assert flow.objects_of(image.id) == [f"{flow.media}/{keys.original_key(image.id)}"]

    assert flow.thumbnails(newer) == {"batchItemFailures": []}
    assert flow.record(image.id).status == Status.READY


def test_an_original_missing_while_its_image_is_processing_fails_the_message(flow: Flow) -> None:
    image = flow.accept()
    event = flow.original_event(image.id)
    flow.s3.delete_object(Bucket=flow.media, Key=keys.original_key(image.id))

    with pytest.raises(BatchProcessingError):
        flow.thumbnails(event)

    assert flow.record(image.id).status == Status.PROCESSING  # FAILED once the retries run out


def test_an_s3_error_fails_only_its_message(flow: Flow) -> None:
    broken, fine = flow.accept(), flow.accept()
    broken_event, fine_event = flow.original_event(broken.id), flow.original_event(fine.id)

    with flow.s3_fault("PutObject", keys.thumbnail_key(broken.id, 512)):
        response = flow.thumbnails(batch(broken_event, fine_event))

    assert response == {"batchItemFailures": [{"itemIdentifier": message_ids(broken_event)[0]}]}
    assert flow.record(broken.id).status == Status.PROCESSING
    assert flow.record(fine.id).status == Status.READY
    # The retry overwrites what the failed attempt wrote, and finishes.
    assert flow.thumbnails(broken_event) == {"batchItemFailures": []}
    assert flow.record(broken.id).status == Status.READY


def test_a_failure_on_the_last_receive_marks_the_image_failed(
    flow: Flow, capsys: pytest.CaptureFixture[str]
) -> None:
    image, fine = flow.accept(), flow.accept()

    with flow.s3_fault("GetObject", keys.original_key(image.id)):
        response = flow.thumbnails(
            batch(
                flow.original_event(image.id, receive_count=3), flow.original_event(fine.id, receive_count=3)
            )
        )

    assert len(response["batchItemFailures"]) == 1  # still reported: the message goes to the DLQ
    record = flow.record(image.id)
    assert record.status == Status.FAILED
    assert record.error_code == "INTERNAL_ERROR"
    assert flow.objects_of(image.id) == []  # a FAILED image keeps no objects
    assert flow.record(fine.id).status == Status.READY
    assert [value for value, _ in metric_values(capsys.readouterr().out, "ImagesFailed")] == [1]


def test_a_failure_before_the_last_receive_leaves_the_image_processing(flow: Flow) -> None:
    image = flow.accept()

    with flow.s3_fault("GetObject", keys.original_key(image.id)), pytest.raises(BatchProcessingError):
        flow.thumbnails(flow.original_event(image.id, receive_count=2))

    assert flow.record(image.id).status == Status.PROCESSING


def test_the_s3_test_event_is_skipped(flow: Flow) -> None:
    flow.record_calls()

    assert flow.thumbnails(load_s3_event("sqs_s3_test_event", bucket=flow.media)) == {"batchItemFailures": []}

    assert flow.calls == []


@pytest.mark.parametrize("finish", [False, True], ids=["tombstoned", "removed"])
def test_a_delete_during_thumbnailing_leaves_nothing_behind(flow: Flow, finish: bool) -> None:
    image = flow.accept()
    event = flow.original_event(image.id)

    # The delete runs (removing the original) while the thumbnails are being written.
    def delete() -> None:
        delete_concurrently(image.id, finish=finish)
        flow.s3.delete_object(Bucket=flow.media, Key=keys.original_key(image.id))

    flow.after_first("PutObject", delete)

    assert flow.thumbnails(event) == {"batchItemFailures": []}

    record = records.find(image.id)
    assert record is None if finish else record is not None and record.status == Status.DELETING
    assert flow.objects_of(image.id) == []


def _near(pixel: Any, color: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, color, strict=True))


def test_a_ready_image_has_its_placeholder_and_when_it_was_taken(flow: Flow) -> None:
    # The photo is mostly white (a red block in a corner) and was taken 2024-06-01 12:00:00.
    image = flow.accept(photo(size=(1600, 1200), orientation=6))

    assert flow.thumbnails(flow.original_event(image.id)) == {"batchItemFailures": []}

    record = flow.record(image.id)
    assert record.taken_at == "2024-06-01T12:00:00"
    assert record.placeholder is not None
    red, green, blue, alpha = thumbhash.average_rgba(base64.b64decode(record.placeholder, validate=True))
    assert alpha == pytest.approx(1.0, abs=0.01)
    assert min(red, green, blue) > 0.7  # mostly white, as the picture is
    assert red > blue  # and the red corner shows
