"""ValidateFunction's real handler on real S3 → SQS event payloads, under moto."""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from PIL import ExifTags, Image

from shoebox import keys, records
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
from tests.unit.samples import HTML, heif_saying, png

MAX_UPLOAD_BYTES = 25 * 1024 * 1024  # the conftest's MAX_UPLOAD_BYTES


@pytest.fixture
def flow(cloud: Any) -> Flow:
    return Flow(cloud.s3, cloud.uploads, cloud.media)


def test_a_photo_is_accepted_stored_clean_and_its_upload_removed(
    flow: Flow, capsys: pytest.CaptureFixture[str]
) -> None:
    image = flow.pending()
    data = photo(size=(1600, 1200), orientation=6)
    event = flow.uploaded_event(image.id, data)
    etag = json.loads(event["Records"][0]["body"])["Records"][0]["s3"]["object"]["eTag"]

    assert flow.validate(event) == {"batchItemFailures": []}

    record = flow.record(image.id)
    assert record.status == Status.PROCESSING
    assert (record.width, record.height) == (1600, 1200)  # upright, after EXIF orientation
    assert record.format == "JPEG"
    assert record.stored_content_type == "image/jpeg"
    assert record.source_etag == etag
    assert record.expires_at is None  # no longer expires as an abandoned slot
    stored = flow.s3.get_object(Bucket=flow.media, Key=keys.original_key(image.id))
    original = stored["Body"].read()
    assert stored["ContentType"] == "image/jpeg"
    assert "immutable" in stored["CacheControl"]
    assert record.stored_size == len(original)
    # The SHA-256 of the bytes as uploaded (SPEC §3), not of the clean original that differs.
    assert record.sha256 == hashlib.sha256(data).hexdigest() != hashlib.sha256(original).hexdigest()
    assert stored["Metadata"]["upload-sha256"] == record.sha256
    with Image.open(io.BytesIO(original)) as im:
        assert not im.getexif().get_ifd(ExifTags.IFD.GPSInfo)  # no location
        assert im.getexif()[ExifTags.Base.Orientation] == 6
    assert flow.objects_of(image.id) == [f"{flow.media}/{keys.original_key(image.id)}"]
    assert [value for value, _ in metric_values(capsys.readouterr().out, "ImagesAccepted")] == [1]


def test_url_encoded_keys_are_decoded(flow: Flow) -> None:
    image = flow.pending()
    event = flow.uploaded_event(image.id, photo(), name="sqs_s3_encoded_key")
    assert "incoming%2F" in event["Records"][0]["body"]  # as the emulator encodes it

    assert flow.validate(event) == {"batchItemFailures": []}

    assert flow.record(image.id).status == Status.PROCESSING
    assert flow.objects_of(image.id) == [f"{flow.media}/{keys.original_key(image.id)}"]


def test_a_stray_object_is_deleted_by_its_decoded_key(flow: Flow) -> None:
    # "holiday+photo+%281%29.jpg" in the event is the object "holiday photo (1).jpg".
    flow.s3.put_object(Bucket=flow.uploads, Key="incoming/holiday photo (1).jpg", Body=b"x")
    event = load_s3_event("sqs_s3_stray_key", bucket=flow.uploads)

    assert flow.validate(event) == {"batchItemFailures": []}

    assert "Contents" not in flow.s3.list_objects_v2(Bucket=flow.uploads)


def test_a_duplicate_event_changes_nothing(flow: Flow) -> None:
    image = flow.pending()
    event = flow.uploaded_event(image.id, photo())
    assert flow.validate(event) == {"batchItemFailures": []}
    first = flow.record(image.id)
    original = flow.read(flow.media, keys.original_key(image.id))
    flow.record_calls()

    assert flow.validate(event) == {"batchItemFailures": []}

    again = flow.record(image.id)
    assert again.to_simple_dict() == first.to_simple_dict()
    assert flow.read(flow.media, keys.original_key(image.id)) == original
    # Nothing read or written: the upload is found gone, so nothing is deleted either.
    assert flow.calls == [("HeadObject", keys.incoming_key(image.id))]


def test_the_double_event_of_a_multipart_upload_is_processed_once(
    flow: Flow, capsys: pytest.CaptureFixture[str]
) -> None:
    image = flow.pending()
    data = photo()
    key = keys.incoming_key(image.id)
    upload = flow.s3.create_multipart_upload(Bucket=flow.uploads, Key=key)
    part = flow.s3.upload_part(
        Bucket=flow.uploads, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=data
    )
    done = flow.s3.complete_multipart_upload(
        Bucket=flow.uploads,
        Key=key,
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )
    etag = done["ETag"].strip('"')
    assert etag.endswith("-1")
    event = load_s3_event(
        "sqs_s3_multipart_double", image_id=image.id, bucket=flow.uploads, size=len(data), etag=etag
    )
    assert len(event["Records"]) == 2

    assert flow.validate(event) == {"batchItemFailures": []}

    assert flow.record(image.id).status == Status.PROCESSING
    assert flow.record(image.id).source_etag == etag
    assert flow.objects_of(image.id) == [f"{flow.media}/{keys.original_key(image.id)}"]
    assert [value for value, _ in metric_values(capsys.readouterr().out, "ImagesAccepted")] == [1]


def test_an_upload_to_a_slot_already_used_is_deleted_not_processed(flow: Flow) -> None:
    image = flow.accept()
    records.mark_ready(image.id, [])
    before = flow.record(image.id)
    original = flow.read(flow.media, keys.original_key(image.id))

    # A late event, and a second upload with the still-valid presigned POST.
    assert flow.validate(flow.uploaded_event(image.id, png())) == {"batchItemFailures": []}

    assert flow.record(image.id).to_simple_dict() == before.to_simple_dict()
    assert flow.read(flow.media, keys.original_key(image.id)) == original
    assert flow.objects_of(image.id) == [f"{flow.media}/{keys.original_key(image.id)}"]


@pytest.mark.parametrize("how", ["deleted", "never_existed"])
def test_an_upload_without_a_record_is_deleted_and_nothing_created(flow: Flow, how: str) -> None:
    if how == "deleted":
        image_id = flow.pending().id
        delete_concurrently(image_id, finish=True)
    else:
        image_id = keys.new_image_id()

    assert flow.validate(flow.uploaded_event(image_id, photo())) == {"batchItemFailures": []}

    assert records.find(image_id) is None
    assert flow.objects_of(image_id) == []


def test_an_upload_for_an_image_being_deleted_is_deleted(flow: Flow) -> None:
    image_id = flow.pending().id
    delete_concurrently(image_id, finish=False)

    assert flow.validate(flow.uploaded_event(image_id, photo())) == {"batchItemFailures": []}

    assert flow.record(image_id).status == Status.DELETING
    assert flow.objects_of(image_id) == []


@pytest.mark.parametrize(
    ("declared", "event_size"),
    [(1000, 1001), (MAX_UPLOAD_BYTES, MAX_UPLOAD_BYTES + 1)],
    ids=["over_declared", "over_limit"],
)
def test_too_large_is_rejected_from_the_event_without_reading_the_object(
    flow: Flow, declared: int, event_size: int
) -> None:
    image = flow.pending(size=declared)
    flow.record_calls()

    event = flow.uploaded_event(image.id, photo(), size=event_size)
    assert flow.validate(event) == {"batchItemFailures": []}

    record = flow.record(image.id)
    assert record.status == Status.REJECTED
    assert record.error_code == "TOO_LARGE"
    assert "GetObject" not in [operation for operation, _ in flow.calls]
    assert flow.objects_of(image.id) == []


@pytest.mark.parametrize(
    ("content_type", "data", "code"),
    [
        ("image/jpeg", HTML, "NOT_AN_IMAGE"),
        ("image/jpeg", png(), "TYPE_MISMATCH"),
        ("image/jpeg", photo()[:-600], "CORRUPT_IMAGE"),
        ("image/heic", heif_saying(8064, 6048), "TOO_MANY_PIXELS"),  # over the work limit
    ],
    ids=["html", "png_declared_jpeg", "truncated_jpeg", "heif_48mp"],
)
def test_a_bad_upload_is_rejected_with_its_code_and_leaves_nothing(
    flow: Flow, capsys: pytest.CaptureFixture[str], content_type: str, data: bytes, code: str
) -> None:
    image = flow.pending(content_type=content_type)

    assert flow.validate(flow.uploaded_event(image.id, data)) == {"batchItemFailures": []}

    record = flow.record(image.id)
    assert record.status == Status.REJECTED
    assert record.error_code == code
    assert record.error_message
    assert flow.objects_of(image.id) == []
    # One blob per rejection, with the code as a dimension.
    [(value, dimensions)] = metric_values(capsys.readouterr().out, "ImagesRejected")
    assert value == 1
    assert dimensions["code"] == code


def test_an_upload_replaced_since_its_event_is_left_to_the_newer_event(flow: Flow) -> None:
    image = flow.pending()
    stale = flow.uploaded_event(image.id, photo(orientation=1))
    newer = flow.uploaded_event(image.id, photo(orientation=3))

    assert flow.validate(stale) == {"batchItemFailures": []}
    assert flow.record(image.id).status == Status.PENDING
    assert flow.objects_of(image.id) == [f"{flow.uploads}/{keys.incoming_key(image.id)}"]

    assert flow.validate(newer) == {"batchItemFailures": []}
    assert flow.record(image.id).status == Status.PROCESSING


def test_an_s3_error_fails_only_its_message(flow: Flow) -> None:
    broken, fine = flow.pending(), flow.pending()
    broken_event = flow.uploaded_event(broken.id, photo())
    fine_event = flow.uploaded_event(fine.id, photo())

    with flow.s3_fault("GetObject", keys.incoming_key(broken.id)):
        response = flow.validate(batch(broken_event, fine_event))

    assert response == {"batchItemFailures": [{"itemIdentifier": message_ids(broken_event)[0]}]}
    assert flow.record(broken.id).status == Status.PENDING  # left for SQS's retry
    assert flow.record(fine.id).status == Status.PROCESSING
    # The retry succeeds.
    assert flow.validate(broken_event) == {"batchItemFailures": []}
    assert flow.record(broken.id).status == Status.PROCESSING


def test_a_failure_on_the_last_receive_marks_the_image_failed(
    flow: Flow, capsys: pytest.CaptureFixture[str]
) -> None:
    image = flow.pending()
    data = photo()
    original = keys.original_key(image.id)

    with flow.s3_fault("PutObject", original):
        # A batch whose every message failed is an invocation error (Powertools raises).
        with pytest.raises(BatchProcessingError):
            flow.validate(flow.uploaded_event(image.id, data, receive_count=2))
        assert flow.record(image.id).status == Status.PROCESSING  # claimed, its original not stored
        # Still a failure: the message goes on to the dead-letter queue.
        with pytest.raises(BatchProcessingError):
            flow.validate(flow.uploaded_event(image.id, data, receive_count=3))

    record = flow.record(image.id)
    assert record.status == Status.FAILED
    assert record.error_code == "INTERNAL_ERROR"
    assert flow.objects_of(image.id) == []  # the upload too: a FAILED image keeps no objects
    assert [value for value, _ in metric_values(capsys.readouterr().out, "ImagesFailed")] == [1]


def test_the_s3_test_event_is_skipped(flow: Flow) -> None:
    flow.record_calls()

    assert flow.validate(load_s3_event("sqs_s3_test_event", bucket=flow.uploads)) == {"batchItemFailures": []}

    assert flow.calls == []


def test_a_message_that_is_no_s3_event_fails_alone(flow: Flow) -> None:
    image = flow.pending()
    good = flow.uploaded_event(image.id, photo())
    garbage = load_s3_event("sqs_s3_test_event")
    garbage["Records"][0]["body"] = "hello"

    response = flow.validate(batch(garbage, good))

    assert response == {"batchItemFailures": [{"itemIdentifier": message_ids(garbage)[0]}]}
    assert flow.record(image.id).status == Status.PROCESSING


@pytest.mark.parametrize("finish", [False, True], ids=["tombstoned", "removed"])
def test_a_delete_during_validation_leaves_nothing_behind(flow: Flow, finish: bool) -> None:
    image = flow.pending()
    event = flow.uploaded_event(image.id, photo())
    # The delete lands after the original is stored, before the record moves to PROCESSING
    # (and removes what existed when it ran: the upload).
    flow.after_first("PutObject", lambda: delete_concurrently(image.id, finish=finish))

    assert flow.validate(event) == {"batchItemFailures": []}

    record = records.find(image.id)
    assert record is None if finish else record is not None and record.status == Status.DELETING
    assert flow.objects_of(image.id) == []
