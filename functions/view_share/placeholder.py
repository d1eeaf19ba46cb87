"""An Image's `placeholder` (a ThumbHash) as a tiny PNG data URL: what the share page paints first.

Pure: base64 in, a `data:` URL out. The decoder is a port of `thumbHashToRGBA` of Evan Wallace's
reference implementation (github.com/evanw/thumbhash, MIT; the npm package `thumbhash`, whose
output the tests compare with); the encoder that made the hash is make_thumbnails/thumbhash.py.
Decoding server-side lets the page show the preview with no script (its CSP forbids scripts).
"""

from __future__ import annotations

import base64
import binascii
import math
import struct
import zlib
from functools import lru_cache

SIDE = 32  # the reference decodes to at most 32x32: the browser scales it up, blurred


def _channel(hash_: bytes, start: int, index: int, nx: int, ny: int, scale: float) -> tuple[list[float], int]:
    """The AC terms of one channel (4 bits each, from nibble `index` on) and the next index."""
    terms = []
    for cy in range(ny):
        cx = 0 if cy else 1
        while cx * ny < nx * (ny - cy):
            nibble = (hash_[start + (index >> 1)] >> ((index & 1) << 2)) & 15
            terms.append((nibble / 7.5 - 1) * scale)
            index += 1
            cx += 1
    return terms, index


def _terms(size: int, n: int) -> list[list[float]]:
    """cos(π/size · (i + ½) · c) for each pixel i and term c < n."""
    return [[math.cos(math.pi / size * (i + 0.5) * c) for c in range(n)] for i in range(size)]


def thumbhash_to_rgba(hash_: bytes) -> tuple[int, int, bytes]:
    """(width, height, RGBA row by row) of the preview a ThumbHash encodes; ValueError if it is
    too short to be one."""
    if len(hash_) < 5:
        raise ValueError("a ThumbHash has at least 5 bytes")
    header24 = hash_[0] | (hash_[1] << 8) | (hash_[2] << 16)
    header16 = hash_[3] | (hash_[4] << 8)
    l_dc = (header24 & 63) / 63
    p_dc = ((header24 >> 6) & 63) / 31.5 - 1
    q_dc = ((header24 >> 12) & 63) / 31.5 - 1
    l_scale = ((header24 >> 18) & 31) / 31
    has_alpha = bool(header24 >> 23)
    p_scale = ((header16 >> 3) & 63) / 63
    q_scale = ((header16 >> 9) & 63) / 63
    is_landscape = bool(header16 >> 15)
    lx = max(3, (5 if has_alpha else 7) if is_landscape else header16 & 7)
    ly = max(3, header16 & 7 if is_landscape else (5 if has_alpha else 7))
    if has_alpha and len(hash_) < 6:
        raise ValueError("a ThumbHash with alpha has at least 6 bytes")
    a_dc = (hash_[5] & 15) / 15 if has_alpha else 1.0
    a_scale = (hash_[5] >> 4) / 15 if has_alpha else 0.0

    start = 6 if has_alpha else 5
    try:
        # Saturation boosted by 1.25 to make up for the quantisation, as the reference does.
        l_ac, index = _channel(hash_, start, 0, lx, ly, l_scale)
        p_ac, index = _channel(hash_, start, index, 3, 3, p_scale * 1.25)
        q_ac, index = _channel(hash_, start, index, 3, 3, q_scale * 1.25)
        a_ac = _channel(hash_, start, index, 5, 5, a_scale)[0] if has_alpha else []
    except IndexError:
        raise ValueError("a ThumbHash too short for its terms") from None

    # The reference's thumbHashToApproximateAspectRatio: the raw term counts, before max(3, ...).
    short_side, long_side = header16 & 7, 5 if has_alpha else 7
    if not short_side:
        raise ValueError("a ThumbHash with no terms on one side")
    ratio = long_side / short_side if is_landscape else short_side / long_side
    width = _js_round(SIDE if ratio > 1 else SIDE * ratio)
    height = _js_round(SIDE / ratio if ratio > 1 else SIDE)
    fxs = _terms(width, max(lx, 5 if has_alpha else 3))
    fys = _terms(height, max(ly, 5 if has_alpha else 3))
    lum = _plane(l_dc, l_ac, lx, ly, fxs, fys)
    p = _plane(p_dc, p_ac, 3, 3, fxs, fys)
    q = _plane(q_dc, q_ac, 3, 3, fxs, fys)
    alpha = _plane(a_dc, a_ac, 5, 5, fxs, fys) if has_alpha else [1.0] * (width * height)
    pixels = bytearray()
    for lum_i, p_i, q_i, a_i in zip(lum, p, q, alpha, strict=True):
        b = lum_i - 2 / 3 * p_i
        r = (3 * lum_i - b + q_i) / 2
        g = r - q_i
        pixels += bytes(_byte(value) for value in (r, g, b, a_i))
    return width, height, bytes(pixels)


def _plane(
    dc: float, ac: list[float], nx: int, ny: int, fxs: list[list[float]], fys: list[list[float]]
) -> list[float]:
    """One channel's values, row by row: the DC term plus the AC terms' cosines. Summed separably
    (each row of terms across x first, then down y): the reference's sums in another order, ~15x
    faster in Python (~4 ms a placeholder here), and still the reference's bytes."""
    rows: list[list[float]] = []  # rows[cy][x] = sum over cx of ac · cos_x(cx)
    j = 0
    for cy in range(ny):
        terms = []
        cx = 0 if cy else 1
        while cx * ny < nx * (ny - cy):
            terms.append((cx, ac[j]))
            cx += 1
            j += 1
        rows.append([sum(term * fx[cx] for cx, term in terms) for fx in fxs])
    values: list[float] = []
    for fy in fys:
        line = [dc] * len(fxs)
        for cy, row in enumerate(rows):
            weight = fy[cy] * 2
            line = [value + weight * term for value, term in zip(line, row, strict=True)]
        values += line
    return values


def _js_round(value: float) -> int:
    return math.floor(value + 0.5)


def _byte(value: float) -> int:
    # Uint8Array truncates what it is given; clamped to 0..1 first, as the reference does.
    return int(max(0.0, 255 * min(1.0, value)))


def png(width: int, height: int, rgba: bytes) -> bytes:
    """A PNG of RGBA pixels (8 bits a channel, no filter)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    stride = width * 4
    rows = b"".join(b"\x00" + rgba[y * stride : (y + 1) * stride] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA, no interlace
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


@lru_cache(maxsize=256)  # a page viewed again in a warm environment decodes nothing
def data_url(placeholder: str | None) -> str | None:
    """The placeholder as `data:image/png;base64,...`; None without one or for one that does not
    decode (the page then shows a plain background: never an error for a viewer)."""
    if not placeholder:
        return None
    try:
        hash_ = base64.b64decode(placeholder, validate=True)
        width, height, rgba = thumbhash_to_rgba(hash_)
    except (binascii.Error, ValueError):
        return None
    return "data:image/png;base64," + base64.b64encode(png(width, height, rgba)).decode("ascii")
