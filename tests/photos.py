"""Photo-like test images made with Pillow: gradients, shapes and sensor noise, a few hundred KB."""

from __future__ import annotations

import random
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
