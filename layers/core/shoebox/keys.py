"""Object keys and image ids. Keys are deterministic so that a retried step overwrites."""

from __future__ import annotations

import re
import secrets
from urllib.parse import unquote_plus

INCOMING_PREFIX = "incoming/"
ORIGINALS_PREFIX = "originals/"
THUMBNAILS_PREFIX = "thumbnails/"

# 128 random bits, URL-safe: unguessable, and safe in a path and an S3 key.
_ID = re.compile(r"[A-Za-z0-9_-]{22}")


def new_image_id() -> str:
    """A fresh id. One that starts with "-" would read as an option on a command line
    (`shoebox rm -x…`, `rm -x…`), so such a draw is thrown away: ~0.02 bits of entropy less."""
    while (image_id := secrets.token_urlsafe(16)).startswith("-"):
        pass
    return image_id


def is_image_id(value: str) -> bool:
    # fullmatch: `$` would also let an id with a trailing newline through.
    return _ID.fullmatch(value) is not None


def incoming_key(image_id: str) -> str:
    return f"{INCOMING_PREFIX}{image_id}"


def original_key(image_id: str) -> str:
    return f"{ORIGINALS_PREFIX}{image_id}"


def thumbnail_key(image_id: str, size: int) -> str:
    return f"{THUMBNAILS_PREFIX}{image_id}/{size}.webp"


def event_key(raw_key: str) -> str:
    """Keys in S3 event records are URL-encoded (real S3 and the emulator both do it)."""
    return unquote_plus(raw_key)


def image_id_from_key(key: str, prefix: str) -> str | None:
    """The image id an `incoming/` or `originals/` key belongs to, or None for a stray key."""
    if not key.startswith(prefix):
        return None
    candidate = key[len(prefix) :]
    return candidate if is_image_id(candidate) else None
