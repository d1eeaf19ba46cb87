"""What the thumbnail step records beside the variants (pure: bytes in, values out): the
`placeholder` painted before any variant loads, and `taken_at`, when the photo was taken."""

from __future__ import annotations

import io
import re
from datetime import datetime

from PIL import ExifTags, Image

from make_thumbnails.thumbhash import MAX_SIZE, placeholder

# EXIF's "YYYY:MM:DD HH:MM:SS" (some writers use "-" or "T"); "+HH:MM" in OffsetTimeOriginal.
_EXIF_TIME = re.compile(r"(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_EXIF_OFFSET = re.compile(r"[+-]\d{2}:\d{2}")


def placeholder_of(thumbnail: bytes) -> str:
    """The ThumbHash (base64) of the smallest thumbnail: already upright and sRGB, ≤ 256 px."""
    with Image.open(io.BytesIO(thumbnail)) as image:
        small = image.convert("RGBA")
    small.thumbnail((MAX_SIZE, MAX_SIZE))
    return placeholder(small.width, small.height, small.tobytes())


def taken_at(original: bytes) -> str | None:
    """EXIF DateTimeOriginal as ISO 8601 (with OffsetTimeOriginal when given), or None when the
    original has none, or one that is not a real time (cameras write "0000:00:00 00:00:00")."""
    try:
        with Image.open(io.BytesIO(original)) as image:  # the header only: nothing is decoded
            exif = image.getexif().get_ifd(ExifTags.IFD.Exif)
    except (OSError, SyntaxError, ValueError):
        return None
    found = _EXIF_TIME.fullmatch(str(exif.get(ExifTags.Base.DateTimeOriginal, "")).strip("\x00 "))
    if found is None:
        return None
    year, month, day, hour, minute, second = (int(part) for part in found.groups())
    try:
        when = datetime(year, month, day, hour, minute, second)  # EXIF has no zone: a wall-clock time
    except ValueError:
        return None
    offset = str(exif.get(ExifTags.Base.OffsetTimeOriginal, "")).strip("\x00 ")
    return when.isoformat() + (offset if _EXIF_OFFSET.fullmatch(offset) else "")
