"""The share page's placeholder: a ThumbHash decoded as the reference decodes it, as a PNG data URL.

DECODED holds what the reference decoder (npm `thumbhash` 0.1.1's thumbHashToRGBA, run by node)
returned for the hashes of tests/unit/test_thumbhash.py's REFERENCE: its size and the SHA-256 of
its RGBA bytes.
"""

from __future__ import annotations

import base64
import hashlib
import io

import pytest
from make_thumbnails.thumbhash import average_rgba, rgba_to_thumbhash
from PIL import Image
from view_share.placeholder import data_url, png, thumbhash_to_rgba

DECODED = {
    "3wcKNZqAh4eAiHeIeHiHiICACPh3": (
        32,
        23,
        "1e1c0dc360357fb8fd94d883800fcfb425854db47109f307e1a71812fcd2c237",
    ),
    "n3cOPxiJeYeWeIeQZqiIh3d5CIWEpn8C": (
        32,
        32,
        "742edaac0badb6ab0d546f21419f971452ac2fc4074d9b958ff9b89862c420a1",
    ),
    "lwYKFAJRmV90iT4nemY10c/03w==": (
        18,
        32,
        "244d739ecbaf2777792e4e85216928385bee90b81bcd62362900f15cb1a32f20",
    ),
    "6DcSO5JvZ6eWbGd3DclV0Gc=": (
        32,
        14,
        "cbf70897ae86e5137c245ded4f2d65de38196a1b50c18742e387dc1e98ad8f6d",
    ),
    "WTeCDQQnpzm/VII5xSVksEw/B3iHiICJeA==": (
        32,
        32,
        "8d3e2f21bc3904783974d85a1f497b1fe367256f37990dd4d128106d79b8a87d",
    ),
    "XheCA4IzV/qXN2hgzIGo+Aeoh3iEinc=": (
        32,
        19,
        "f822c10b90155d3aec60730b42c86698913686bf5f77169dbd48c1d75bb673e7",
    ),
    "HwgCDYJZ0fqDmLWxaZxltHy4/6lm": (
        32,
        23,
        "2fbc010e18c722a3771462697ba1f39c42ec29bc90355e3363b5a33560fbcd40",
    ),
    "AAiCBQAAAAAAAAAAAAAAAAAAAAAAAAAAAA==": (
        32,
        32,
        "e04c5a3b8fdb00c5d4e272e9ffdedfd3bc06f30dcf8c3f36a3917ff28b970f15",
    ),
}


@pytest.mark.parametrize("placeholder", sorted(DECODED))
def test_decodes_exactly_as_the_reference(placeholder: str) -> None:
    width, height, rgba = thumbhash_to_rgba(base64.b64decode(placeholder))
    assert (width, height, hashlib.sha256(rgba).hexdigest()) == DECODED[placeholder]


@pytest.mark.parametrize("placeholder", sorted(DECODED))
def test_the_data_url_is_a_png_of_those_pixels(placeholder: str) -> None:
    url = data_url(placeholder)
    assert url is not None
    assert url.startswith("data:image/png;base64,")
    decoded = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    decoded.load()  # Pillow checks the CRCs and the zlib stream here
    width, height, rgba = thumbhash_to_rgba(base64.b64decode(placeholder))
    assert (decoded.format, decoded.mode, decoded.size) == ("PNG", "RGBA", (width, height))
    assert decoded.tobytes() == rgba


@pytest.mark.parametrize(("colour", "size"), [((200, 30, 40), (90, 60)), ((20, 120, 220), (40, 100))])
def test_what_the_thumbnail_step_encodes_comes_back_as_its_colour_and_shape(
    colour: tuple[int, int, int], size: tuple[int, int]
) -> None:
    image = Image.new("RGBA", size, (*colour, 255))
    hashed = rgba_to_thumbhash(*size, image.tobytes())
    width, height, rgba = thumbhash_to_rgba(hashed)
    assert (width > height) == (size[0] > size[1])
    mean = [sum(rgba[channel::4]) / (width * height) / 255 for channel in range(3)]
    for got, expected in zip(mean, average_rgba(hashed)[:3], strict=True):
        assert abs(got - expected) < 0.03


@pytest.mark.parametrize(
    "placeholder",
    [None, "", "not base64!", "AAAA", "AAAAAAA=", base64.b64encode(bytes([0, 0, 0x80, 0, 0])).decode()],
)
def test_a_missing_or_broken_placeholder_is_none_not_an_error(placeholder: str | None) -> None:
    # Short, no terms on a side, alpha without its byte: the page shows a plain background.
    assert data_url(placeholder) is None


def test_png_writes_what_it_is_given() -> None:
    pixels = bytes(range(2 * 3 * 4))
    decoded = Image.open(io.BytesIO(png(2, 3, pixels)))
    assert decoded.size == (2, 3)
    assert decoded.tobytes() == pixels
