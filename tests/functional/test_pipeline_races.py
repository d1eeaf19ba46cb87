"""The slot's claim (SPEC §1, DESIGN decision 8) through the real handlers, under moto: two files
sent to one slot, duplicate events, crashes and late retries at each point, a delete during
validation, and a failed full decode. Two execution environments are simulated by running one
handler inside another's S3 call, so every interleaving is deterministic."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from PIL import ExifTags, Image

from shoebox import keys, records, variants
from shoebox.records import Status
from tests.functional.pipeline_support import (
    OWNER,
    Flow,
    delete_concurrently,
    etag_in,
    metric_values,
    photo,
    redelivered,
)
from tests.quota import assert_usage_exact

# Two files told apart by every derived object: A is landscape, B portrait.
A_SIZE, B_SIZE = (1600, 1200), (900, 1200)
OK = {"batchItemFailures": []}


@pytest.fixture
def flow(cloud: Any) -> Flow:
    return Flow(cloud.s3, cloud.uploads, cloud.media)


def file_a() -> bytes:
    return photo(size=A_SIZE, orientation=1)


def file_b() -> bytes:
    return photo(size=B_SIZE, orientation=6)


def thumbnails_of(flow: Flow, image_id: str) -> dict[str, Any]:
    """The thumbnail step on the original's event: the whole pipeline's second half."""
    return flow.thumbnails(flow.original_event(image_id))


def validation_cut_short(
    flow: Flow, data: bytes, *, after_write: bool, receive_count: int = 1
) -> tuple[str, dict[str, Any]]:
    """A new upload whose validation dies either right after its claim (its original not written)
    or right after writing the original; the image id and the message, for its redelivery."""
    image_id = flow.pending().id
    event = flow.uploaded_event(image_id, data, receive_count=receive_count)
    original = keys.original_key(image_id)
    cut = flow.crash_after("PutObject", original) if after_write else flow.s3_fault("PutObject", original)
    with cut, pytest.raises(BatchProcessingError):
        flow.validate(event)
    return image_id, event


@pytest.fixture(autouse=True)
def usage_stays_exact(flow: Flow) -> Iterator[None]:
    """Whatever the race, the owner's usage counts exactly what is left (shoebox.usage)."""
    yield
    assert_usage_exact(OWNER)


def assert_one_file(flow: Flow, image_id: str, uploaded: bytes, upright: tuple[int, int]) -> None:
    """READY, and the record, the served original and every thumbnail come from `uploaded`; no
    upload is left in the slot."""
    record = flow.record(image_id)
    assert record.status == Status.READY
    assert (record.width, record.height) == upright
    original = flow.s3.get_object(Bucket=flow.media, Key=keys.original_key(image_id))
    data = original["Body"].read()
    # The record's checksum is that of this file as uploaded (SPEC §3), and the original was
    # stored from that same upload.
    assert record.sha256 == hashlib.sha256(uploaded).hexdigest()
    assert original["Metadata"]["upload-sha256"] == record.sha256
    with Image.open(io.BytesIO(data)) as im:
        turned = im.getexif().get(ExifTags.Base.Orientation, 1) in (5, 6, 7, 8)
        assert im.size == ((upright[1], upright[0]) if turned else upright)
    stored = record.to_simple_dict()["variants"]
    for name, variant in stored.items():
        if name == variants.ORIGINAL:
            continue
        assert max(variant["width"], variant["height"]) == int(name)
        assert variant["width"] / variant["height"] == pytest.approx(upright[0] / upright[1], rel=0.01)
        body = flow.read(flow.media, variant["key"])
        with Image.open(io.BytesIO(body)) as thumbnail:
            assert thumbnail.size == (variant["width"], variant["height"])
    assert sorted(flow.objects_of(image_id)) == sorted(
        f"{flow.media}/{variant['key']}" for variant in stored.values()
    )


# ---------------------------------------------------------------- two files, one slot


def test_a_file_validated_between_anothers_read_and_claim_wins_the_slot(flow: Flow) -> None:
    image = flow.pending()
    event_a = flow.uploaded_event(image.id, file_a())
    data_b = file_b()
    events_b: list[dict[str, Any]] = []

    def environment_2() -> None:
        # Environment 1 has read A; B overwrites A, and environment 2 validates B in full.
        events_b.append(flow.uploaded_event(image.id, data_b))
        assert flow.validate(events_b[0]) == OK

    flow.after_first("GetObject", environment_2)
    assert flow.validate(event_a) == OK  # A's claim is refused: A is deleted unprocessed

    assert flow.record(image.id).source_etag == etag_in(events_b[0])
    assert thumbnails_of(flow, image.id) == OK
    assert_one_file(flow, image.id, data_b, B_SIZE)


def test_a_file_arriving_between_anothers_claim_and_write_is_deleted_unprocessed(flow: Flow) -> None:
    image = flow.pending()
    data_a = file_a()
    event_a = flow.uploaded_event(image.id, data_a)
    seen: list[tuple[str, str | None, list[str], list[str]]] = []

    def environment_2() -> None:
        # A has claimed the slot and is about to write its original; B lands and is validated.
        flow.record_calls()
        assert flow.validate(flow.uploaded_event(image.id, file_b())) == OK
        record = flow.record(image.id)
        operations = [operation for operation, _ in flow.calls]
        seen.append((record.status, record.source_etag, flow.objects_of(image.id), operations))

    flow.before_first("PutObject", environment_2)
    assert flow.validate(event_a) == OK

    # B was deleted without a write; the slot stayed A's.
    [(status, etag, objects, operations)] = seen
    assert (status, etag) == (Status.PROCESSING, etag_in(event_a))
    assert objects == []
    assert "PutObject" not in operations
    assert thumbnails_of(flow, image.id) == OK
    assert_one_file(flow, image.id, data_a, A_SIZE)


def test_the_late_event_of_a_replaced_file_leaves_the_claimants_bytes(flow: Flow) -> None:
    image = flow.pending()
    stale = flow.uploaded_event(image.id, file_a())
    data_b = file_b()
    event_b = flow.uploaded_event(image.id, data_b)  # B replaced A before either was validated
    original = keys.original_key(image.id)
    # B claims, and its environment dies before writing the original...
    with flow.s3_fault("PutObject", original), pytest.raises(BatchProcessingError):
        flow.validate(event_b)

    # ...then A's late event runs: A lost, but the bytes under the key are B's, not A's.
    assert flow.validate(stale) == OK
    assert flow.objects_of(image.id) == [f"{flow.uploads}/{keys.incoming_key(image.id)}"]

    assert flow.validate(event_b) == OK  # B's retry still has its bytes
    assert thumbnails_of(flow, image.id) == OK
    assert_one_file(flow, image.id, data_b, B_SIZE)


def test_a_duplicate_event_validated_at_once_is_accepted_once(
    flow: Flow, capsys: pytest.CaptureFixture[str]
) -> None:
    image = flow.pending()
    data = file_a()
    event = flow.uploaded_event(image.id, data)

    # S3 delivered the event twice; the second copy runs in full while the first is reading.
    flow.after_first("GetObject", lambda: flow.validate(event))
    assert flow.validate(event) == OK

    assert [value for value, _ in metric_values(capsys.readouterr().out, "ImagesAccepted")] == [1]
    assert thumbnails_of(flow, image.id) == OK
    assert_one_file(flow, image.id, data, A_SIZE)


def test_a_file_that_lost_the_slot_and_keeps_failing_does_not_fail_the_image(flow: Flow) -> None:
    image = flow.pending()
    data_a = file_a()
    assert flow.validate(flow.uploaded_event(image.id, data_a)) == OK
    event_b = flow.uploaded_event(image.id, file_b(), receive_count=3)

    # B's deletion keeps failing, up to its last receive: B's message goes to the DLQ alone.
    with flow.s3_fault("DeleteObjects"), pytest.raises(BatchProcessingError):
        flow.validate(event_b)

    assert flow.record(image.id).status == Status.PROCESSING
    assert thumbnails_of(flow, image.id) == OK
    assert flow.record(image.id).status == Status.READY


# ---------------------------------------------------------------- crashes and late retries


def test_a_crash_right_after_the_claim_is_continued_by_the_retry(flow: Flow) -> None:
    data = file_a()
    image_id, event = validation_cut_short(flow, data, after_write=False)

    # Claimed before anything was written: the slot is this file's, nothing is stored yet.
    claimed = flow.record(image_id)
    assert claimed.status == Status.PROCESSING
    assert claimed.source_etag == etag_in(event)
    assert flow.objects_of(image_id) == [f"{flow.uploads}/{keys.incoming_key(image_id)}"]

    assert flow.validate(redelivered(event, 2)) == OK
    assert thumbnails_of(flow, image_id) == OK
    assert_one_file(flow, image_id, data, A_SIZE)


def test_a_retry_coming_after_ready_changes_nothing(flow: Flow) -> None:
    data = file_a()
    image_id, event = validation_cut_short(flow, data, after_write=True)
    # The original's own event is processed before validation's retry comes back.
    original_event = flow.original_event(image_id)
    assert flow.thumbnails(original_event) == OK
    ready = flow.record(image_id)
    assert ready.status == Status.READY
    flow.record_calls()

    assert flow.validate(redelivered(event, 2)) == OK
    assert flow.thumbnails(original_event) == OK  # and a duplicate of the original's event

    assert flow.record(image_id).to_simple_dict() == ready.to_simple_dict()
    assert "PutObject" not in [operation for operation, _ in flow.calls]
    assert_one_file(flow, image_id, data, A_SIZE)


def test_a_retry_coming_after_failed_leaves_no_object(flow: Flow) -> None:
    image_id, event = validation_cut_short(flow, file_a(), after_write=True)
    # The thumbnail step fails on its last receive, having written its largest thumbnail.
    original_event = flow.original_event(image_id, receive_count=3)
    with flow.s3_fault("PutObject", keys.thumbnail_key(image_id, 512)), pytest.raises(BatchProcessingError):
        flow.thumbnails(original_event)
    assert flow.record(image_id).status == Status.FAILED
    assert flow.objects_of(image_id) == [f"{flow.uploads}/{keys.incoming_key(image_id)}"]

    assert flow.validate(redelivered(event, 2)) == OK

    assert flow.record(image_id).status == Status.FAILED
    assert flow.objects_of(image_id) == []


def test_validation_giving_up_after_writing_the_original_leaves_no_object(flow: Flow) -> None:
    image_id, _ = validation_cut_short(flow, file_a(), after_write=True, receive_count=3)

    assert flow.record(image_id).status == Status.FAILED
    assert flow.objects_of(image_id) == []


def test_a_claimant_whose_upload_was_replaced_before_its_original_ends_failed(flow: Flow) -> None:
    image_id, event_a = validation_cut_short(flow, file_a(), after_write=False)
    # B overwrites A's bytes before A's retry: B is deleted unprocessed, A's bytes are gone.
    assert flow.validate(flow.uploaded_event(image_id, file_b())) == OK

    with pytest.raises(BatchProcessingError):
        flow.validate(redelivered(event_a, 2))
    assert flow.record(image_id).status == Status.PROCESSING
    with pytest.raises(BatchProcessingError):
        flow.validate(redelivered(event_a, 3))

    assert flow.record(image_id).status == Status.FAILED
    assert flow.objects_of(image_id) == []


# ---------------------------------------------------------------- a delete during validation


def test_a_delete_before_the_claim_leaves_nothing_and_nothing_is_written(flow: Flow) -> None:
    image = flow.pending()
    event = flow.uploaded_event(image.id, file_a())
    flow.record_calls()
    # The delete lands while validation holds the bytes and runs the rules.
    flow.after_first("GetObject", lambda: delete_concurrently(image.id, finish=True))

    assert flow.validate(event) == OK

    assert records.find(image.id) is None
    assert "PutObject" not in [operation for operation, _ in flow.calls]
    assert flow.objects_of(image.id) == []


@pytest.mark.parametrize("finish", [False, True], ids=["tombstoned", "removed"])
def test_a_delete_between_the_claim_and_the_write_leaves_nothing(flow: Flow, finish: bool) -> None:
    image = flow.pending()
    event = flow.uploaded_event(image.id, file_a())
    seen: list[dict[str, Any]] = []

    def delete() -> None:
        delete_concurrently(image.id, finish=finish)
        flow.s3.delete_objects(
            Bucket=flow.uploads, Delete={"Objects": [{"Key": keys.incoming_key(image.id)}]}
        )  # what the delete function removes at that moment: the upload (no original yet)

    flow.before_first("PutObject", delete)
    # The original written for a moment has its own event, which the thumbnail step gets too.
    flow.after_first("PutObject", lambda: seen.append(flow.original_event(image.id)))

    assert flow.validate(event) == OK

    assert flow.objects_of(image.id) == []
    assert flow.thumbnails(seen[0]) == OK
    assert flow.objects_of(image.id) == []


# ---------------------------------------------------------------- the full decode fails


@pytest.mark.parametrize("receive_count", [1, 3], ids=["first_receive", "last_receive"])
@pytest.mark.parametrize(
    "corrupt",
    [b"GIF89a not really", photo(size=(1200, 900))[:5000]],
    ids=["unidentifiable", "truncated_jpeg"],
)
def test_an_original_that_does_not_decode_ends_rejected_and_leaves_nothing(
    flow: Flow, capsys: pytest.CaptureFixture[str], corrupt: bytes, receive_count: int
) -> None:
    image = flow.accept()
    # What reaches the full decode is not decodable (validation does not decode every pixel),
    # and an earlier attempt left a thumbnail behind.
    flow.s3.put_object(Bucket=flow.media, Key=keys.original_key(image.id), Body=corrupt)
    flow.s3.put_object(Bucket=flow.media, Key=keys.thumbnail_key(image.id, 256), Body=b"left over")

    assert flow.thumbnails(flow.original_event(image.id, receive_count=receive_count)) == OK

    record = flow.record(image.id)
    assert record.status == Status.REJECTED
    assert record.error_code == "CORRUPT_IMAGE"
    assert record.error_message
    assert flow.objects_of(image.id) == []
    output = capsys.readouterr().out
    assert [dims["code"] for _, dims in metric_values(output, "ImagesRejected")] == ["CORRUPT_IMAGE"]
    assert metric_values(output, "ImagesFailed") == []
