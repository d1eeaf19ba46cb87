"""The presigned upload we hand out, decoded and checked condition by condition.

The emulator enforces none of a POST policy (DESIGN, known gaps), so what S3 would enforce is
asserted here on the policy itself. Presigning is offline: these tests need no AWS and no
network (the unit tier's guard refuses sockets, to be sure).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import boto3
import pytest

from shoebox import aws, keys, presign

BUCKET = "shoebox-uploads-123456789012"
TTL = 900


@pytest.fixture(autouse=True)
def offline_credentials(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "AWS_SESSION_TOKEN": "session-token-of-the-lambda-role",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    # boto3's default session keeps the credentials it first found: make it read ours.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    aws.reset()
    yield
    aws.reset()


def decode_policy(fields: dict[str, str]) -> dict[str, Any]:
    policy: dict[str, Any] = json.loads(base64.b64decode(fields["policy"]))
    return policy


def parse_time(value: str) -> datetime:
    return datetime.strptime(value.split(".")[0].rstrip("Z"), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)


def post(size: int = 2481152, content_type: str = "image/jpeg") -> tuple[str, presign.PresignedPost]:
    key = keys.incoming_key(keys.new_image_id())
    return key, presign.upload_post(BUCKET, key, content_type, size, TTL)


def exact_conditions(policy: dict[str, Any]) -> dict[str, str]:
    """Every exact-match condition, `{"name": value}` and `["eq", "$name", value]` alike."""
    found: dict[str, str] = {}
    for condition in policy["conditions"]:
        if isinstance(condition, dict):
            found.update({name.lower(): value for name, value in condition.items()})
        elif condition[0] == "eq":
            found[condition[1].lstrip("$").lower()] = condition[2]
    return found


def test_the_policy_pins_the_exact_key() -> None:
    key, upload = post()
    conditions = exact_conditions(decode_policy(upload.fields))
    assert conditions["key"] == key
    assert upload.fields["key"] == key


def test_nothing_in_the_policy_is_left_open() -> None:
    _, upload = post()
    policy = decode_policy(upload.fields)
    # A starts-with would let the client choose (part of) the key or the type.
    assert not [c for c in policy["conditions"] if isinstance(c, list) and c[0] == "starts-with"]


def test_the_policy_pins_the_content_type_exactly() -> None:
    _, upload = post(content_type="image/heic")
    conditions = exact_conditions(decode_policy(upload.fields))
    assert conditions["content-type"] == "image/heic"
    assert upload.fields["Content-Type"] == "image/heic"


@pytest.mark.parametrize("size", [1, 2481152, 25 * 1024 * 1024])
def test_the_policy_limits_the_size_to_the_declared_size(size: int) -> None:
    _, upload = post(size=size)
    ranges = [c for c in decode_policy(upload.fields)["conditions"] if isinstance(c, list)]
    assert ["content-length-range", 1, size] in ranges
    assert len([c for c in ranges if c[0] == "content-length-range"]) == 1


def test_the_policy_names_the_bucket() -> None:
    _, upload = post()
    assert exact_conditions(decode_policy(upload.fields))["bucket"] == BUCKET


def test_the_policy_expires_after_the_ttl() -> None:
    before = datetime.now(UTC)
    _, upload = post()
    expiration = parse_time(decode_policy(upload.fields)["expiration"])

    assert abs((expiration - before).total_seconds() - TTL) < 5
    # What we announce is never later than what S3 will enforce.
    announced = parse_time(upload.expires_at)
    assert upload.expires_at.endswith("Z")
    assert announced <= expiration
    assert (expiration - announced).total_seconds() < 5


def test_every_form_field_is_covered_by_the_policy() -> None:
    # S3 refuses a POST with a form field the policy does not mention; and every field we sign
    # (the role's session token included) must be sent as we return it.
    _, upload = post()
    conditions = exact_conditions(decode_policy(upload.fields))
    for name, value in upload.fields.items():
        if name.lower() in {"policy", "x-amz-signature"}:
            continue
        assert conditions.get(name.lower()) == value, name
    assert upload.fields["x-amz-security-token"] == "session-token-of-the-lambda-role"
    assert upload.fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256"


def test_the_post_goes_to_the_uploads_bucket() -> None:
    _, upload = post()
    url = urlparse(upload.url)
    assert url.scheme == "https"
    assert BUCKET in url.netloc + url.path


# ------------------------------------------------------------------ PUT


def put(content_type: str = "image/png") -> tuple[str, presign.PresignedPut, dict[str, list[str]]]:
    key = keys.incoming_key(keys.new_image_id())
    upload = presign.upload_put(BUCKET, key, content_type, TTL)
    return key, upload, parse_qs(urlparse(upload.url).query)


def test_the_put_signs_the_content_type() -> None:
    _, upload, query = put("image/png")
    signed = query["X-Amz-SignedHeaders"][0].split(";")
    assert "content-type" in signed
    assert "host" in signed
    assert upload.headers == {"Content-Type": "image/png"}


def test_the_put_expires() -> None:
    before = datetime.now(UTC)
    _, upload, query = put()
    assert query["X-Amz-Expires"] == [str(TTL)]
    signed_at = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert abs((signed_at - before).total_seconds()) < 5
    assert abs((parse_time(upload.expires_at) - before).total_seconds() - TTL) < 5


def test_the_put_targets_the_exact_key_with_sigv4() -> None:
    key, upload, query = put()
    url = urlparse(upload.url)
    assert url.path.endswith("/" + key)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Security-Token"] == ["session-token-of-the-lambda-role"]


# ------------------------------------------------------------------ downloads


def test_a_download_is_short_lived_typed_and_inline() -> None:
    url = presign.download_url(BUCKET, "thumbnails/x/256.webp", "image/webp", "a-256.webp", 300)
    query = parse_qs(urlparse(url).query)
    assert query["X-Amz-Expires"] == ["300"]
    assert query["response-content-type"] == ["image/webp"]
    assert query["response-content-disposition"][0].startswith('inline; filename="a-256.webp"')


@pytest.mark.parametrize(
    ("filename", "fallback"),
    [
        ("holiday.jpg", "holiday.jpg"),
        ('a"b.jpg', "a_b.jpg"),
        ("a\\b.jpg", "a_b.jpg"),
        ("a;b,c.jpg", "a_b_c.jpg"),
        ("../../etc/passwd", "_.._etc_passwd"),
        ("naïve café.png", "naive cafe.png"),
        ("写真.jpg", "__.jpg"),
        ("a\r\nSet-Cookie: x=1.jpg", "a__Set-Cookie_ x=1.jpg"),
        ("🌄", "image"),
        ("a%20b.jpg", "a_20b.jpg"),
    ],
)
def test_the_disposition_is_safe_and_keeps_the_real_name(filename: str, fallback: str) -> None:
    disposition = presign.inline_disposition(filename)

    assert disposition.isascii()
    assert not any(char in disposition for char in "\r\n\x00")
    assert disposition.startswith(f"inline; filename=\"{fallback}\"; filename*=UTF-8''")
    assert unquote(disposition.split("UTF-8''", 1)[1]) == filename


# ---------------------------------------------------------------- checksums and multipart parts

DIGEST = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"  # sha256("test")
PINNED = base64.b64encode(bytes.fromhex(DIGEST)).decode()


def test_a_declared_sha256_is_a_form_field_the_policy_pins_exactly() -> None:
    key = keys.incoming_key(keys.new_image_id())
    upload = presign.upload_post(BUCKET, key, "image/jpeg", 100, TTL, DIGEST)
    assert upload.fields["x-amz-checksum-sha256"] == PINNED == "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="
    assert exact_conditions(decode_policy(upload.fields))["x-amz-checksum-sha256"] == PINNED
    # Without one, nothing about checksums.
    plain = presign.upload_post(BUCKET, key, "image/jpeg", 100, TTL)
    assert not [name for name in plain.fields if "checksum" in name]


def test_a_declared_sha256_is_a_signed_header_of_the_put() -> None:
    key = keys.incoming_key(keys.new_image_id())
    upload = presign.upload_put(BUCKET, key, "image/png", TTL, DIGEST)
    query = parse_qs(urlparse(upload.url).query)
    assert query["X-Amz-SignedHeaders"] == ["content-type;host;x-amz-checksum-sha256"]
    assert upload.headers == {"Content-Type": "image/png", "x-amz-checksum-sha256": PINNED}
    assert not [name for name in query if "checksum" in name.lower()]  # a header, not in the URL


def test_part_urls_are_presigned_upload_parts_of_the_upload() -> None:
    key = keys.incoming_key(keys.new_image_id())
    parts = presign.upload_parts(BUCKET, key, "upload-1", [2, 5], TTL)
    assert list(parts.urls) == [2, 5]
    for number, url in parts.urls.items():
        parsed = urlparse(url)
        query = parse_qs(parsed.query)
        assert parsed.path.endswith("/" + key)
        assert (query["uploadId"], query["partNumber"]) == (["upload-1"], [str(number)])
        assert query["X-Amz-Expires"] == [str(TTL)]
        assert query["X-Amz-SignedHeaders"] == ["host"]  # any body; S3 takes the part as sent
    assert parts.expires_at.endswith("Z")
