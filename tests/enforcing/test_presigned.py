"""The presigned POST, PUT and GET that `shoebox.presign` hands out, sent to a real S3 server.

The unit tier decodes the policy and asserts what S3 would enforce; here SeaweedFS enforces it
(tests/enforcing/seaweedfs.py). Every refusal is the accepted request with one thing changed,
and a refused upload must leave no object behind.

Not covered, because SeaweedFS 4.48 cannot: presigned PUT/GET signed with a session token (it
answers InvalidAccessKeyId: it looks the token up as one of its own STS sessions), so those are
signed with static keys here; and no check of the token itself anywhere (only that the POST
policy pins it).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlparse

import boto3
import httpx
import pytest

from shoebox import aws, keys, media_types, presign
from tests.enforcing.seaweedfs import SeaweedFS

pytestmark = pytest.mark.enforcing

SIZE = 64 * 1024
TTL = 900
# Expired links are issued with the shortest lifetime and used once it is over, plus a margin
# (expiry times are whole seconds, rounded down).
SHORT_TTL = 1
EXPIRY_MARGIN = 0.5


def new_key() -> str:
    return keys.incoming_key(keys.new_image_id())


def send(
    upload: presign.PresignedPost,
    content: bytes,
    changes: dict[str, str | None] | None = None,
    url: str | None = None,
) -> httpx.Response:
    """What a browser sends: every field as returned (`changes` replace a field, or drop it with
    None), then the file, last as S3 requires, with the type the form declares."""
    merged = {**upload.fields, **(changes or {})}
    fields = {name: value for name, value in merged.items() if value is not None}
    part_type = fields.get("Content-Type", "application/octet-stream")
    return httpx.post(
        url or upload.url, data=fields, files={"file": ("photo", content, part_type)}, timeout=30
    )


def error_of(response: httpx.Response) -> tuple[int, str]:
    """(status, S3 error code) of a refusal; the code says which rule refused it."""
    code = re.search(r"<Code>([^<]*)</Code>", response.text)
    return response.status_code, code.group(1) if code else ""


def message_of(response: httpx.Response) -> str:
    message = re.search(r"<Message>([^<]*)</Message>", response.text)
    return message.group(1) if message else ""


def encoded(policy: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(policy).encode()).decode()


def tampered(signature: str) -> str:
    """The same signature with its first hex digit changed."""
    return ("0" if signature[0] != "0" else "1") + signature[1:]


# ------------------------------------------------------------------ POST


@pytest.mark.parametrize("content_type", sorted(media_types.ACCEPTED))
def test_the_exact_upload_is_accepted_and_stored_with_its_type(
    seaweedfs: SeaweedFS, content_type: str
) -> None:
    key = new_key()
    content = secrets.token_bytes(SIZE)  # the declared size: the top of the range
    upload = presign.upload_post(seaweedfs.uploads, key, content_type, SIZE, TTL)

    response = send(upload, content)

    assert response.status_code in {200, 201, 204}, response.text
    head = seaweedfs.admin.head_object(Bucket=seaweedfs.uploads, Key=key)
    assert head["ContentType"] == content_type
    assert head["ContentLength"] == SIZE
    assert seaweedfs.admin.get_object(Bucket=seaweedfs.uploads, Key=key)["Body"].read() == content


@pytest.mark.parametrize("sent_type", ["image/png", "text/html", "image/jpeg; charset=utf-8", None])
def test_another_content_type_is_refused(seaweedfs: SeaweedFS, sent_type: str | None) -> None:
    key = new_key()
    upload = presign.upload_post(seaweedfs.uploads, key, "image/jpeg", SIZE, TTL)

    response = send(upload, secrets.token_bytes(100), {"Content-Type": sent_type})

    assert error_of(response) == (403, "AccessDenied"), response.text
    assert not seaweedfs.stored(seaweedfs.uploads, key)


def test_a_file_larger_than_declared_is_refused(seaweedfs: SeaweedFS) -> None:
    key = new_key()
    upload = presign.upload_post(seaweedfs.uploads, key, "image/jpeg", SIZE, TTL)

    response = send(upload, secrets.token_bytes(SIZE + 1))

    assert error_of(response) == (400, "EntityTooLarge"), response.text
    assert not seaweedfs.stored(seaweedfs.uploads, key)


def test_an_empty_file_is_refused(seaweedfs: SeaweedFS) -> None:
    key = new_key()
    upload = presign.upload_post(seaweedfs.uploads, key, "image/jpeg", SIZE, TTL)

    response = send(upload, b"")

    assert error_of(response) == (400, "EntityTooSmall"), response.text
    assert not seaweedfs.stored(seaweedfs.uploads, key)


@pytest.mark.parametrize(
    "chosen_key",
    [
        "incoming/another-image-id",
        "originals/the-same-id",
        "incoming/${filename}",
    ],
)
def test_the_client_cannot_choose_the_key(seaweedfs: SeaweedFS, chosen_key: str) -> None:
    key = new_key()
    upload = presign.upload_post(seaweedfs.uploads, key, "image/jpeg", SIZE, TTL)

    response = send(upload, secrets.token_bytes(100), {"key": chosen_key})

    assert error_of(response) == (403, "AccessDenied"), response.text
    assert not seaweedfs.stored(seaweedfs.uploads, key)
    assert not seaweedfs.stored(seaweedfs.uploads, chosen_key.replace("${filename}", "photo"))


def test_the_form_cannot_be_sent_to_another_bucket(seaweedfs: SeaweedFS) -> None:
    key = new_key()
    upload = presign.upload_post(seaweedfs.uploads, key, "image/jpeg", SIZE, TTL)
    assert upload.url == f"{seaweedfs.endpoint}/{seaweedfs.uploads}"  # path-style

    response = send(upload, secrets.token_bytes(100), url=f"{seaweedfs.endpoint}/{seaweedfs.media}")

    assert error_of(response) == (403, "AccessDenied"), response.text
    assert not seaweedfs.stored(seaweedfs.media, key)


def test_a_field_the_policy_does_not_name_is_refused(seaweedfs: SeaweedFS) -> None:
    key = new_key()
    upload = presign.upload_post(seaweedfs.uploads, key, "image/jpeg", SIZE, TTL)

    response = send(upload, secrets.token_bytes(100), {"x-amz-meta-owner": "mallory"})

    assert error_of(response) == (403, "AccessDenied"), response.text
    assert not seaweedfs.stored(seaweedfs.uploads, key)


def test_a_rewritten_policy_is_refused(seaweedfs: SeaweedFS) -> None:
    # The client widens the size range and sends a bigger file under the original signature.
    key = new_key()
    upload = presign.upload_post(seaweedfs.uploads, key, "image/jpeg", SIZE, TTL)
    policy = json.loads(base64.b64decode(upload.fields["policy"]))
    policy["conditions"] = [
        ["content-length-range", 1, 10 * SIZE] if isinstance(c, list) else c for c in policy["conditions"]
    ]

    response = send(upload, secrets.token_bytes(2 * SIZE), {"policy": encoded(policy)})

    assert error_of(response) == (403, "SignatureDoesNotMatch"), response.text
    assert not seaweedfs.stored(seaweedfs.uploads, key)


def test_a_tampered_signature_is_refused(seaweedfs: SeaweedFS) -> None:
    key = new_key()
    upload = presign.upload_post(seaweedfs.uploads, key, "image/jpeg", SIZE, TTL)

    response = send(
        upload, secrets.token_bytes(100), {"x-amz-signature": tampered(upload.fields["x-amz-signature"])}
    )

    assert error_of(response) == (403, "SignatureDoesNotMatch"), response.text
    assert not seaweedfs.stored(seaweedfs.uploads, key)


@pytest.fixture
def lambda_credentials(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Keys as a Lambda function has them: with a session token, which the form must carry."""
    token = "session-token-of-the-lambda-role"
    monkeypatch.setenv("AWS_SESSION_TOKEN", token)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    aws.reset()
    yield token
    aws.reset()


def test_the_form_signed_with_a_session_token_is_accepted(
    seaweedfs: SeaweedFS, lambda_credentials: str
) -> None:
    key = new_key()
    upload = presign.upload_post(seaweedfs.uploads, key, "image/jpeg", SIZE, TTL)
    assert upload.fields["x-amz-security-token"] == lambda_credentials

    response = send(upload, secrets.token_bytes(100))

    assert response.status_code in {200, 201, 204}, response.text
    assert seaweedfs.stored(seaweedfs.uploads, key)


@pytest.mark.parametrize("sent_token", [None, "another-session-token"], ids=["dropped", "changed"])
def test_the_session_token_cannot_be_dropped_or_changed(
    seaweedfs: SeaweedFS, lambda_credentials: str, sent_token: str | None
) -> None:
    key = new_key()
    upload = presign.upload_post(seaweedfs.uploads, key, "image/jpeg", SIZE, TTL)

    response = send(upload, secrets.token_bytes(100), {"x-amz-security-token": sent_token})

    assert error_of(response) == (403, "AccessDenied"), response.text
    assert not seaweedfs.stored(seaweedfs.uploads, key)


# ------------------------------------------------------------------ expiry


@dataclass(frozen=True)
class Expired:
    """Links issued with a 1 s lifetime, handed to the tests once every one has expired."""

    post_key: str
    post: presign.PresignedPost
    put_key: str
    put: presign.PresignedPut
    download: str


@pytest.fixture(scope="module")
def expired(seaweedfs: SeaweedFS) -> Expired:
    # One wait for all three: the tier stays fast. The wait follows the lifetime asked for, not
    # the one the links carry, so a link that lives longer than asked is caught.
    existing = new_key()
    seaweedfs.admin.put_object(Bucket=seaweedfs.uploads, Key=existing, Body=b"x", ContentType="image/png")
    post_key, put_key = new_key(), new_key()
    issued = time.monotonic()
    links = Expired(
        post_key=post_key,
        post=presign.upload_post(seaweedfs.uploads, post_key, "image/jpeg", SIZE, SHORT_TTL),
        put_key=put_key,
        put=presign.upload_put(seaweedfs.uploads, put_key, "image/png", SHORT_TTL),
        download=presign.download_url(seaweedfs.uploads, existing, "image/png", "a.png", SHORT_TTL),
    )
    time.sleep(max(0.0, issued + SHORT_TTL + EXPIRY_MARGIN - time.monotonic()))
    return links


def test_an_expired_post_is_refused(seaweedfs: SeaweedFS, expired: Expired) -> None:
    response = send(expired.post, secrets.token_bytes(100))

    assert error_of(response) == (403, "AccessDenied"), response.text
    assert "expired" in message_of(response).lower()
    assert not seaweedfs.stored(seaweedfs.uploads, expired.post_key)


def test_an_expired_put_is_refused(seaweedfs: SeaweedFS, expired: Expired) -> None:
    response = httpx.put(expired.put.url, content=b"x", headers=expired.put.headers)

    assert error_of(response) == (403, "AccessDenied"), response.text
    assert "expired" in message_of(response).lower()
    assert not seaweedfs.stored(seaweedfs.uploads, expired.put_key)


def test_an_expired_download_is_refused(expired: Expired) -> None:
    response = httpx.get(expired.download)

    assert error_of(response) == (403, "AccessDenied"), response.text
    assert "expired" in message_of(response).lower()


# ------------------------------------------------------------------ PUT


def test_a_put_with_the_signed_content_type_is_accepted(seaweedfs: SeaweedFS) -> None:
    key = new_key()
    content = secrets.token_bytes(SIZE)
    upload = presign.upload_put(seaweedfs.uploads, key, "image/webp", TTL)

    response = httpx.put(upload.url, content=content, headers=upload.headers)

    assert response.status_code == 200, response.text
    head = seaweedfs.admin.head_object(Bucket=seaweedfs.uploads, Key=key)
    assert head["ContentType"] == "image/webp"
    assert head["ContentLength"] == SIZE


@pytest.mark.parametrize(
    "headers", [{"Content-Type": "image/png"}, {"Content-Type": "text/html"}, {}], ids=["png", "html", "none"]
)
def test_a_put_with_another_content_type_is_refused(seaweedfs: SeaweedFS, headers: dict[str, str]) -> None:
    key = new_key()
    upload = presign.upload_put(seaweedfs.uploads, key, "image/webp", TTL)

    response = httpx.put(upload.url, content=secrets.token_bytes(100), headers=headers)

    assert error_of(response) == (403, "SignatureDoesNotMatch"), response.text
    assert not seaweedfs.stored(seaweedfs.uploads, key)


def test_a_put_to_another_key_is_refused(seaweedfs: SeaweedFS) -> None:
    key, other = new_key(), new_key()
    upload = presign.upload_put(seaweedfs.uploads, key, "image/webp", TTL)

    response = httpx.put(upload.url.replace(key, other), content=b"x", headers=upload.headers)

    assert error_of(response) == (403, "SignatureDoesNotMatch"), response.text
    assert not seaweedfs.stored(seaweedfs.uploads, other)


# ------------------------------------------------------------------ downloads


@pytest.fixture
def existing(seaweedfs: SeaweedFS) -> tuple[str, bytes]:
    """An object stored with a type and disposition a download must not serve."""
    key, content = new_key(), secrets.token_bytes(1000)
    seaweedfs.admin.put_object(
        Bucket=seaweedfs.uploads,
        Key=key,
        Body=content,
        ContentType="text/html",
        ContentDisposition="attachment; filename=evil.html",
    )
    return key, content


def test_a_download_serves_the_object_with_our_type_and_name(
    seaweedfs: SeaweedFS, existing: tuple[str, bytes]
) -> None:
    key, content = existing
    url = presign.download_url(seaweedfs.uploads, key, "image/webp", "café 256.webp", 300)

    response = httpx.get(url)

    assert response.status_code == 200, response.text
    assert response.content == content
    assert response.headers["content-type"] == "image/webp"
    assert response.headers["content-disposition"] == presign.inline_disposition("café 256.webp")


def test_a_download_with_a_tampered_signature_is_refused(
    seaweedfs: SeaweedFS, existing: tuple[str, bytes]
) -> None:
    key, _ = existing
    url = presign.download_url(seaweedfs.uploads, key, "image/webp", "a.webp", 300)
    signature = parse_qs(urlparse(url).query)["X-Amz-Signature"][0]

    response = httpx.get(url.replace(signature, tampered(signature)))

    assert error_of(response) == (403, "SignatureDoesNotMatch"), response.text


def test_a_download_cannot_be_moved_to_another_key(seaweedfs: SeaweedFS, existing: tuple[str, bytes]) -> None:
    key, _ = existing
    other = new_key()
    seaweedfs.admin.put_object(Bucket=seaweedfs.uploads, Key=other, Body=b"someone else's")
    url = presign.download_url(seaweedfs.uploads, key, "image/webp", "a.webp", 300)

    response = httpx.get(url.replace(key, other))

    assert error_of(response) == (403, "SignatureDoesNotMatch"), response.text


def test_the_served_type_cannot_be_changed(seaweedfs: SeaweedFS, existing: tuple[str, bytes]) -> None:
    # Served as text/html, an uploaded file could run script on the bucket's origin.
    key, _ = existing
    url = presign.download_url(seaweedfs.uploads, key, "image/webp", "a.webp", 300)
    signed_type = "response-content-type=image%2Fwebp"
    assert signed_type in url

    response = httpx.get(url.replace(signed_type, "response-content-type=text%2Fhtml"))

    assert error_of(response) == (403, "SignatureDoesNotMatch"), response.text
