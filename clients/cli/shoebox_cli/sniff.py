"""Guess a file's content type: its first bytes when they are telling, else its name."""

from __future__ import annotations

import mimetypes
from pathlib import Path

UNKNOWN = "application/octet-stream"

# ISO-BMFF brands (the `ftyp` box) of the HEIF family. `mimetypes` knows neither HEIC nor, on
# older systems, AVIF, and phones name HEIC files .jpg often enough that bytes should win.
_HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"}
_HEIF_BRANDS = {b"mif1", b"msf1", b"mif2"}
_AVIF_BRANDS = {b"avif", b"avis"}


def _ftyp_type(head: bytes) -> str | None:
    if len(head) < 12 or head[4:8] != b"ftyp":
        return None
    box_size = int.from_bytes(head[0:4], "big")
    end = min(len(head), box_size) if box_size >= 16 else 12
    # The major brand, then the compatible brands (the 4 bytes at 12..16 are the minor version).
    brands = [head[8:12]] + [head[i : i + 4] for i in range(16, end - 3, 4)]
    for brand in brands:
        if brand in _AVIF_BRANDS:
            return "image/avif"
        if brand in _HEIC_BRANDS:
            return "image/heic"
    if any(brand in _HEIF_BRANDS for brand in brands):
        return "image/heif"
    return None


def sniff(head: bytes) -> str | None:
    """The image type that these leading bytes announce, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return _ftyp_type(head)


def guess_content_type(path: Path) -> str:
    """Bytes first (they are what the server checks), then the file name, then UNKNOWN."""
    with path.open("rb") as file:
        head = file.read(64)
    by_bytes = sniff(head)
    if by_bytes:
        return by_bytes
    suffix = path.suffix.lower()
    if suffix in (".heic", ".heif", ".avif", ".webp"):
        return f"image/{suffix[1:]}"
    by_name, _ = mimetypes.guess_type(path.name)
    return by_name or UNKNOWN
