"""Hostile uploads, made in code: what the unit tests must see refused or cleaned, and what the
bench measures the worst case on (bench/thumbnails.py: `worst_case_cpu_s`).

Small by default, for the unit tests; `at_the_limits()` makes the big ones, each as costly as
the default limits let an accepted upload be.
"""

from __future__ import annotations

import io
import random
import struct
import sys
from collections.abc import Callable
from pathlib import Path

from PIL import Image

HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"
LOCATION = b"home: 50.8798 N, 4.7005 E"
SCRIPT = "<script>alert(1)</script>"


def encode(picture: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    picture.save(out, fmt, **options)
    return out.getvalue()


def photo(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """Photo-like pixels, fast and the same on every run: three gradients and sensor noise, so
    that codecs work as hard as on a photo (flat pictures compress to nothing). The noise comes
    from a seeded generator: Pillow's effect_noise depends on what ran before it."""
    gradient = Image.linear_gradient("L").resize(size)
    noise = Image.frombytes("L", size, random.Random(seed).randbytes(size[0] * size[1]))
    turned = (
        gradient,
        gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        gradient.point(lambda v: 255 - v),
    )
    return Image.merge("RGB", [Image.blend(channel, noise, 0.15) for channel in turned])


def noise(size: tuple[int, int], mode: str = "RGB", seed: int = 0) -> Image.Image:
    """Pixels no codec can squeeze: the most bytes a picture of this size can be."""
    rng, row = random.Random(seed), size[0] * len(mode)
    return Image.frombytes(mode, size, b"".join(rng.randbytes(row) for _ in range(size[1])))


def smooth(size: tuple[int, int]) -> Image.Image:
    """The other end: a picture that squeezes to almost nothing, all of its cost in its pixels."""
    gradient = Image.linear_gradient("L").resize(size)
    return Image.merge("RGB", (gradient, gradient.transpose(Image.Transpose.ROTATE_180), gradient))


def frame_bomb(frames: int = 1000, side: int = 1000) -> bytes:
    """A GIF of `frames` one-colour frames of side x side pixels: ~1.8 KB a frame to send, a
    megapixel each to decode. The old pipeline accepted 1000 of them and spent 9.3 s of CPU."""
    one = encode(Image.new("P", (side, side), 1), "GIF")
    header_end = 13 + (3 << ((one[10] & 0x07) + 1) if one[10] & 0x80 else 0)
    return one[:header_end] + one[header_end : one.rindex(b";")] * frames + b";"


def fake_icc_profile() -> bytes:
    """Not a colour profile, though it starts like one (its size, 'acsp', a display class, RGB):
    its one tag is a description holding HTML and a location. LittleCMS opens it, but it
    describes no colours (no primaries, no curves): nothing can be converted with it."""
    body = b"text\x00\x00\x00\x00" + HTML + b" " + LOCATION + b"\x00"
    body += b"\x00" * (-len(body) % 4)
    table = struct.pack(">I4sII", 1, b"desc", 128 + 16, len(body))
    size = 128 + len(table) + len(body)
    header = struct.pack(">I4sI4s4s4s", size, b"none", 0x02100000, b"mntr", b"RGB ", b"XYZ ")
    header += b"\x00" * 12 + b"acsp"
    return header + b"\x00" * (128 - len(header)) + table + body


def with_icc(fmt: str, profile: bytes, size: tuple[int, int] = (64, 48)) -> bytes:
    """A JPEG (APP2), PNG (iCCP) or WebP (ICCP) carrying this profile."""
    return encode(photo(size), fmt, icc_profile=profile)


def script_in_exif_make(size: tuple[int, int] = (64, 48)) -> bytes:
    """A JPEG whose EXIF Make is a script; its Model is a real camera's."""
    exif = Image.Exif()
    exif[0x010F] = SCRIPT  # Make
    exif[0x0110] = "Canon EOS 350D DIGITAL"  # Model
    return encode(photo(size), "JPEG", exif=exif)


def truncated_jpeg(*, progressive: bool, at: float, size: tuple[int, int] = (800, 600)) -> bytes:
    """A JPEG cut at a fraction of its length with an end-of-image marker appended: libjpeg
    fills what is missing with grey and only warns."""
    data = encode(photo(size), "JPEG", quality=90, progressive=progressive)
    return data[: int(len(data) * at)] + b"\xff\xd9"


def drawing(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """Drawing-like pixels: a fractal's edge over a gradient. Lossless codecs squeeze it about
    tenfold, as they do cartoons; photo-like pixels hardly squeeze at all."""
    edge = Image.effect_mandelbrot(size, (-2.2 + 0.01 * seed, -1.25, 0.8, 1.25), 48 + seed)
    gradient = Image.linear_gradient("L").resize(size)
    return Image.merge("RGB", (edge, gradient, edge.transpose(Image.Transpose.FLIP_TOP_BOTTOM)))


def animation(fmt: str, frames: int, side: int) -> bytes:
    """An animation of `frames` frames of side x side (eight different, cycled): photos for
    WebP, drawings for GIF and PNG (100 megapixels of photos would not fit in 25 MiB of them)."""
    make = photo if fmt == "WEBP" else drawing
    pictures = [make((side, side), seed) for seed in range(8)]
    sequence = [pictures[index % 8] for index in range(frames)]
    options: dict[str, object] = {"quality": 80, "method": 0} if fmt == "WEBP" else {}
    return encode(sequence[0], fmt, save_all=True, append_images=sequence[1:], duration=40, **options)


def heic(picture: Image.Image, quality: int) -> bytes:
    """HEIC needs an HEVC encoder: pillow-heif (a dev dependency) has one; pi-heif decodes only."""
    import pillow_heif  # only here: the functions never encode HEIC

    out = io.BytesIO()
    pillow_heif.from_pillow(picture).save(out, quality=quality)
    return out.getvalue()


def at_the_limits() -> dict[str, bytes]:
    """The costliest uploads the default limits accept or nearly (100 MP a frame, 100 MP over all
    frames, 25 MiB, 100 MiB sent in parts, 2 s of estimated CPU), one per kind of work, plus the
    small hostile files of the unit tests.

    HEIC and AVIF, which validation transcodes, at the size of the largest phone photos (48 MP):
    the work limit refuses them (their codecs cost more per pixel and per byte). Writing the
    HEIC takes ~2 minutes."""
    still = photo((12000, 8333))  # 100 MP
    phone = photo((8064, 6048))  # 48 MP, as the largest phone sensors
    return {
        "phone_48mp_q50.heic": heic(phone, quality=50),  # 14 MiB; at q80 this noise is over 25 MiB
        "phone_48mp_q80.avif": encode(phone, "AVIF", quality=80, speed=8),  # 15 MiB
        # in parts: 96 MiB of baseline JPEG is cheap; 32 MiB of WebP is 2.1-2.5 s, and refused
        "still_100mp_noise_q85.jpg": encode(noise(still.size), "JPEG", quality=85),
        "still_50mp_noise_q80.webp": encode(noise((8660, 5773)), "WEBP", quality=80, method=0),
        "frame_bomb_1000x1mp.gif": frame_bomb(),
        "frames_100x1mp.gif": animation("GIF", 100, 1000),
        "frames_100x1mp.webp": animation("WEBP", 100, 1000),
        "frames_100x1mp.png": animation("PNG", 100, 1000),
        "still_100mp_progressive_q80.jpg": encode(still, "JPEG", quality=80, progressive=True),  # 21 MiB
        "still_100mp_q80.webp": encode(still, "WEBP", quality=80, method=0),
        "still_100mp_gradient_rgba.png": encode(
            Image.linear_gradient("L").resize(still.size).convert("RGBA"), "PNG"
        ),
        "fake_icc.jpg": with_icc("JPEG", fake_icc_profile()),
        "fake_icc.png": with_icc("PNG", fake_icc_profile()),
        "fake_icc.webp": with_icc("WEBP", fake_icc_profile()),
        "script_in_exif_make.jpg": script_in_exif_make(),
        "truncated_half_baseline.jpg": truncated_jpeg(progressive=False, at=0.5, size=(4000, 3000)),
        "truncated_half_progressive.jpg": truncated_jpeg(progressive=True, at=0.5, size=(4000, 3000)),
    }


def costliest() -> dict[str, Callable[[], bytes]]:
    """Per codec, the uploads the work limit's estimates are fitted over (bench/costs.py): all
    pixels and few bytes, and as many bytes as their pixels can be (up to the 100 MiB of an upload
    in parts). Made when called: the HEICs take minutes."""
    still, phone, half, quarter = (12000, 8333), (8064, 6048), (8660, 5773), (6000, 4000)
    return {
        "heif_48mp_smooth.heic": lambda: heic(smooth(phone), quality=50),
        "heif_48mp_photo_q50.heic": lambda: heic(photo(phone), quality=50),
        "heif_24mp_photo_q50.heic": lambda: heic(photo(quarter), quality=50),
        "avif_48mp_smooth.avif": lambda: encode(smooth(phone), "AVIF", quality=80, speed=8),
        "avif_48mp_photo_q80.avif": lambda: encode(photo(phone), "AVIF", quality=80, speed=8),
        "avif_24mp_noise_q95.avif": lambda: encode(noise(quarter), "AVIF", quality=95, speed=8),
        "jpeg_100mp_noise_q85.jpg": lambda: encode(noise(still), "JPEG", quality=85),  # 96 MiB
        "jpeg_100mp_photo_progressive_q80.jpg": lambda: encode(
            photo(still), "JPEG", quality=80, progressive=True
        ),
        "jpeg_100mp_noise_progressive_q95.jpg": lambda: encode(
            noise(still), "JPEG", quality=95, progressive=True
        ),
        "jpeg_50mp_noise_progressive_q100.jpg": lambda: encode(
            noise(half), "JPEG", quality=100, progressive=True
        ),
        "png_100mp_smooth_rgba.png": lambda: encode(smooth(still).convert("RGBA"), "PNG"),
        "png_22mp_noise_rgba.png": lambda: encode(noise((5744, 3830), "RGBA"), "PNG", compress_level=1),
        "gif_50mp_noise.gif": lambda: encode(noise(half).convert("P", dither=Image.Dither.NONE), "GIF"),
        "webp_100mp_photo_q80.webp": lambda: encode(photo(still), "WEBP", quality=80, method=0),
        "webp_50mp_noise_q80.webp": lambda: encode(noise(half), "WEBP", quality=80, method=0),
        "webp_25mp_noise_lossless.webp": lambda: encode(
            noise((6124, 4082)), "WEBP", lossless=True, quality=0
        ),
        "webp_100mp_smooth_lossless.webp": lambda: encode(smooth(still), "WEBP", lossless=True, quality=0),
    }


if __name__ == "__main__":  # python -m bench.hostile DIR: writes at_the_limits() into DIR
    for name, data in at_the_limits().items():
        (Path(sys.argv[1]) / name).write_bytes(data)
