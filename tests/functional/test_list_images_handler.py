"""GET /v1/images through ListImagesFunction's handler."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from shoebox import records
from tests.functional.harness import Api, Cloud


def slots(api: Api, count: int, sub: str = "alice") -> list[str]:
    """`count` images, oldest first."""
    return [api.upload_slot(sub=sub, filename=f"photo-{n:03}.jpg")["id"] for n in range(count)]


def test_newest_first_with_the_default_limit(api: Api, cloud: Cloud) -> None:
    created = slots(api, 25)

    reply = api.list()

    assert reply.status == 200
    assert set(reply.json) == {"items", "next_cursor"}
    ids = [item["id"] for item in reply.json["items"]]
    assert ids == list(reversed(created))[:20]  # default limit 20
    assert reply.json["next_cursor"] is not None
    assert reply.json["items"][0]["filename"] == "photo-024.jpg"
    assert reply.json["items"][0]["status"] == "PENDING"


def test_an_empty_list(api: Api, cloud: Cloud) -> None:
    reply = api.list()
    assert reply.status == 200
    assert reply.json == {"items": [], "next_cursor": None}


def test_pages_of_ten_return_each_of_45_images_exactly_once(api: Api, cloud: Cloud) -> None:
    created = slots(api, 45)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        query: dict[str, Any] = {"limit": 10, **({"cursor": cursor} if cursor else {})}
        reply = api.list(**query)
        assert reply.status == 200
        pages += 1
        items = reply.json["items"]
        assert len(items) == (10 if pages < 5 else 5)
        seen.extend(item["id"] for item in items)
        cursor = reply.json["next_cursor"]
        if cursor is None:
            break
    assert pages == 5
    assert seen == list(reversed(created))


def test_a_full_last_page_has_no_cursor(api: Api, cloud: Cloud) -> None:
    slots(api, 10)
    reply = api.list(limit=10)
    assert len(reply.json["items"]) == 10
    assert reply.json["next_cursor"] is None


def test_only_the_callers_images_are_listed(api: Api, cloud: Cloud) -> None:
    mine = slots(api, 3, sub="alice")
    theirs = slots(api, 4, sub="bob")

    assert {item["id"] for item in api.list(sub="alice").json["items"]} == set(mine)
    assert {item["id"] for item in api.list(sub="bob").json["items"]} == set(theirs)
    assert api.list(sub="carol").json["items"] == []


def test_status_filter(api: Api, cloud: Cloud) -> None:
    pending = slots(api, 3)
    ready = slots(api, 2)
    for image_id in ready:
        cloud.make_ready(image_id)
    rejected = slots(api, 1)
    records.claim_rejected(rejected[0], "etag", "NOT_AN_IMAGE", "not an image")

    def listed(status: str) -> set[str]:
        reply = api.list(status=status)
        assert reply.status == 200
        assert all(item["status"] == status for item in reply.json["items"])
        return {item["id"] for item in reply.json["items"]}

    assert listed("READY") == set(ready)
    assert listed("PENDING") == set(pending)
    assert listed("REJECTED") == set(rejected)
    assert listed("FAILED") == set()
    assert listed("PROCESSING") == set()
    [item] = api.list(status="REJECTED").json["items"]
    assert item["error"] == {"code": "NOT_AN_IMAGE", "message": "not an image"}


def test_a_filtered_list_pages_too(api: Api, cloud: Cloud) -> None:
    ready = slots(api, 7)
    for image_id in ready:
        cloud.make_ready(image_id)
    slots(api, 6)  # newer, PENDING: the filter must page past them

    first = api.list(status="READY", limit=4).json
    second = api.list(status="READY", limit=4, cursor=first["next_cursor"]).json

    assert [item["id"] for item in first["items"] + second["items"]] == list(reversed(ready))
    assert second["next_cursor"] is None


def test_a_ready_image_lists_its_variants(api: Api, cloud: Cloud) -> None:
    [image_id] = slots(api, 1)
    cloud.make_ready(image_id, 2000, 1500)

    [item] = api.list().json["items"]

    assert list(item["variants"]) == ["original", "256", "512", "1024"]
    assert item["variants"]["256"]["width"] == 256


def test_a_deleting_image_is_not_listed(api: Api, cloud: Cloud) -> None:
    kept, going = slots(api, 2)
    records.begin_delete(going, "alice")
    assert [item["id"] for item in api.list().json["items"]] == [kept]


@pytest.mark.parametrize("limit", ["0", "101", "-1", "x", "1.5", ""])
def test_limit_out_of_range_is_400(api: Api, cloud: Cloud, limit: str) -> None:
    reply = api.list(limit=limit)

    assert reply.status == 400
    assert reply.error["code"] == "VALIDATION_ERROR"
    assert reply.error["details"]["field"] == "limit"


@pytest.mark.parametrize("limit", ["1", "100"])
def test_limit_bounds_are_inclusive(api: Api, cloud: Cloud, limit: str) -> None:
    slots(api, 2)
    reply = api.list(limit=limit)
    assert reply.status == 200
    assert len(reply.json["items"]) == min(int(limit), 2)


@pytest.mark.parametrize("status", ["DELETING", "ready", "DONE", ""])
def test_unknown_status_is_400(api: Api, cloud: Cloud, status: str) -> None:
    reply = api.list(status=status)
    assert reply.status == 400
    assert reply.error["details"]["field"] == "status"


def _encode(position: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        "%%%",
        _encode(["a", "b"]),
        _encode({"id": "x"}),
        _encode({"id": 1, "owner": "alice", "created_at": "2025"}),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_a_bad_cursor_is_400(api: Api, cloud: Cloud, cursor: str) -> None:
    reply = api.list(cursor=cursor)

    assert reply.status == 400
    assert reply.error["code"] == "VALIDATION_ERROR"
    assert reply.error["details"]["field"] == "cursor"


def test_another_owners_cursor_is_400(api: Api, cloud: Cloud) -> None:
    slots(api, 3, sub="bob")
    cursor = api.list(sub="bob", limit=1).json["next_cursor"]
    assert cursor

    reply = api.list(sub="alice", cursor=cursor)

    assert reply.status == 400
    assert reply.error["details"]["field"] == "cursor"
