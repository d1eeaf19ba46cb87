"""Share-link tokens: `<share id>.<tag>`, the tag an HMAC-SHA256 of the share id under a server key.

Nothing secret is stored: the table keeps share ids only, so a table read yields no live token,
yet the owner's share list can show each link again (a Share carries its `url`). A share id is
`<image id>.<nonce>` (128 random bits): DELETE /v1/shares/{share_id} finds the image from the id
alone. Tokens are checked in constant time, and malformed or forged ones are refused before any
table read; revoking is deleting the share's record.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

_PART = r"[A-Za-z0-9_-]{22}"  # 16 bytes, URL-safe base64 without padding
_IMAGE_ID = re.compile(_PART)  # what keys.new_image_id makes
_SHARE_ID = re.compile(rf"({_PART})\.{_PART}")
_TOKEN = re.compile(rf"({_PART}\.{_PART})\.({_PART})")
_TAG_BYTES = 16
_CONTEXT = b"shoebox share token v1\x00"  # a key used for nothing else still names its purpose
MIN_KEY_BYTES = 32


class InvalidShareToken(ValueError):
    """Malformed, or not made with our key: answered 404 like an unknown token, with no table read."""


def new_share_id(image_id: str) -> str:
    if not _IMAGE_ID.fullmatch(image_id):  # keys.is_image_id's `$` lets a trailing newline through
        raise ValueError(f"not an image id: {image_id!r}")
    return f"{image_id}.{secrets.token_urlsafe(16)}"


def image_id_of(share_id: str) -> str:
    """The image a share id belongs to; ValueError for anything that is not a share id."""
    match = _SHARE_ID.fullmatch(share_id)
    if match is None:
        raise ValueError(f"not a share id: {share_id!r}")
    return match.group(1)


def _tag(share_id: str, key: bytes) -> str:
    digest = hmac.new(key, _CONTEXT + share_id.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:_TAG_BYTES]).decode("ascii").rstrip("=")


def share_token(share_id: str, key: bytes) -> str:
    """The token of a share (the `/s/{token}` of its URL): the same every time it is asked for."""
    image_id_of(share_id)
    return f"{share_id}.{_tag(share_id, key)}"


def share_id_from_token(token: str, key: bytes) -> str:
    """The share id a token names, if the token is well formed and made with `key`."""
    match = _TOKEN.fullmatch(token)
    if match is None:
        raise InvalidShareToken("malformed share token")
    share_id, tag = match.groups()
    if not hmac.compare_digest(tag, _tag(share_id, key)):
        raise InvalidShareToken("share token not made with this key")
    return share_id


def share_key(secret_string: str) -> bytes:
    """The HMAC key from its secret's value (Secrets Manager generates it: 64 random characters)."""
    key = secret_string.encode("utf-8")
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"the share key must have at least {MIN_KEY_BYTES} bytes, got {len(key)}")
    return key
