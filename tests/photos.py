"""Test images made with Pillow: photo-like ones (gradients, shapes and sensor noise, a few hundred
KB), and big ones of pure noise for multipart uploads."""

from __future__ import annotations

import math
import random
import struct
import zlib
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter


def make_photo(path: Path, size: tuple[int, int] = (1600, 1200), seed: int = 0) -> Path:
    """Write a photo-like image; the format follows the suffix (.jpg, .png, .webp)."""
    rng = random.Random(seed)
    width, height = size
    sky = Image.linear_gradient("L").resize(size)
    tint = (rng.randrange(60, 200), rng.randrange(60, 200), rng.randrange(60, 200))
    image = Image.merge("RGB", [sky.point(lambda v, c=c: (v * c) // 255 + 30) for c in tint])
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        x, y = rng.randrange(width), rng.randrange(height)
        radius = rng.randrange(width // 40, width // 6)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(3))
    # Sensor noise: what makes a real photo's JPEG a few hundred KB rather than a few dozen.
    noise = Image.effect_noise(size, 18).convert("RGB")
    image = Image.blend(image, noise, 0.12)
    suffix = path.suffix.lower()
    if suffix in (".jpg", ".jpeg"):
        image.save(path, "JPEG", quality=88)
    elif suffix == ".png":
        image.save(path, "PNG", optimize=False)
    else:
        image.save(path, suffix.lstrip(".").upper(), quality=85)
    return path


def big_png(min_bytes: int, seed: int = 0) -> bytes:
    """A PNG of at least `min_bytes`: random RGB pixels stored uncompressed (nothing compresses
    noise), square, decodable, and different for each seed. Written by hand (filter 0, zlib level
    0) because Pillow's encoder filters every row: seconds for tens of MB."""
    side = math.isqrt(min_bytes // 3) + 1
    noise = random.Random(seed).randbytes(side * side * 3)
    row = side * 3
    raw = b"".join(b"\x00" + noise[start : start + row] for start in range(0, len(noise), row))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 0))
        + chunk(b"IEND", b"")
    )
