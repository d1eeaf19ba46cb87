"""What the thumbnail step records beside the variants: the placeholder, from the smallest
thumbnail, and the EXIF capture time as ISO 8601 (never a made-up one)."""

from __future__ import annotations

import base64

import pytest
from make_thumbnails.facts import placeholder_of, taken_at
from make_thumbnails.thumbhash import average_rgba
from PIL import ExifTags, Image
from view_share.placeholder import thumbhash_to_rgba

from tests.unit.samples import encode, exif, jpeg, png


def test_taken_at_is_the_exif_capture_time_in_iso_8601() -> None:
    assert taken_at(jpeg(exif=exif(1))) == "2024-06-01T12:00:00"


def test_taken_at_carries_the_camera_s_offset_when_it_wrote_one() -> None:
    data = Image.Exif()
    data[ExifTags.IFD.Exif] = {
        ExifTags.Base.DateTimeOriginal: "2024:06:01 12:00:00",
        ExifTags.Base.OffsetTimeOriginal: "+02:00",
    }
    assert taken_at(jpeg(exif=data)) == "2024-06-01T12:00:00+02:00"


@pytest.mark.parametrize("written", ["0000:00:00 00:00:00", "2024:13:01 12:00:00", "yesterday", ""])
def test_taken_at_is_none_for_a_time_that_is_not_one(written: str) -> None:
    data = Image.Exif()
    data[ExifTags.IFD.Exif] = {ExifTags.Base.DateTimeOriginal: written}
    assert taken_at(jpeg(exif=data)) is None


def test_taken_at_is_none_without_exif_or_for_bytes_that_are_no_image() -> None:
    assert taken_at(png()) is None
    assert taken_at(b"not an image at all") is None


@pytest.mark.parametrize(("size", "landscape"), [((256, 144), True), ((150, 256), False)])
def test_the_placeholder_is_the_thumbnail_s_colour_and_shape(size: tuple[int, int], landscape: bool) -> None:
    thumbnail = encode(Image.new("RGB", size, (200, 40, 90)), "WEBP", quality=90)
    hashed = base64.b64decode(placeholder_of(thumbnail), validate=True)
    r, g, b, a = average_rgba(hashed)
    assert (round(r * 255), round(g * 255), round(b * 255)) == pytest.approx((200, 40, 90), abs=6)
    assert a == 1.0
    width, height, _ = thumbhash_to_rgba(hashed)
    assert (width > height) is landscape
