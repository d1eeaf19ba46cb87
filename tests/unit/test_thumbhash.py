"""The ThumbHash encoder against the reference implementation, and what its hash decodes to.

REFERENCE holds what the reference encoder (npm `thumbhash` 0.1.1, Evan Wallace's, run by node on
the very pixels the generators below make) returned, base64. On natural images the port returns
the same bytes. Where a term is mathematically zero (a pure gradient), float noise decides a tie
at 7.5 in either implementation, so there a factor may differ by one step of 16: invisible.
"""

from __future__ import annotations

import base64
import math
import random

import pytest
from make_thumbnails.thumbhash import average_rgba, placeholder, rgba_to_thumbhash
from PIL import Image

Pixels = tuple[int, int, bytes]


def gradient(width: int, height: int) -> Pixels:
    pixels = bytearray()
    for y in range(height):
        for x in range(width):
            pixels += bytes((255 * x // (width - 1), 255 * y // (height - 1), 128, 255))
    return width, height, bytes(pixels)


def scene(width: int, height: int, seed: int, alpha: bool = False) -> Pixels:
    """A photo-like picture: a shaded sky, discs of colour, sensor noise; optionally a soft vignette
    of transparency."""
    rng = random.Random(seed)
    sky = (rng.randrange(40, 200), rng.randrange(40, 200), rng.randrange(120, 255))
    discs = [
        (
            rng.uniform(0, width),
            rng.uniform(0, height),
            rng.uniform(width / 10, width / 3),
            (rng.randrange(256), rng.randrange(256), rng.randrange(256)),
        )
        for _ in range(6)
    ]
    pixels = bytearray()
    for y in range(height):
        for x in range(width):
            r, g, b = (c * (1 - 0.6 * y / height) for c in sky)
            for cx, cy, radius, colour in discs:
                if (x - cx) ** 2 + (y - cy) ** 2 < radius**2:
                    r, g, b = colour
            grain = rng.randrange(-12, 13)
            a = 255
            if alpha:
                distance = math.hypot(x - width / 2, y - height / 2) / (min(width, height) / 2)
                a = max(0, min(255, int(255 * (1.2 - distance))))
            pixels += bytes((*(max(0, min(255, int(c) + grain)) for c in (r, g, b)), a))
    return width, height, bytes(pixels)


def noise(width: int, height: int, seed: int) -> Pixels:
    rng = random.Random(seed)
    return width, height, bytes(v for _ in range(width * height) for v in (*rng.randbytes(3), 255))


CASES = {
    "scene-100x100": lambda: scene(100, 100, 1),
    "scene-portrait-60x100": lambda: scene(60, 100, 2),
    "scene-landscape-100x40": lambda: scene(100, 40, 3),
    "scene-alpha-80x80": lambda: scene(80, 80, 4, alpha=True),
    "scene-alpha-100x50": lambda: scene(100, 50, 5, alpha=True),
    "noise-32x24": lambda: noise(32, 24, 7),
    "tiny-3x2": lambda: noise(3, 2, 9),
    "transparent-4x4": lambda: (4, 4, bytes((10, 20, 30, 0)) * 16),
}
REFERENCE = {
    "gradient-100x75": "3wcKNZqAh4eAiHeIeHiHiICACPh3",
    "scene-100x100": "n3cOPxiJeYeWeIeQZqiIh3d5CIWEpn8C",
    "scene-portrait-60x100": "lwYKFAJRmV90iT4nemY10c/03w==",
    "scene-landscape-100x40": "6DcSO5JvZ6eWbGd3DclV0Gc=",
    "scene-alpha-80x80": "WTeCDQQnpzm/VII5xSVksEw/B3iHiICJeA==",
    "scene-alpha-100x50": "XheCA4IzV/qXN2hgzIGo+Aeoh3iEinc=",
    "noise-32x24": "HwgCDYJZ0fqDmLWxaZxltHy4/6lm",
    "tiny-3x2": "n9k9HZh4iAd5h4iIiGiIcGtg92uF",
    "transparent-4x4": "AAiCBQAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_bytes_as_the_reference_encoder(name: str) -> None:
    assert placeholder(*CASES[name]()) == REFERENCE[name]


def test_a_gradients_ties_differ_from_the_reference_by_one_step_at_most() -> None:
    ours = rgba_to_thumbhash(*gradient(100, 75))
    theirs = base64.b64decode(REFERENCE["gradient-100x75"])
    assert len(ours) == len(theirs)
    assert ours[:5] == theirs[:5]  # average colour, scales, shape
    for mine, reference in zip(ours[5:], theirs[5:], strict=True):
        for shift in (0, 4):
            assert abs((mine >> shift & 15) - (reference >> shift & 15)) <= 1


def test_placeholder_is_standard_base64_with_padding() -> None:
    text = placeholder(*CASES["scene-portrait-60x100"]())
    assert text.endswith("=")
    assert base64.b64decode(text, validate=True) == rgba_to_thumbhash(*CASES["scene-portrait-60x100"]())


@pytest.mark.parametrize(
    ("colour", "size"),
    [((255, 0, 0), (64, 48)), ((30, 144, 255), (20, 90)), ((250, 200, 40), (100, 100))],
)
def test_decodes_to_the_images_average_colour(colour: tuple[int, int, int], size: tuple[int, int]) -> None:
    """A picture made with Pillow, as the thumbnail step will hand it over: RGBA, at most 100 px."""
    image = Image.new("RGB", (400, 300), colour).resize(size).convert("RGBA")
    r, g, b, a = average_rgba(rgba_to_thumbhash(*image.size, image.tobytes()))
    assert a == 1.0
    for got, expected in zip((r, g, b), colour, strict=True):
        assert abs(got - expected / 255) < 0.04


def test_half_transparent_image_keeps_its_colour_and_reports_alpha() -> None:
    image = Image.new("RGBA", (50, 50), (0, 0, 255, 255))
    image.paste((0, 0, 0, 0), (0, 0, 50, 25))  # the top half fully transparent
    hashed = rgba_to_thumbhash(*image.size, image.tobytes())
    r, g, b, a = average_rgba(hashed)
    # Transparent pixels take the average colour: no black creeps in.
    assert r < 0.04
    assert g < 0.04
    assert b > 0.96
    assert abs(a - 0.5) < 0.1


@pytest.mark.parametrize(("width", "height", "length"), [(101, 10, 101 * 40), (0, 5, 0), (10, 10, 399)])
def test_refuses_what_the_reference_refuses(width: int, height: int, length: int) -> None:
    with pytest.raises(ValueError, match=r"does not fit|is not"):
        rgba_to_thumbhash(width, height, bytes(length))
