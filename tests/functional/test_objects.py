"""The object-store adapter against moto's S3: what each operation does and how S3's errors come out."""

from __future__ import annotations

from typing import Any

import pytest

from shoebox.objects import CACHE_CONTROL, ObjectGone, ObjectReplaced, ObjectStore, StorageError
from tests.functional.harness import Cloud


@pytest.fixture
def store(cloud: Cloud) -> ObjectStore:
    return ObjectStore(cloud.s3)


def put(cloud: Cloud, key: str, data: bytes) -> str:
    etag: str = cloud.s3.put_object(Bucket=cloud.media, Key=key, Body=data)["ETag"].strip('"')
    return etag


def test_read_gives_the_bytes_etag_and_size(cloud: Cloud, store: ObjectStore) -> None:
    etag = put(cloud, "originals/a", b"pixels")

    for asked in (etag, None, ""):
        stored = store.read(cloud.media, "originals/a", asked)
        assert (stored.data, stored.etag, stored.size) == (b"pixels", etag, 6)


def test_read_of_a_replaced_version_is_object_replaced(cloud: Cloud, store: ObjectStore) -> None:
    stale = put(cloud, "originals/a", b"first")
    put(cloud, "originals/a", b"second")

    with pytest.raises(ObjectReplaced):
        store.read(cloud.media, "originals/a", stale)


@pytest.mark.parametrize("etag", ["0" * 32, None])
def test_read_of_a_missing_object_is_object_gone(cloud: Cloud, store: ObjectStore, etag: str | None) -> None:
    with pytest.raises(ObjectGone):
        store.read(cloud.media, "originals/missing", etag)


def test_read_lets_check_size_refuse_before_reading(cloud: Cloud, store: ObjectStore) -> None:
    put(cloud, "originals/a", b"x" * 100)
    seen: list[int] = []

    def refuse(size: int) -> None:
        seen.append(size)
        raise ValueError("too big")

    with pytest.raises(ValueError, match="too big"):
        store.read(cloud.media, "originals/a", check_size=refuse)
    assert seen == [100]


def test_put_immutable_writes_type_cache_control_and_metadata(cloud: Cloud, store: ObjectStore) -> None:
    store.put_immutable(cloud.media, "originals/a", b"jpeg", "image/jpeg", metadata={"sha256": "abc"})
    store.put_immutable(cloud.media, "thumbnails/a/256.webp", b"webp", "image/webp")

    original = cloud.s3.head_object(Bucket=cloud.media, Key="originals/a")
    assert (original["ContentType"], original["CacheControl"]) == ("image/jpeg", CACHE_CONTROL)
    assert original["Metadata"] == {"sha256": "abc"}
    thumbnail = cloud.s3.head_object(Bucket=cloud.media, Key="thumbnails/a/256.webp")
    assert (thumbnail["ContentType"], thumbnail["CacheControl"]) == ("image/webp", CACHE_CONTROL)
    assert thumbnail["Metadata"] == {}
    assert cloud.s3.get_object(Bucket=cloud.media, Key="thumbnails/a/256.webp")["Body"].read() == b"webp"


def test_delete_removes_every_key_in_batches_ignoring_missing_ones(cloud: Cloud, store: ObjectStore) -> None:
    keys = [f"thumbnails/k{n:04}" for n in range(1001)]  # more than one DeleteObjects call holds
    for key in keys[:3] + keys[-2:]:
        put(cloud, key, b"x")
    put(cloud, "originals/kept", b"x")

    store.delete(cloud.media, keys + keys[:5])  # duplicates and missing keys too
    store.delete(cloud.media, keys[:1])  # again: already gone
    store.delete(cloud.media, [])

    assert cloud.keys_in(cloud.media) == ["originals/kept"]


def test_delete_that_s3_partly_refuses_is_a_storage_error() -> None:
    class Refusing:
        def delete_objects(self, **_: Any) -> dict[str, Any]:
            return {"Errors": [{"Key": "originals/a", "Code": "AccessDenied"}]}

    store = ObjectStore(Refusing())  # type: ignore[arg-type]

    with pytest.raises(StorageError, match=r"originals/a \(AccessDenied\)"):
        store.delete("media", ["originals/a"])


@pytest.mark.parametrize("quoted", [False, True], ids=["as_events_carry_it", "quoted"])
def test_delete_if_unchanged_deletes_that_version(cloud: Cloud, store: ObjectStore, quoted: bool) -> None:
    etag = put(cloud, "incoming/a", b"upload")

    assert store.delete_if_unchanged(cloud.media, "incoming/a", f'"{etag}"' if quoted else etag) is True

    assert cloud.keys_in(cloud.media) == []


def test_delete_if_unchanged_leaves_a_newer_or_missing_object(cloud: Cloud, store: ObjectStore) -> None:
    stale = put(cloud, "incoming/a", b"first")
    put(cloud, "incoming/a", b"second")

    assert store.delete_if_unchanged(cloud.media, "incoming/a", stale) is False
    assert store.delete_if_unchanged(cloud.media, "incoming/missing", stale) is False

    assert cloud.keys_in(cloud.media) == ["incoming/a"]
    assert cloud.s3.get_object(Bucket=cloud.media, Key="incoming/a")["Body"].read() == b"second"
