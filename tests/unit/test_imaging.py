"""Thumbnails from generated images: sizes, orientation, colour, alpha and odd pixel formats."""

import io
import math
import statistics
from collections.abc import Callable

import pytest
from make_thumbnails import imaging
from PIL import Image, ImageChops, ImageOps, ImageStat

from tests.unit import samples


def thumbnails(data: bytes) -> dict[int, Image.Image]:
    made = imaging.make_thumbnails(data).thumbnails
    images: dict[int, Image.Image] = {}
    for thumbnail in made:
        assert thumbnail.content_type == "image/webp"
        assert thumbnail.data[:4] == b"RIFF"
        assert thumbnail.data[8:12] == b"WEBP"
        image = Image.open(io.BytesIO(thumbnail.data))
        assert image.format == "WEBP"
        assert image.size == (thumbnail.width, thumbnail.height)
        images[thumbnail.size] = image
    assert list(images) == sorted(images, reverse=True)  # largest first
    return images


def is_red(pixel: tuple[int, ...]) -> bool:
    return pixel[0] > 200 and pixel[1] < 60 and pixel[2] < 60


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((1100, 550), {1024: (1024, 512), 512: (512, 256), 256: (256, 128)}),
        ((550, 1100), {1024: (512, 1024), 512: (256, 512), 256: (128, 256)}),
        ((1024, 700), {1024: (1024, 700), 512: (512, 350), 256: (256, 175)}),
        ((512, 512), {512: (512, 512), 256: (256, 256)}),
        ((300, 200), {256: (256, 171)}),
        ((100, 60), {256: (100, 60)}),  # smaller than every size: one variant, not upscaled
        ((3000, 2), {1024: (1024, 1), 512: (512, 1), 256: (256, 1)}),
    ],
)
def test_variants_never_exceed_the_original(
    size: tuple[int, int], expected: dict[int, tuple[int, int]]
) -> None:
    made = thumbnails(samples.jpeg(size))
    assert {name: image.size for name, image in made.items()} == expected


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_comes_out_upright(orientation: int) -> None:
    made = thumbnails(samples.oriented_jpeg(orientation, size=(600, 400)))
    assert {name: image.size for name, image in made.items()} == {512: (512, 341), 256: (256, 171)}
    for image in made.values():
        rgb = image.convert("RGB")
        assert is_red(samples.pixel(rgb, (5, 5)))  # the red block is top left
        assert samples.pixel(rgb, (rgb.width - 5, rgb.height - 5)) >= (240, 240, 240)
        assert samples.pixel(rgb, (rgb.width - 5, 5)) >= (240, 240, 240)


def test_thumbnails_carry_no_metadata() -> None:
    original = samples.encode(
        samples.marked((300, 200)),
        "JPEG",
        exif=samples.exif(1, gps=True),
        xmp=samples.XMP_WITH_LOCATION,
        icc_profile=samples.srgb_profile(),
    )
    for thumbnail in imaging.make_thumbnails(original).thumbnails:
        image = Image.open(io.BytesIO(thumbnail.data))
        assert not image.getexif()
        assert "xmp" not in image.info
        assert "icc_profile" not in image.info
        for marker in (b"EXIF", b"XMP ", b"ICCP", b"GPS", b"<x:xmpmeta", b"Shoebox Camera"):
            assert marker not in thumbnail.data


def test_icc_profile_is_converted_to_srgb() -> None:
    # Pure red in a profile whose red primary is sRGB's green shows as green.
    original = samples.encode(
        Image.new("RGB", (300, 200), (255, 0, 0)), "PNG", icc_profile=samples.swapped_primaries_profile()
    )
    pixel = samples.pixel(thumbnails(original)[256].convert("RGB"), (128, 80))
    assert pixel[1] > 200, pixel
    assert pixel[0] < 60, pixel


def test_srgb_profile_leaves_colours_alone() -> None:
    original = samples.encode(
        Image.new("RGB", (300, 200), (200, 100, 50)), "PNG", icc_profile=samples.srgb_profile()
    )
    pixel = samples.pixel(thumbnails(original)[256].convert("RGB"), (128, 80))
    assert all(abs(a - b) <= 6 for a, b in zip(pixel, (200, 100, 50), strict=True)), pixel


def test_a_broken_icc_profile_is_ignored() -> None:
    original = samples.encode(
        Image.new("RGB", (300, 200), (200, 100, 50)), "PNG", icc_profile=b"not a profile"
    )
    assert thumbnails(original)[256].size == (256, 171)


def test_cmyk_jpeg_becomes_rgb() -> None:
    original = samples.encode(Image.new("CMYK", (300, 200), (0, 255, 255, 0)), "JPEG", quality=95)
    image = thumbnails(original)[256]
    assert image.mode == "RGB"
    assert is_red(samples.pixel(image, (128, 80)))


def test_sixteen_bit_grey_is_scaled_not_clipped() -> None:
    grey = Image.new("I;16", (300, 200), 0x8000)  # half way
    assert samples.png(grey)[24:26] == b"\x10\x00"  # really 16-bit greyscale
    value = samples.grey(thumbnails(samples.png(grey))[256], (128, 80))
    assert 120 <= value <= 136


def test_greyscale_becomes_rgb() -> None:
    image = thumbnails(samples.png(Image.new("L", (300, 200), 77)))[256]
    assert image.mode == "RGB"
    assert samples.pixel(image, (10, 10)) == pytest.approx((77, 77, 77), abs=3)


def test_palette_transparency_is_kept() -> None:
    palette = Image.new("P", (300, 200), 1)
    palette.putpalette([0, 0, 0, 255, 0, 0])
    palette.paste(0, (0, 0, 150, 200))
    original = samples.png(palette, transparency=0)
    image = thumbnails(original)[256]
    assert image.mode == "RGBA"
    assert samples.pixel(image, (10, 80))[3] == 0
    assert samples.pixel(image, (240, 80)) == pytest.approx((255, 0, 0, 255), abs=3)


def test_grey_with_alpha_is_kept() -> None:
    la = Image.new("LA", (300, 200), (200, 255))
    la.paste((200, 0), (0, 0, 150, 200))
    image = thumbnails(samples.png(la))[256]
    assert image.mode == "RGBA"
    assert samples.pixel(image, (10, 80))[3] == 0
    assert samples.pixel(image, (240, 80)) == pytest.approx((200, 200, 200, 255), abs=3)


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_animation_gives_a_still_of_its_first_frame(fmt: str) -> None:
    original = samples.animated(fmt, [(255, 0, 0), (0, 0, 255)], size=(300, 200))
    assert getattr(Image.open(io.BytesIO(original)), "n_frames", 1) == 2
    image = thumbnails(original)[256]
    assert getattr(image, "n_frames", 1) == 1
    assert is_red(samples.pixel(image.convert("RGB"), (128, 80)))


def test_avif_input() -> None:
    original = samples.encode(samples.stored_for(samples.marked((300, 200)), 6), "AVIF", exif=samples.exif(6))
    image = thumbnails(original)[256]
    assert image.size == (256, 171)
    assert is_red(samples.pixel(image.convert("RGB"), (5, 5)))


def test_heic_input() -> None:
    image = thumbnails(samples.heic(samples.marked((300, 200))))[256]
    assert image.size == (256, 171)
    assert is_red(samples.pixel(image.convert("RGB"), (5, 5)))


def test_large_jpeg_is_decoded_scaled_down_and_still_sharp_enough() -> None:
    # 2400 px wide: DCT scaling decodes at 1/2 (1200 px), then resamples to 1024.
    original = samples.encode(samples.marked((2400, 1800)), "JPEG", quality=90)
    image = thumbnails(original)[1024]
    assert image.size == (1024, 768)
    # The red block ends at a third of the width: the edge stays within a few pixels.
    row = [samples.pixel(image, (x, 100)) for x in range(330, 355)]
    reds = sum(is_red(p) for p in row)
    assert 10 <= reds <= 15


def detailed_card(size: tuple[int, int]) -> Image.Image:
    """Detail at every scale, as in photos (a Mandelbrot set's edge, in a different place in
    each channel), made the same way on every machine."""
    edge = Image.effect_mandelbrot(size, (-2.2, -1.25, 0.8, 1.25), 64)
    flipped = (
        edge.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        edge.transpose(Image.Transpose.FLIP_TOP_BOTTOM),
    )
    return Image.merge("RGB", (edge, *flipped))


def psnr(image: Image.Image, reference: Image.Image) -> float:
    rms = ImageStat.Stat(ImageChops.difference(image.convert(reference.mode), reference)).rms
    return 10 * math.log10(255**2 / statistics.fmean(value**2 for value in rms))


def card_jpeg_upright() -> bytes:
    return samples.encode(detailed_card((1920, 1200)), "JPEG", quality=90)


def card_jpeg_turned() -> bytes:
    stored = samples.stored_for(detailed_card((2400, 1600)), 6)
    return samples.encode(stored, "JPEG", quality=90, exif=samples.exif(6))


def card_png() -> bytes:
    return samples.png(detailed_card((1100, 700)))


# Speed must not be bought with quality. The floors are what the pipeline made before it was
# tuned for speed (Hamming at every step, WebP method 1), less 0.5 dB. The 1920 px JPEG is
# decoded in full, the 2400 px one at half size by DCT scaling (and turned); the PNG steps
# are not exact halvings.
@pytest.mark.parametrize(
    ("original", "floors"),
    [
        (card_jpeg_upright, {1024: 35.2, 512: 33.8, 256: 32.2}),
        (card_jpeg_turned, {1024: 34.7, 512: 33.8, 256: 32.3}),
        (card_png, {1024: 30.4, 512: 32.2, 256: 31.9}),
    ],
)
def test_thumbnails_stay_close_to_lanczos_from_the_full_image(
    original: Callable[[], bytes], floors: dict[int, float]
) -> None:
    data = original()
    with Image.open(io.BytesIO(data)) as im:
        full = ImageOps.exif_transpose(im.convert("RGB"))
    made = thumbnails(data)
    assert set(made) == set(floors)
    for size, image in made.items():
        reference = full.resize(image.size, Image.Resampling.LANCZOS)
        assert psnr(image, reference) >= floors[size], size
