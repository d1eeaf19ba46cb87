"""DELETE /v1/images/{id} through DeleteImageFunction's handler."""

from __future__ import annotations

from typing import Any

import pytest

from shoebox import keys, records
from shoebox.records import ImageRecord
from tests.functional.harness import Api, Cloud, Output


def test_delete_removes_every_object_and_the_record(api: Api, cloud: Cloud) -> None:
    image_id = api.upload_slot()["id"]
    cloud.make_ready(image_id, 2000, 1500)
    other = api.upload_slot()["id"]
    cloud.make_ready(other, 2000, 1500)
    assert keys.incoming_key(image_id) in cloud.keys_in(cloud.uploads)
    assert len([key for key in cloud.keys_in(cloud.media) if image_id in key]) == 4

    reply = api.delete(image_id)

    assert reply.status == 204
    assert reply.body == ""
    assert not [key for key in cloud.keys_in(cloud.uploads) + cloud.keys_in(cloud.media) if image_id in key]
    assert records.find(image_id) is None
    with pytest.raises(ImageRecord.DoesNotExist):
        ImageRecord.get(image_id)
    # The neighbour is untouched.
    assert len([key for key in cloud.keys_in(cloud.media) if other in key]) == 4
    assert api.get(other).status == 200


def test_after_a_delete_get_content_and_delete_are_404(api: Api, cloud: Cloud) -> None:
    image_id = api.upload_slot()["id"]
    cloud.make_ready(image_id)
    assert api.delete(image_id).status == 204

    for reply in (api.delete(image_id), api.get(image_id), api.content(image_id)):
        assert reply.status == 404
        assert reply.error["code"] == "NOT_FOUND"
    assert api.list().json["items"] == []


@pytest.mark.parametrize("state", ["PENDING", "PENDING_UPLOADED", "REJECTED", "FAILED"])
def test_any_visible_state_can_be_deleted(api: Api, cloud: Cloud, state: str) -> None:
    image_id = api.upload_slot()["id"]
    if state == "PENDING_UPLOADED":
        cloud.s3.put_object(Bucket=cloud.uploads, Key=keys.incoming_key(image_id), Body=b"bytes")
    elif state == "REJECTED":
        records.claim_rejected(image_id, "etag", "NOT_AN_IMAGE", "text")
    elif state == "FAILED":
        records.mark_failed(image_id, "INTERNAL_ERROR", "boom")

    assert api.delete(image_id).status == 204
    assert records.find(image_id) is None
    assert cloud.keys_in(cloud.uploads) == []


def test_an_interrupted_delete_is_finished_by_the_next(api: Api, cloud: Cloud) -> None:
    image_id = api.upload_slot()["id"]
    cloud.make_ready(image_id)
    records.begin_delete(image_id, "alice")  # ...and the function died before the objects went

    assert api.get(image_id).status == 404  # a tombstone is already gone for the API
    assert api.delete(image_id).status == 204
    assert records.find(image_id) is None
    assert [key for key in cloud.keys_in(cloud.media) if image_id in key] == []


def test_someone_elses_image_is_404_and_survives(api: Api, cloud: Cloud) -> None:
    image_id = api.upload_slot(sub="alice")["id"]
    cloud.make_ready(image_id)

    reply = api.delete(image_id, sub="mallory")

    assert reply.status == 404
    assert reply.error["code"] == "NOT_FOUND"
    assert api.get(image_id, sub="alice").json["status"] == "READY"
    assert len([key for key in cloud.keys_in(cloud.media) if image_id in key]) == 4


@pytest.mark.parametrize("image_id", ["AAAAAAAAAAAAAAAAAAAAAA", "nope"])
def test_a_missing_or_malformed_id_is_404(api: Api, cloud: Cloud, image_id: str) -> None:
    assert api.delete(image_id).status == 404


def test_a_delete_is_counted_and_logged(api: Api, cloud: Cloud, output: Output) -> None:
    image_id = api.upload_slot()["id"]
    output.lines()

    reply = api.delete(image_id)
    lines = output.lines()

    [log] = [line for line in lines if line.get("message") == "image deleted"]
    assert log["image_id"] == image_id
    assert log["request_id"] == reply.request_id
    metrics: list[dict[str, Any]] = [line for line in lines if "ImagesDeleted" in line]
    assert [metric["ImagesDeleted"] for metric in metrics] == [[1.0]]
