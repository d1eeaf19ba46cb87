"""Uploads at scale through the real handlers under moto: checksums, dedup, multipart uploads
(resume, complete, cancel), quotas and the usage counters, batch status."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from shoebox import keys, records, usage
from shoebox.records import Status
from shoebox.settings import MIB, get_settings
from tests.events import load_s3_event
from tests.functional.harness import Api, Cloud
from tests.functional.pipeline_support import Flow, photo
from tests.photos import big_png

PART = 8 * MIB


@pytest.fixture
def flow(cloud: Cloud) -> Flow:
    return Flow(cloud.s3, cloud.uploads, cloud.media)


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Set the functions' quota settings (as the stack parameters would) for this test."""

    def set_limits(**values: int) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name.upper(), str(value))
        get_settings.cache_clear()

    yield set_limits
    get_settings.cache_clear()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def slot(api: Api, data: bytes, *, sub: str = "alice", **fields: Any) -> dict[str, Any]:
    body = {"filename": "photo.jpg", "content_type": "image/jpeg", "size": len(data), **fields}
    reply = api.create(body, sub=sub)
    assert reply.status == 201, reply.body
    created: dict[str, Any] = reply.json
    return created


def ready(flow: Flow, image_id: str, data: bytes) -> None:
    """Through validation and thumbnails, as S3 would send the events."""
    assert flow.validate(flow.uploaded_event(image_id, data)) == {"batchItemFailures": []}
    assert flow.thumbnails(flow.original_event(image_id)) == {"batchItemFailures": []}
    assert flow.record(image_id).status == Status.READY


def every_key(cloud: Cloud) -> set[str]:
    return {f"{bucket}/{key}" for bucket in (cloud.uploads, cloud.media) for key in cloud.keys_in(bucket)}


def upload_id_of(image_id: str) -> str:
    record = records.find(image_id)
    assert record is not None
    assert record.multipart_upload_id is not None
    return record.multipart_upload_id


def put_part(cloud: Cloud, image_id: str, number: int, data: bytes) -> str:
    """What a client's PUT to a part URL does; the ETag S3 answers (quoted, as in the header)."""
    response = cloud.s3.upload_part(
        Bucket=cloud.uploads,
        Key=keys.incoming_key(image_id),
        UploadId=upload_id_of(image_id),
        PartNumber=number,
        Body=data,
    )
    etag: str = response["ETag"]
    return etag


def pieces(data: bytes) -> list[bytes]:
    return [data[start : start + PART] for start in range(0, len(data), PART)]


# ------------------------------------------------------------------ checksums


def test_a_declared_sha256_is_pinned_in_the_post_policy_and_the_put_headers(api: Api) -> None:
    data = photo()
    pinned = base64.b64encode(hashlib.sha256(data).digest()).decode()

    post = slot(api, data, sha256=sha(data).upper())  # any case of hex
    assert post["image"]["sha256"] == sha(data)
    assert post["upload"]["fields"]["x-amz-checksum-sha256"] == pinned
    policy = json.loads(base64.b64decode(post["upload"]["fields"]["policy"]))
    assert {"x-amz-checksum-sha256": pinned} in policy["conditions"]

    put = slot(api, data, sha256=sha(data), method="PUT")
    assert put["upload"]["headers"] == {"Content-Type": "image/jpeg", "x-amz-checksum-sha256": pinned}
    assert "x-amz-checksum-sha256" in put["upload"]["url"].split("X-Amz-SignedHeaders=", 1)[1].split("&")[0]


@pytest.mark.parametrize("value", ["abc", "g" * 64, "0" * 63, 12, None])
def test_a_malformed_sha256_is_a_validation_error(api: Api, value: Any) -> None:
    body = {"filename": "a.jpg", "content_type": "image/jpeg", "size": 10, "sha256": value}
    if value is None:
        body["sha256"] = None  # null is "not declared"
        assert api.create(body).status == 201
        return
    reply = api.create(body)
    assert (reply.status, reply.error["code"], reply.error["details"]["field"]) == (
        400,
        "VALIDATION_ERROR",
        "sha256",
    )


def test_bytes_other_than_the_declared_ones_are_rejected_checksum_mismatch(api: Api, flow: Flow) -> None:
    declared, sent = photo(size=(800, 600)), photo(size=(640, 480))
    image = slot(api, declared, sha256=sha(declared))["image"]
    assert flow.validate(flow.uploaded_event(image["id"], sent)) == {"batchItemFailures": []}
    rejected = api.get(image["id"]).json
    assert rejected["status"] == "REJECTED"
    assert rejected["error"]["code"] == "CHECKSUM_MISMATCH"
    assert flow.objects_of(image["id"]) == []  # the bytes are gone
    assert api.usage()["images"] == 0


def test_without_a_declared_sha256_the_image_records_that_of_its_uploaded_bytes(api: Api, flow: Flow) -> None:
    data = photo()
    image = slot(api, data)["image"]
    assert image["sha256"] is None
    ready(flow, image["id"], data)
    assert api.get(image["id"]).json["sha256"] == sha(data)


# ------------------------------------------------------------------ dedup


def test_a_ready_image_with_the_same_bytes_is_answered_and_no_slot_is_made(
    api: Api, flow: Flow, cloud: Cloud
) -> None:
    data = photo()
    first = slot(api, data, sha256=sha(data))["image"]
    # Not READY yet: a PENDING image with the same hash does not count.
    second = slot(api, data, sha256=sha(data))["image"]
    assert second["id"] != first["id"]
    api.cancel(second["id"])
    ready(flow, first["id"], data)
    objects, usage_before = every_key(cloud), api.usage()

    reply = api.create(
        {"filename": "again.jpg", "content_type": "image/jpeg", "size": len(data), "sha256": sha(data)}
    )

    assert reply.status == 200
    assert reply.json["duplicate"] is True
    assert reply.json["image"]["id"] == first["id"]
    assert reply.json["image"]["status"] == "READY"
    assert "upload" not in reply.json
    assert every_key(cloud) == objects
    assert api.usage() == usage_before
    assert len(api.list().json["items"]) == 1


def test_dedup_is_per_owner_and_forgets_deleted_images(api: Api, flow: Flow) -> None:
    data = photo()
    image = slot(api, data, sha256=sha(data))["image"]
    ready(flow, image["id"], data)
    assert slot(api, data, sub="bob", sha256=sha(data))["image"]["id"] != image["id"]  # bob's own slot
    assert api.delete(image["id"]).status == 204
    assert (
        api.create(
            {"filename": "a.jpg", "content_type": "image/jpeg", "size": len(data), "sha256": sha(data)}
        ).status
        == 201
    )


# ------------------------------------------------------------------ multipart


def test_a_multipart_slot_has_a_part_url_per_8_mib_and_its_own_size_limit(api: Api) -> None:
    size = 60 * 1000 * 1000
    created = slot(api, b"", size=size, method="MULTIPART")
    upload = created["upload"]
    assert upload["method"] == "MULTIPART"
    assert upload["part_size"] == PART
    assert [part["number"] for part in upload["parts"]] == list(range(1, 9))  # ceil(60 MB / 8 MiB)
    assert "uploadId=" in upload["parts"][0]["url"]
    assert "partNumber=1" in upload["parts"][0]["url"]
    assert upload["max_bytes"] == size
    # Up to MaxMultipartUploadBytes (100 MiB), where a POST stops at MAX_UPLOAD_BYTES (25 MiB).
    assert api.create({"filename": "a.png", "content_type": "image/png", "size": 60 * MIB}).status == 413
    too_big = api.create(
        {"filename": "a.png", "content_type": "image/png", "size": 100 * MIB + 1, "method": "MULTIPART"}
    )
    assert (too_big.status, too_big.error["details"]["max_bytes"]) == (413, 100 * MIB)


def test_an_interrupted_multipart_upload_resumes_from_the_parts_s3_holds(
    api: Api, flow: Flow, cloud: Cloud
) -> None:
    data = big_png(26 * MIB)  # over MAX_UPLOAD_BYTES: only a multipart slot takes it
    created = slot(api, data, content_type="image/png", method="MULTIPART", sha256=sha(data))
    image_id = created["image"]["id"]
    chunks = pieces(data)
    etags = {1: put_part(cloud, image_id, 1, chunks[0]), 3: put_part(cloud, image_id, 3, chunks[2])}

    status = api.upload_status(image_id)
    assert status.status == 200, status.body
    received = status.json["received"]
    assert [(part["number"], part["size"]) for part in received] == [(1, PART), (3, PART)]
    assert [part["etag"] for part in received] == [etags[1].strip('"'), etags[3].strip('"')]
    assert [part["number"] for part in status.json["upload"]["parts"]] == [2, 4]
    assert status.json["image"]["status"] == "PENDING"

    for number in (2, 4):
        etags[number] = put_part(cloud, image_id, number, chunks[number - 1])
    parts = [{"number": number, "etag": etags[number]} for number in sorted(etags)]
    done = api.complete(image_id, parts)
    assert done.status == 200, done.body
    assert done.json["id"] == image_id
    assert cloud.s3.get_object(Bucket=cloud.uploads, Key=keys.incoming_key(image_id))["Body"].read() == data

    # Validation takes a multipart upload up to its own limit, and checks the declared SHA-256.
    head = cloud.s3.head_object(Bucket=cloud.uploads, Key=keys.incoming_key(image_id))
    event = flow_event(flow, image_id, head)
    assert flow.validate(event) == {"batchItemFailures": []}
    record = flow.record(image_id)
    assert (record.status, record.sha256) == (Status.PROCESSING, sha(data))
    assert api.usage()["images"] == 1


def flow_event(flow: Flow, image_id: str, head: dict[str, Any]) -> dict[str, Any]:
    """The event S3 sends once a multipart upload is completed."""
    return load_s3_event(
        "sqs_s3_object_created",
        image_id=image_id,
        bucket=flow.uploads,
        size=head["ContentLength"],
        etag=head["ETag"].strip('"'),
    )


@pytest.fixture
def three_parts(api: Api, cloud: Cloud) -> tuple[str, dict[int, str], bytes]:
    """A multipart slot with its three parts sent: (image id, ETags by number, the bytes)."""
    data = big_png(17 * MIB, seed=3)
    image_id = slot(api, data, content_type="image/png", method="MULTIPART")["image"]["id"]
    etags = {number: put_part(cloud, image_id, number, chunk) for number, chunk in enumerate(pieces(data), 1)}
    return image_id, etags, data


@pytest.mark.parametrize(
    ("order", "change", "reason"),
    [
        ([2, 1, 3], None, "out_of_order"),
        ([1, 2, 2, 3], None, "duplicate_part"),
        ([1, 2, 3], {2: '"0123456789abcdef0123456789abcdef"'}, "etag_mismatch"),
        ([1, 2, 3, 4], None, "missing_part"),
    ],
)
def test_a_bad_part_list_is_refused_and_loses_nothing(
    api: Api,
    cloud: Cloud,
    three_parts: tuple[str, dict[int, str], bytes],
    order: list[int],
    change: Any,
    reason: str,
) -> None:
    image_id, etags, data = three_parts
    given = {**etags, **(change or {}), 4: '"ffffffffffffffffffffffffffffffff"'}
    reply = api.complete(image_id, [{"number": number, "etag": given[number]} for number in order])
    assert reply.status == 400, reply.body
    assert (reply.error["code"], reply.error["details"]["reason"]) == ("INVALID_PARTS", reason)
    # Nothing lost: the parts are still there, the slot still open, and a right list completes.
    status = api.upload_status(image_id).json
    assert [part["number"] for part in status["received"]] == [1, 2, 3]
    assert status["image"]["status"] == "PENDING"
    assert api.complete(image_id, [{"number": n, "etag": etags[n]} for n in (1, 2, 3)]).status == 200
    assert cloud.s3.get_object(Bucket=cloud.uploads, Key=keys.incoming_key(image_id))["Body"].read() == data


def test_a_short_part_that_is_not_the_last_is_refused(
    api: Api, cloud: Cloud, three_parts: tuple[str, dict[int, str], bytes]
) -> None:
    image_id, etags, data = three_parts
    short = put_part(cloud, image_id, 2, pieces(data)[2])  # the short last piece, sent as part 2
    reply = api.complete(
        image_id,
        [{"number": 1, "etag": etags[1]}, {"number": 2, "etag": short}, {"number": 3, "etag": etags[3]}],
    )
    assert (reply.status, reply.error["details"]) == (
        400,
        {"field": "parts", "reason": "part_too_small", "number": 2},
    )


def test_parts_holding_more_than_the_declared_size_are_refused(api: Api, cloud: Cloud) -> None:
    data = big_png(9 * MIB)
    image_id = slot(api, data, size=len(data) - 1, content_type="image/png", method="MULTIPART")["image"][
        "id"
    ]
    etags = {n: put_part(cloud, image_id, n, chunk) for n, chunk in enumerate(pieces(data), 1)}
    reply = api.complete(image_id, [{"number": n, "etag": etag} for n, etag in etags.items()])
    assert (reply.status, reply.error["code"]) == (413, "PAYLOAD_TOO_LARGE")
    assert reply.error["details"] == {"field": "parts", "total": len(data), "declared": len(data) - 1}
    assert len(api.upload_status(image_id).json["received"]) == 2


def test_completing_twice_answers_the_same_until_validation_takes_the_bytes(
    api: Api, flow: Flow, cloud: Cloud, three_parts: tuple[str, dict[int, str], bytes]
) -> None:
    image_id, etags, _data = three_parts
    parts = [{"number": n, "etag": etag} for n, etag in etags.items()]
    first = api.complete(image_id, parts)
    again = api.complete(image_id, parts)
    assert (first.status, again.status) == (200, 200)
    assert again.json["id"] == image_id
    assert again.json["status"] == "PENDING"
    assert api.upload_status(image_id).error["code"] == "NOT_PENDING"  # the bytes are in S3
    head = cloud.s3.head_object(Bucket=cloud.uploads, Key=keys.incoming_key(image_id))
    assert flow.validate(flow_event(flow, image_id, head)) == {"batchItemFailures": []}
    late = api.complete(image_id, parts)
    assert (late.status, late.error["code"], late.error["details"]["status"]) == (
        409,
        "NOT_PENDING",
        "PROCESSING",
    )


def test_someone_elses_upload_is_404_to_every_upload_route(
    api: Api, cloud: Cloud, three_parts: tuple[str, dict[int, str], bytes]
) -> None:
    image_id, etags, _ = three_parts
    parts = [{"number": n, "etag": etag} for n, etag in etags.items()]
    assert api.complete(image_id, parts, sub="mallory").status == 404
    assert api.upload_status(image_id, sub="mallory").status == 404
    assert api.cancel(image_id, sub="mallory").status == 404
    assert api.upload_status("not-an-id").status == 404
    assert len(api.upload_status(image_id).json["received"]) == 3  # untouched


def test_complete_is_for_multipart_uploads_only(api: Api) -> None:
    image_id = slot(api, b"x" * 10)["image"]["id"]
    reply = api.complete(image_id, [{"number": 1, "etag": "abc"}])
    assert (reply.status, reply.error["code"]) == (409, "NOT_MULTIPART")


@pytest.mark.parametrize(
    "parts",
    [
        [],
        [{"number": 0, "etag": "a"}],
        [{"number": 1}],
        [{"number": "1", "etag": "a"}],
        [{"number": 1, "etag": "a", "x": 1}],
    ],
)
def test_a_malformed_completion_is_a_validation_error(api: Api, parts: Any) -> None:
    image_id = slot(api, b"", size=10, method="MULTIPART")["image"]["id"]
    reply = api.complete(image_id, parts)
    assert (reply.status, reply.error["code"]) == (400, "VALIDATION_ERROR")


def test_resuming_a_post_or_put_upload_gives_fresh_urls_of_its_method(api: Api) -> None:
    data = photo()
    post = slot(api, data, sha256=sha(data))
    status = api.upload_status(post["image"]["id"]).json
    assert status["received"] == []
    assert status["upload"]["method"] == "POST"
    assert status["upload"]["fields"]["key"] == keys.incoming_key(post["image"]["id"])
    assert (
        status["upload"]["fields"]["x-amz-checksum-sha256"]
        == post["upload"]["fields"]["x-amz-checksum-sha256"]
    )
    put = slot(api, data, method="PUT")
    assert api.upload_status(put["image"]["id"]).json["upload"]["method"] == "PUT"


# ------------------------------------------------------------------ cancel


def test_cancelling_frees_the_slot_and_removes_the_upload_and_its_parts(
    api: Api, cloud: Cloud, three_parts: tuple[str, dict[int, str], bytes]
) -> None:
    image_id, _, _ = three_parts
    assert api.usage()["pending"] == 1
    assert api.cancel(image_id).status == 204
    assert api.get(image_id).status == 404
    assert api.usage()["pending"] == 0
    assert cloud.s3.list_multipart_uploads(Bucket=cloud.uploads).get("Uploads", []) == []
    assert api.cancel(image_id).status == 404  # once


def test_cancelling_a_post_upload_whose_bytes_arrived_unvalidated_removes_them(
    api: Api, flow: Flow, cloud: Cloud
) -> None:
    data = photo()
    image_id = slot(api, data)["image"]["id"]
    event = flow.uploaded_event(image_id, data)
    assert api.cancel(image_id).status == 204
    assert cloud.keys_in(cloud.uploads) == []
    # Its event, late: no slot, nothing written.
    assert flow.validate(event) == {"batchItemFailures": []}
    assert flow.objects_of(image_id) == []
    assert api.usage() == {**api.usage(), "images": 0, "pending": 0}


def test_cancel_is_refused_once_the_bytes_arrived(api: Api, flow: Flow) -> None:
    data = photo()
    image_id = slot(api, data)["image"]["id"]
    assert flow.validate(flow.uploaded_event(image_id, data)) == {"batchItemFailures": []}
    reply = api.cancel(image_id)
    assert (reply.status, reply.error["code"]) == (409, "NOT_PENDING")
    assert api.get(image_id).json["status"] == "PROCESSING"


# ------------------------------------------------------------------ quotas and usage


def test_usage_follows_every_transition_once_whatever_retries_come(api: Api, flow: Flow) -> None:
    assert api.usage() == {
        "images": 0,
        "bytes": 0,
        "pending": 0,
        "limits": {"images": 10_000, "bytes": 10 * 1024**3, "pending": 50},
    }
    data = photo()
    image_id = slot(api, data)["image"]["id"]
    assert api.usage()["pending"] == 1
    event = flow.uploaded_event(image_id, data)
    for _ in range(2):  # a duplicate event claims nothing twice
        assert flow.validate(event) == {"batchItemFailures": []}
    stored = int(flow.record(image_id).stored_size or 0)
    assert api.usage() | {"limits": None} == {"images": 1, "bytes": stored, "pending": 0, "limits": None}
    assert flow.thumbnails(flow.original_event(image_id)) == {"batchItemFailures": []}
    assert api.usage()["images"] == 1  # READY counts as PROCESSING did
    assert api.delete(image_id).status == 204
    assert api.delete(image_id).status == 404
    assert api.usage() | {"limits": None} == {"images": 0, "bytes": 0, "pending": 0, "limits": None}


def test_a_rejection_or_a_failure_gives_back_what_the_image_held(api: Api, flow: Flow) -> None:
    rejected = slot(api, b"not an image at all")["image"]["id"]
    assert flow.validate(flow.uploaded_event(rejected, b"not an image at all")) == {"batchItemFailures": []}
    failed = slot(api, b"x" * 10)["image"]["id"]
    records.mark_failed(failed, "INTERNAL_ERROR", "gave up")
    accepted = flow.accept()
    records.reject_processing(accepted.id, accepted.source_etag, "CORRUPT_IMAGE", "does not decode")
    for image_id in (rejected, failed, accepted.id):
        assert flow.record(image_id).status in (Status.REJECTED, Status.FAILED)
    assert api.usage() | {"limits": None} == {"images": 0, "bytes": 0, "pending": 0, "limits": None}


def test_the_pending_limit_answers_429_with_retry_after(api: Api, limits: Callable[..., None]) -> None:
    limits(max_pending_per_owner=2)
    first = slot(api, b"x" * 10)["image"]["id"]
    slot(api, b"x" * 10)
    refused = api.create({"filename": "a.jpg", "content_type": "image/jpeg", "size": 10})
    assert (refused.status, refused.error["code"]) == (429, "TOO_MANY_PENDING")
    assert refused.error["details"] == {"pending": 2, "limit": 2}
    assert 1 <= int(refused.headers["retry-after"]) <= usage.RETRY_AFTER_SECONDS
    assert slot(api, b"x" * 10, sub="bob")  # per owner
    assert api.cancel(first).status == 204  # a cancel frees a slot at once
    slot(api, b"x" * 10)


def test_the_image_and_byte_limits_count_open_slots_and_answer_403(
    api: Api, flow: Flow, limits: Callable[..., None]
) -> None:
    data = photo()
    limits(max_images_per_owner=2)
    ready(flow, slot(api, data)["image"]["id"], data)
    slot(api, data)  # one READY image + one open slot = 2
    refused = api.create({"filename": "a.jpg", "content_type": "image/jpeg", "size": 10})
    assert (refused.status, refused.error["code"]) == (403, "QUOTA_EXCEEDED")
    assert refused.error["details"] == {"quota": "images", "used": 1, "pending": 1, "limit": 2}

    limits(max_bytes_per_owner=1000)
    slot(api, b"", sub="bob", size=600)
    over = api.create({"filename": "a.jpg", "content_type": "image/jpeg", "size": 401}, sub="bob")
    assert (over.status, over.error["details"]["quota"], over.error["details"]["pending"]) == (
        403,
        "bytes",
        600,
    )
    slot(api, b"", sub="bob", size=400)  # exactly the limit


def test_a_refused_multipart_slot_leaves_no_multipart_upload(
    api: Api, cloud: Cloud, limits: Callable[..., None]
) -> None:
    limits(max_pending_per_owner=1)
    slot(api, b"", size=10, method="MULTIPART")
    refused = api.create(
        {"filename": "a.png", "content_type": "image/png", "size": 10, "method": "MULTIPART"}
    )
    assert refused.status == 429
    assert len(cloud.s3.list_multipart_uploads(Bucket=cloud.uploads).get("Uploads", [])) == 1


def test_an_expired_slot_stops_counting_and_its_late_upload_is_still_counted_exactly(
    api: Api, flow: Flow, limits: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    limits(max_pending_per_owner=1, pending_ttl_seconds=60)
    data = photo()
    late = slot(api, data)["image"]["id"]
    assert api.create({"filename": "a.jpg", "content_type": "image/jpeg", "size": 10}).status == 429
    later = time.time() + 120  # the slot has expired (its record waits for DynamoDB's TTL)
    monkeypatch.setattr(time, "time", lambda: later)
    assert api.usage()["pending"] == 0
    assert api.upload_status(late).error["code"] == "UPLOAD_EXPIRED"
    fresh = slot(api, b"x" * 10)["image"]["id"]  # the admission prunes the expired entry
    pruned = usage.read("alice")
    assert pruned is not None
    assert [each.image_id for each in usage.slots_of(pruned)] == [fresh]
    # The expired slot's upload arrives anyway: it is counted as an image, exactly once.
    event = flow.uploaded_event(late, data)
    assert flow.validate(event) == {"batchItemFailures": []}
    assert flow.validate(event) == {"batchItemFailures": []}
    found = usage.read("alice")
    assert found is not None
    stored = int(flow.record(late).stored_size or 0)
    assert (found.images, found.stored_bytes, found.held_images, found.held_bytes) == (
        1,
        stored,
        2,
        stored + 10,
    )


# ------------------------------------------------------------------ batch status


def test_batch_status_answers_the_callers_images_among_the_ids_in_one_request(api: Api, flow: Flow) -> None:
    mine = [slot(api, b"x" * 10)["image"]["id"] for _ in range(3)]
    theirs = slot(api, b"x" * 10, sub="bob")["image"]["id"]
    accepted = flow.accept().id
    ids = [*mine, theirs, accepted, "unknown", keys.new_image_id(), mine[0]]
    reply = api.list(ids=",".join(ids))
    assert reply.status == 200
    assert [item["id"] for item in reply.json["items"]] == [accepted, *reversed(mine)]  # newest first
    assert reply.json["next_cursor"] is None
    only = api.list(ids=",".join(ids), status="PROCESSING", limit=1, cursor="ignored")
    assert [item["id"] for item in only.json["items"]] == [accepted]


@pytest.mark.parametrize("ids", ["", ",", ",".join(["a"] * 101)])
def test_batch_status_wants_1_to_100_ids(api: Api, ids: str) -> None:
    reply = api.list(ids=ids)
    assert (reply.status, reply.error["details"]["field"]) == (400, "ids")


def test_batch_status_of_only_unknown_ids_is_empty(api: Api) -> None:
    reply = api.list(ids="unknown,../etc,x")
    assert (reply.status, reply.json) == (200, {"items": [], "next_cursor": None})


def test_a_usage_item_that_keeps_changing_is_a_429_to_retry_and_leaves_nothing(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    admit = usage.admit

    def always_outdated(*args: Any) -> usage.Admission:
        found = admit(*args)
        # As if another writer changed the item between each read and write.
        return usage.Admission(found.actions, found.condition & usage.UsageRecord.slots["gone"].exists())

    monkeypatch.setattr(usage, "admit", always_outdated)
    reply = api.create({"filename": "a.jpg", "content_type": "image/jpeg", "size": 10})
    assert (reply.status, reply.error["code"], reply.headers["retry-after"]) == (
        429,
        "TOO_MANY_REQUESTS",
        "1",
    )
    assert api.list().json["items"] == []
    assert api.usage()["pending"] == 0
