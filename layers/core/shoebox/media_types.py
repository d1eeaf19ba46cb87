"""The image types Shoebox accepts: one list for the API, validation and the views."""

from __future__ import annotations

from typing import NamedTuple


class MediaType(NamedTuple):
    format: str  # what the bytes must be, as Pillow names it
    extension: str


ACCEPTED: dict[str, MediaType] = {
    "image/jpeg": MediaType("JPEG", ".jpg"),
    "image/png": MediaType("PNG", ".png"),
    "image/webp": MediaType("WEBP", ".webp"),
    "image/gif": MediaType("GIF", ".gif"),
    "image/heic": MediaType("HEIF", ".heic"),
    "image/heif": MediaType("HEIF", ".heif"),
    "image/avif": MediaType("AVIF", ".avif"),
}
