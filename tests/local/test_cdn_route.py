"""The local CDN over the wire: the gateway's /cdn/ route checks CloudFront canned-policy
signatures against the local key pair and serves the media bucket's variants with the
distribution's headers; every refusal is the same 403."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from infra.local import DevStack
from shoebox.cdn import sign_url, window_expiry

pytestmark = pytest.mark.local

BODY = b"RIFF\x0c\x00\x00\x00WEBPVP8 " + bytes(range(64))
POLICY_HEADERS = {
    "x-content-type-options": "nosniff",
    "content-security-policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox",
    "cache-control": "public, max-age=31536000, immutable",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


@dataclass
class Stored:
    key: str
    url: str  # unsigned: the stack's CDN base URL and the key


@pytest.fixture
def stored(stack: DevStack) -> Iterator[Stored]:
    """A variant in the media bucket, as the pipeline writes one."""
    key = f"thumbnails/{secrets.token_urlsafe(16)}/256.webp"
    bucket = stack.names["MediaBucket"]
    stack.client("s3").put_object(Bucket=bucket, Key=key, Body=BODY, ContentType="image/webp")
    yield Stored(key, f"{stack.cdn_url}/{key}")
    stack.client("s3").delete_object(Bucket=bucket, Key=key)


def signed(
    stack: DevStack,
    url: str,
    *,
    expires: int | None = None,
    key: rsa.RSAPrivateKey | None = None,
    key_pair_id: str | None = None,
) -> str:
    """`url` signed as the API signs it (the local key pair, this window) unless told otherwise."""
    return sign_url(
        url,
        expires=expires if expires is not None else window_expiry(time.time()),
        key_pair_id=key_pair_id or stack.cdn_key.key_pair_id,
        private_key=key or stack.cdn_key.private_key,
    )


def assert_refused(reply: httpx.Response) -> None:
    assert reply.status_code == 403, reply.text
    assert b"AccessDenied" in reply.content
    assert reply.headers["cache-control"] == "no-store"  # a refusal is never cached
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert BODY not in reply.content


def test_a_signed_url_serves_the_variant_with_the_distribution_s_headers(
    stack: DevStack, stored: Stored
) -> None:
    reply = httpx.get(signed(stack, stored.url))

    assert reply.status_code == 200, reply.text
    assert reply.content == BODY
    assert reply.headers["content-type"] == "image/webp"
    assert reply.headers["content-length"] == str(len(BODY))
    assert reply.headers["etag"]
    for name, value in POLICY_HEADERS.items():
        assert reply.headers[name] == value


def test_the_signing_functions_secret_holds_the_local_key_pair(stack: DevStack) -> None:
    secret_name = stack.topology.functions["GetImageFunction"].environment["CDN_PRIVATE_KEY_SECRET"]
    secret = stack.client("secretsmanager").get_secret_value(SecretId=secret_name)
    assert secret["SecretString"] == stack.cdn_key.secret_string()


def test_head_and_if_none_match_answer_without_the_body(stack: DevStack, stored: Stored) -> None:
    url = signed(stack, stored.url)
    etag = httpx.get(url).headers["etag"]

    head = httpx.head(url)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(BODY))
    assert head.headers["etag"] == etag

    again = httpx.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == POLICY_HEADERS["cache-control"]

    changed = httpx.get(url, headers={"If-None-Match": '"another"'})
    assert changed.status_code == 200
    assert changed.content == BODY


def test_missing_tampered_expired_and_foreign_signatures_get_403(stack: DevStack, stored: Stored) -> None:
    good = signed(stack, stored.url)
    query = good.partition("?")[2]
    params = dict(part.split("=", 1) for part in query.split("&"))
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_variant = stored.url.replace("/256.webp", "/512.webp")
    on_localhost = stored.url.replace("127.0.0.1", "localhost")
    signature = params["Signature"]
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    standard = signature.translate(str.maketrans("-_~", "+=/"))  # RSA-2048: always ends "__"
    assert standard != signature
    refused = {
        "no signature": stored.url,
        "no Key-Pair-Id": good.rsplit("&Key-Pair-Id=", 1)[0],
        "another object's signature": f"{other_variant}?{query}",
        "Expires moved on": good.replace(
            f"Expires={params['Expires']}", f"Expires={int(params['Expires']) + 1}"
        ),
        "one character of the signature": good.replace(signature, flipped),
        "standard base64": good.replace(signature, standard),
        "expired": signed(stack, stored.url, expires=int(time.time()) - 1),
        "a foreign key under our id": signed(stack, stored.url, key=other_key),
        "a foreign key and id": signed(stack, stored.url, key=other_key, key_pair_id="KFOREIGN0000001"),
        "signed for another host": stored.url + "?" + signed(stack, on_localhost).partition("?")[2],
    }
    for why, url in refused.items():
        reply = httpx.get(url)
        assert reply.status_code == 403, f"{why}: {reply.status_code}"
        assert_refused(reply)
    assert httpx.get(good).status_code == 200  # the good one, after all that


def test_a_well_signed_url_of_a_missing_or_unlisted_object_is_the_same_403(stack: DevStack) -> None:
    # S3 answers the distribution 403 for what it may not read or cannot find (no ListBucket):
    # a viewer learns nothing about which keys exist.
    bucket = stack.names["MediaBucket"]
    private = f"private/{secrets.token_urlsafe(16)}"
    stack.client("s3").put_object(Bucket=bucket, Key=private, Body=BODY, ContentType="image/webp")
    try:
        for key in (private, f"thumbnails/{secrets.token_urlsafe(16)}/256.webp"):
            assert_refused(httpx.get(signed(stack, f"{stack.cdn_url}/{key}")))
    finally:
        stack.client("s3").delete_object(Bucket=bucket, Key=private)
