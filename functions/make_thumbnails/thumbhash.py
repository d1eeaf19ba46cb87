"""ThumbHash: a ~25-byte blurred preview of an image (pure: RGBA pixels in, bytes out).

A port of the encoder of Evan Wallace's reference implementation (github.com/evanw/thumbhash, MIT;
the npm package `thumbhash`, whose output the tests compare with). The image is read as luminance,
two chroma channels and alpha, each reduced to a few low-frequency DCT terms, quantised to 4 bits.

The DCT is computed separably (rows first) instead of pixel by pixel per term: the same sums in
another order, ~10x faster in Python. Rounding is JavaScript's Math.round (halves up), not Python's
round (halves to even).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from operator import mul

MAX_SIZE = 100  # the reference refuses larger inputs: no gain, only cost


def _round(value: float) -> int:
    return math.floor(value + 0.5)


def _encode_channel(
    channel: Sequence[float], width: int, height: int, nx: int, ny: int
) -> tuple[float, list[float], float]:
    """DC term, AC terms normalised to 0..1, and their scale, for the nx by ny triangle of terms."""
    rows = [channel[y * width : (y + 1) * width] for y in range(height)]
    # Row projections: projected[cx][y] = sum over x of channel[x, y] · cos(π/w · cx · (x + ½)).
    projected = []
    for cx in range(nx):
        fx = [math.cos(math.pi / width * cx * (x + 0.5)) for x in range(width)]
        projected.append([sum(map(mul, row, fx)) for row in rows])
    dc, ac, scale = 0.0, [], 0.0
    for cy in range(ny):
        fy = [math.cos(math.pi / height * cy * (y + 0.5)) for y in range(height)]
        cx = 0
        while cx * ny < nx * (ny - cy):
            f = sum(map(mul, projected[cx], fy)) / (width * height)
            if cx or cy:
                ac.append(f)
                scale = max(scale, abs(f))
            else:
                dc = f
            cx += 1
    if scale:
        ac = [0.5 + 0.5 / scale * f for f in ac]
    return dc, ac, scale


def rgba_to_thumbhash(width: int, height: int, rgba: bytes) -> bytes:
    """The ThumbHash of an image of at most 100x100 pixels, RGBA row by row, not premultiplied."""
    if not (0 < width <= MAX_SIZE and 0 < height <= MAX_SIZE):
        raise ValueError(f"{width}x{height} does not fit in {MAX_SIZE}x{MAX_SIZE}")
    count = width * height
    if len(rgba) != count * 4:
        raise ValueError(f"{len(rgba)} bytes is not {width}x{height} RGBA")

    alpha = [a / 255 for a in rgba[3::4]]
    reds, greens, blues = rgba[0::4], rgba[1::4], rgba[2::4]
    total_alpha = sum(alpha)
    # The average colour, weighted by alpha: what transparent pixels are composited over.
    avg_r = avg_g = avg_b = 0.0
    if total_alpha:
        avg_r = sum(map(mul, alpha, reds)) / 255 / total_alpha
        avg_g = sum(map(mul, alpha, greens)) / 255 / total_alpha
        avg_b = sum(map(mul, alpha, blues)) / 255 / total_alpha

    has_alpha = total_alpha < count
    l_limit = 5 if has_alpha else 7  # fewer luminance terms when alpha needs room
    lx = max(1, _round(l_limit * width / max(width, height)))
    ly = max(1, _round(l_limit * height / max(width, height)))

    lum, p, q = [0.0] * count, [0.0] * count, [0.0] * count
    for i in range(count):
        a = alpha[i]
        r = avg_r * (1 - a) + a / 255 * reds[i]
        g = avg_g * (1 - a) + a / 255 * greens[i]
        b = avg_b * (1 - a) + a / 255 * blues[i]
        lum[i] = (r + g + b) / 3
        p[i] = (r + g) / 2 - b  # yellow - blue
        q[i] = r - g  # red - green

    l_dc, l_ac, l_scale = _encode_channel(lum, width, height, max(3, lx), max(3, ly))
    p_dc, p_ac, p_scale = _encode_channel(p, width, height, 3, 3)
    q_dc, q_ac, q_scale = _encode_channel(q, width, height, 3, 3)

    is_landscape = width > height
    header24 = (
        _round(63 * l_dc)
        | (_round(31.5 + 31.5 * p_dc) << 6)
        | (_round(31.5 + 31.5 * q_dc) << 12)
        | (_round(31 * l_scale) << 18)
        | (int(has_alpha) << 23)
    )
    header16 = (
        (ly if is_landscape else lx)
        | (_round(63 * p_scale) << 3)
        | (_round(63 * q_scale) << 9)
        | (int(is_landscape) << 15)
    )
    header = [header24 & 255, (header24 >> 8) & 255, header24 >> 16, header16 & 255, header16 >> 8]
    channels = [l_ac, p_ac, q_ac]
    if has_alpha:
        a_dc, a_ac, a_scale = _encode_channel(alpha, width, height, 5, 5)
        header.append(_round(15 * a_dc) | (_round(15 * a_scale) << 4))
        channels.append(a_ac)
    factors = [_round(15 * f) for ac in channels for f in ac]
    nibbles = bytearray((len(factors) + 1) // 2)
    for index, factor in enumerate(factors):
        nibbles[index >> 1] |= factor << ((index & 1) * 4)
    return bytes(header) + bytes(nibbles)


def placeholder(width: int, height: int, rgba: bytes) -> str:
    """An Image's `placeholder`: the ThumbHash in standard base64 with padding."""
    return base64.b64encode(rgba_to_thumbhash(width, height, rgba)).decode("ascii")


def average_rgba(thumbhash: bytes) -> tuple[float, float, float, float]:
    """The average colour a ThumbHash encodes (0..1 per channel): a page's first paint, a check."""
    header = thumbhash[0] | (thumbhash[1] << 8) | (thumbhash[2] << 16)
    lum = (header & 63) / 63
    p = ((header >> 6) & 63) / 31.5 - 1
    q = ((header >> 12) & 63) / 31.5 - 1
    a = (thumbhash[5] & 15) / 15 if header >> 23 else 1.0
    b = lum - 2 / 3 * p
    r = (3 * lum - b + q) / 2
    g = r - q
    return (max(0.0, min(1.0, r)), max(0.0, min(1.0, g)), max(0.0, min(1.0, b)), a)
