"""The declared SHA-256 that `shoebox.presign` pins, and the multipart upload the API runs, against
a real S3 server (SeaweedFS 4.48, tests/enforcing/seaweedfs.py).

What this shows: SeaweedFS refuses bytes other than the declared ones on a presigned POST and a
presigned PUT (400 BadDigest), and refuses a form or a request that carries another checksum
(the policy, or the signature). A multipart upload cannot pin the whole file's SHA-256 (S3's
checksums there are per part, or CRC-based for the whole): any bytes sent in parts are stored,
and validation alone checks them. Part URLs are signed like any other; ListParts,
CompleteMultipartUpload (which checks each part's ETag and the order) and abort behave as
`shoebox.objects` expects. moto checks none of this (DESIGN, known gaps).
"""

from __future__ import annotations

import hashlib
import secrets

import httpx
import pytest

from shoebox import aws, keys, presign
from shoebox.objects import ObjectStore, Part, PartsRefused, UploadGone
from tests.enforcing.seaweedfs import SeaweedFS
from tests.enforcing.test_presigned import error_of, send

pytestmark = pytest.mark.enforcing

SIZE = 64 * 1024
TTL = 900
MIB = 1024 * 1024


def new_key() -> str:
    return keys.incoming_key(keys.new_image_id())


def declared_and_other() -> tuple[bytes, bytes, str]:
    """Bytes, other bytes of the same size, and the first's SHA-256 (hex)."""
    data = secrets.token_bytes(SIZE)
    other = bytearray(data)
    other[SIZE // 2] ^= 0x01
    return data, bytes(other), hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------ POST


def test_a_post_of_the_declared_bytes_is_stored(seaweedfs: SeaweedFS) -> None:
    data, _, digest = declared_and_other()
    key = new_key()
    upload = presign.upload_post(seaweedfs.uploads, key, "image/jpeg", SIZE, TTL, digest)

    response = send(upload, data)

    assert response.status_code in {200, 201, 204}, response.text
    assert seaweedfs.admin.get_object(Bucket=seaweedfs.uploads, Key=key)["Body"].read() == data


def test_a_post_of_other_bytes_is_refused_bad_digest(seaweedfs: SeaweedFS) -> None:
    _, other, digest = declared_and_other()
    key = new_key()
    upload = presign.upload_post(seaweedfs.uploads, key, "image/jpeg", SIZE, TTL, digest)

    response = send(upload, other)

    assert error_of(response) == (400, "BadDigest"), response.text
    assert not seaweedfs.stored(seaweedfs.uploads, key)


@pytest.mark.parametrize("changed", ["other", None], ids=["another-checksum", "no-checksum"])
def test_a_post_cannot_change_or_drop_the_checksum(seaweedfs: SeaweedFS, changed: str | None) -> None:
    _, other, digest = declared_and_other()
    key = new_key()
    upload = presign.upload_post(seaweedfs.uploads, key, "image/jpeg", SIZE, TTL, digest)
    field = presign.checksum_value(hashlib.sha256(other).hexdigest()) if changed else None

    response = send(upload, other, {"x-amz-checksum-sha256": field})

    assert error_of(response) == (403, "AccessDenied"), response.text  # the policy pins it
    assert not seaweedfs.stored(seaweedfs.uploads, key)


# ------------------------------------------------------------------ PUT


def test_a_put_of_the_declared_bytes_is_stored(seaweedfs: SeaweedFS) -> None:
    data, _, digest = declared_and_other()
    key = new_key()
    upload = presign.upload_put(seaweedfs.uploads, key, "image/png", TTL, digest)

    response = httpx.put(upload.url, content=data, headers=upload.headers)

    assert response.status_code == 200, response.text
    assert seaweedfs.admin.get_object(Bucket=seaweedfs.uploads, Key=key)["Body"].read() == data


def test_a_put_of_other_bytes_is_refused_bad_digest(seaweedfs: SeaweedFS) -> None:
    _, other, digest = declared_and_other()
    key = new_key()
    upload = presign.upload_put(seaweedfs.uploads, key, "image/png", TTL, digest)

    response = httpx.put(upload.url, content=other, headers=upload.headers)

    assert error_of(response) == (400, "BadDigest"), response.text
    assert not seaweedfs.stored(seaweedfs.uploads, key)


@pytest.mark.parametrize("changed", ["other", None], ids=["another-checksum", "no-checksum"])
def test_a_put_cannot_change_or_drop_the_signed_checksum(seaweedfs: SeaweedFS, changed: str | None) -> None:
    _, other, digest = declared_and_other()
    key = new_key()
    upload = presign.upload_put(seaweedfs.uploads, key, "image/png", TTL, digest)
    headers = {"Content-Type": "image/png"}
    if changed:
        headers["x-amz-checksum-sha256"] = presign.checksum_value(hashlib.sha256(other).hexdigest())

    response = httpx.put(upload.url, content=other, headers=headers)

    assert error_of(response) == (403, "SignatureDoesNotMatch"), response.text
    assert not seaweedfs.stored(seaweedfs.uploads, key)


# ------------------------------------------------------------------ multipart


@pytest.fixture
def store() -> ObjectStore:
    return ObjectStore(aws.s3())  # the SDK pointed at SeaweedFS (conftest)


def test_a_multipart_upload_through_part_urls_lists_completes_and_is_gone(
    seaweedfs: SeaweedFS, store: ObjectStore
) -> None:
    key = new_key()
    upload_id = store.create_multipart(seaweedfs.uploads, key, "image/png")
    first, last = secrets.token_bytes(5 * MIB), secrets.token_bytes(1000)
    urls = presign.upload_parts(seaweedfs.uploads, key, upload_id, [1, 2], TTL).urls
    etags = [
        httpx.put(urls[number], content=data, timeout=30).headers["etag"]
        for number, data in ((1, first), (2, last))
    ]

    held = store.list_parts(seaweedfs.uploads, key, upload_id)

    assert held == [Part(1, len(first), etags[0].strip('"')), Part(2, len(last), etags[1].strip('"'))]
    store.complete_multipart(seaweedfs.uploads, key, upload_id, held)
    assert seaweedfs.admin.get_object(Bucket=seaweedfs.uploads, Key=key)["Body"].read() == first + last
    with pytest.raises(UploadGone):
        store.list_parts(seaweedfs.uploads, key, upload_id)


def test_completion_checks_each_parts_etag_and_the_order(seaweedfs: SeaweedFS, store: ObjectStore) -> None:
    key = new_key()
    upload_id = store.create_multipart(seaweedfs.uploads, key, "image/png")
    urls = presign.upload_parts(seaweedfs.uploads, key, upload_id, [1, 2], TTL).urls
    httpx.put(urls[1], content=secrets.token_bytes(5 * MIB), timeout=30)
    httpx.put(urls[2], content=b"end", timeout=30)
    one, two = store.list_parts(seaweedfs.uploads, key, upload_id)

    with pytest.raises(PartsRefused) as wrong_etag:
        store.complete_multipart(seaweedfs.uploads, key, upload_id, [one, Part(2, two.size, "0" * 32)])
    with pytest.raises(PartsRefused) as wrong_order:
        store.complete_multipart(seaweedfs.uploads, key, upload_id, [two, one])

    assert (wrong_etag.value.code, wrong_order.value.code) == ("InvalidPart", "InvalidPartOrder")
    assert store.list_parts(seaweedfs.uploads, key, upload_id) == [one, two]  # nothing lost
    store.abort_multipart(seaweedfs.uploads, key, upload_id)
    with pytest.raises(UploadGone):
        store.list_parts(seaweedfs.uploads, key, upload_id)
    store.abort_multipart(seaweedfs.uploads, key, upload_id)  # again: not an error


def test_a_part_url_is_for_its_own_part_number_only(seaweedfs: SeaweedFS, store: ObjectStore) -> None:
    key = new_key()
    upload_id = store.create_multipart(seaweedfs.uploads, key, "image/png")
    url = presign.upload_parts(seaweedfs.uploads, key, upload_id, [1], TTL).urls[1]

    response = httpx.put(url.replace("partNumber=1", "partNumber=2"), content=b"x")

    assert error_of(response) == (403, "SignatureDoesNotMatch"), response.text
    assert store.list_parts(seaweedfs.uploads, key, upload_id) == []


def test_a_multipart_upload_takes_any_bytes_so_validation_checks_the_declared_sha256(
    seaweedfs: SeaweedFS, store: ObjectStore
) -> None:
    # Nothing in CreateMultipartUpload or a part URL can carry the whole file's SHA-256.
    key = new_key()
    upload_id = store.create_multipart(seaweedfs.uploads, key, "image/png")
    url = presign.upload_parts(seaweedfs.uploads, key, upload_id, [1], TTL).urls[1]
    assert httpx.put(url, content=b"not what was declared").status_code == 200
    store.complete_multipart(
        seaweedfs.uploads, key, upload_id, store.list_parts(seaweedfs.uploads, key, upload_id)
    )
    assert seaweedfs.stored(seaweedfs.uploads, key)
