"""Share-link tokens: `<share id>.<tag>`, the tag an HMAC-SHA256 of the share id under a server key.

Nothing secret is stored: the table keeps share ids only, so a table read yields no live token,
yet the owner's share list can show each link again (a Share carries its `url`). A share id is
`<image id>.<nonce>` (128 random bits): DELETE /v1/shares/{share_id} finds the image from the id
alone. Tokens are checked in constant time, and malformed or forged ones are refused before any
table read; revoking is deleting the share's record.

The key is a secret the stack generates (`SHARE_KEY_SECRET`), read once per execution environment
by the functions that make or check tokens. It never rotates: a new key would void every link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from botocore.exceptions import ClientError

from shoebox import aws, records
from shoebox.errors import NotFound
from shoebox.settings import _integer, _text

_PART = r"[A-Za-z0-9_-]{22}"  # 16 bytes, URL-safe base64 without padding
_IMAGE_ID = re.compile(_PART)  # what keys.new_image_id makes
_SHARE_ID = re.compile(rf"({_PART})\.({_PART})")
_TOKEN = re.compile(rf"({_PART}\.{_PART})\.({_PART})")
_TAG_BYTES = 16
_CONTEXT = b"shoebox share token v1\x00"  # a key used for nothing else still names its purpose
MIN_KEY_BYTES = 32
SHARE_NOT_FOUND = "no such share link, or it has expired or been revoked"
DEFAULT_MAX_SECONDS = 30 * 86_400  # MaxShareSeconds' default: a link with an expiry lasts <= 30 days


class InvalidShareToken(ValueError):
    """Malformed, or not made with our key: answered 404 like an unknown token, with no table read."""


def new_nonce() -> str:
    return secrets.token_urlsafe(16)


def new_share_id(image_id: str) -> str:
    if not _IMAGE_ID.fullmatch(image_id):  # keys.is_image_id's `$` lets a trailing newline through
        raise ValueError(f"not an image id: {image_id!r}")
    return join_share_id(image_id, new_nonce())


def join_share_id(image_id: str, nonce: str) -> str:
    return f"{image_id}.{nonce}"


def split_share_id(share_id: str) -> tuple[str, str]:
    """(image id, nonce) of a share id; ValueError for anything that is not a share id."""
    match = _SHARE_ID.fullmatch(share_id)
    if match is None:
        raise ValueError(f"not a share id: {share_id!r}")
    return match.group(1), match.group(2)


def image_id_of(share_id: str) -> str:
    """The image a share id belongs to; ValueError for anything that is not a share id."""
    return split_share_id(share_id)[0]


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


def share_url(base_url: str, token: str, variant: str | None = None) -> str:
    """A share's public page (`/s/{token}`), or one of its variants (`/s/{token}/{variant}`)."""
    return f"{base_url}/s/{token}" + (f"/{variant}" if variant else "")


def share_key(secret_string: str) -> bytes:
    """The HMAC key from its secret's value (Secrets Manager generates it: 64 random characters)."""
    key = secret_string.encode("utf-8")
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"the share key must have at least {MIN_KEY_BYTES} bytes, got {len(key)}")
    return key


def shared_image(token: str, now: datetime) -> records.ImageRecord:
    """The READY image a live link's token names. Malformed, forged, unknown, revoked and expired
    tokens, and those of a deleted image, all get the same NotFound: a token says nothing about
    whether it ever worked. Forged ones are refused before any table read."""
    try:
        image_id, nonce = split_share_id(share_id_from_token(token, token_key()))
    except InvalidShareToken:
        raise NotFound(SHARE_NOT_FOUND) from None
    record = records.find_shared(image_id, nonce, now)
    if record is None:
        raise NotFound(SHARE_NOT_FOUND)
    return record


# ------------------------------------------------------------------ configuration


class ShareConfigurationError(RuntimeError):
    """The token key cannot be had (missing or unreadable secret): an operator must act."""


@dataclass(frozen=True)
class ShareSettings:
    key_secret: str  # SHARE_KEY_SECRET: the secret's ARN or name
    max_seconds: int = DEFAULT_MAX_SECONDS  # MAX_SHARE_SECONDS: longest `expires_in`

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> ShareSettings:
        return cls(_text(env, "SHARE_KEY_SECRET"), _integer(env, "MAX_SHARE_SECONDS", cls.max_seconds))


@cache
def share_settings() -> ShareSettings:
    """The process's share settings, read on first use (not at import)."""
    return ShareSettings.from_env()


@cache
def token_key() -> bytes:
    """The HMAC key of share tokens, read from its secret once per execution environment."""
    secret_id = share_settings().key_secret
    try:
        value = aws.secretsmanager().get_secret_value(SecretId=secret_id)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        raise ShareConfigurationError(f"cannot read the share token key from {secret_id} ({code})") from exc
    try:
        return share_key(value.get("SecretString", ""))
    except ValueError as exc:
        raise ShareConfigurationError(f"{secret_id}: {exc}") from None
