"""Thumbnails from generated images: sizes, orientation, colour, alpha and odd pixel formats."""

import io
import math
import random
import statistics
import struct
from collections.abc import Callable

import pytest
from make_thumbnails import imaging
from PIL import ExifTags, Image, ImageChops, ImageOps, ImageStat
from validate_upload import rules

from bench import hostile
from shoebox import gif
from shoebox.rejections import Rejection, RejectionCode
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


# --- the one full decode: what does not decode cleanly is refused -----------------------------


def undecodable(data: bytes) -> imaging.Undecodable:
    with pytest.raises(imaging.Undecodable) as raised:
        imaging.make_thumbnails(data)
    assert raised.value.code == RejectionCode.CORRUPT_IMAGE
    assert raised.value.message
    return raised.value


@pytest.mark.parametrize("progressive", [False, True], ids=["baseline", "progressive"])
@pytest.mark.parametrize("at", [0.1, 0.3, 0.5, 0.7, 0.9, 0.97, 0.995])
def test_a_jpeg_cut_short_with_an_end_marker_appended_is_corrupt(progressive: bool, at: float) -> None:
    undecodable(hostile.truncated_jpeg(progressive=progressive, at=at))


def test_pillow_alone_takes_a_jpeg_cut_in_half_for_a_whole_one() -> None:
    # Why JPEGs are not decoded by Pillow: libjpeg fills the missing half with grey and only
    # warns, and Pillow's decoder ignores its warnings.
    with Image.open(io.BytesIO(hostile.truncated_jpeg(progressive=False, at=0.5))) as naive:
        naive.load()
        assert samples.pixel(naive, (naive.width - 1, naive.height - 1)) == (128, 128, 128)


@pytest.mark.parametrize("progressive", [False, True], ids=["baseline", "progressive"])
def test_a_whole_photo_like_jpeg_is_not_taken_for_a_cut_one(progressive: bool) -> None:
    data = samples.encode(hostile.photo((800, 600)), "JPEG", quality=90, progressive=progressive)
    assert [t.size for t in imaging.make_thumbnails(data).thumbnails] == [512, 256]


def test_a_jpeg_with_damaged_image_data_is_corrupt() -> None:
    # 64 bytes of one bits (0xFF stuffed as 0xFF 0x00) in the middle of the entropy-coded data:
    # no Huffman code is 16 ones long, so libjpeg can only warn ("bad Huffman code") and go on.
    data = samples.encode(hostile.photo((400, 300)), "JPEG", quality=90)
    middle = (data.index(b"\xff\xda") + len(data)) // 2
    undecodable(data[:middle] + b"\xff\x00" * 32 + data[middle + 64 :])


def _frames_with_one_cut_short(fmt: str, frames: int, damaged: int) -> bytes:
    """An animation of `frames` different frames whose frame `damaged` has only half of its
    compressed data, the container around it still well-formed."""
    pictures = [
        hostile.photo((48, 32), seed=i).point(lambda v, i=i: (v + 13 * i) % 256) for i in range(frames)
    ]
    data = samples.encode(pictures[0], fmt, save_all=True, append_images=pictures[1:], duration=40)
    return {"GIF": _gif_with_frame_cut_short, "PNG": _apng_with_frame_cut_short}[fmt](data, damaged)


def _gif_with_frame_cut_short(data: bytes, damaged: int) -> bytes:
    """Frame `damaged` (from 0) keeps half of its LZW sub-blocks, properly terminated."""
    pos = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
    frame = -1
    while data[pos] != 0x3B:
        if data[pos] == 0x21:
            pos += 2
        else:
            frame += 1
            pos += 10 + ((3 << ((data[pos + 9] & 7) + 1)) if data[pos + 9] & 0x80 else 0) + 1
        start, blocks = pos, []
        while data[pos]:
            blocks.append(data[pos : pos + 1 + data[pos]])
            pos += 1 + data[pos]
        pos += 1
        if frame == damaged:
            return data[:start] + b"".join(blocks[: len(blocks) // 2]) + data[pos - 1 :]
    raise AssertionError("no such frame")


def _apng_with_frame_cut_short(data: bytes, damaged: int) -> bytes:
    """Frame `damaged` (from 1: the first is IDAT) keeps half of its fdAT data, re-checksummed."""
    pos, frame = 8, 0
    while True:
        length, kind = int.from_bytes(data[pos : pos + 4]), data[pos + 4 : pos + 8]
        if kind == b"fdAT":
            frame += 1
            if frame == damaged:
                body = data[pos + 8 : pos + 8 + length]
                return (
                    data[:pos]
                    + samples.png_chunk(b"fdAT", body[: 4 + length // 2])
                    + data[pos + 12 + length :]
                )
        pos += 12 + length


@pytest.mark.parametrize("fmt", ["GIF", "PNG"])
def test_damage_in_frame_37_of_40_is_found(fmt: str) -> None:
    data = _frames_with_one_cut_short(fmt, 40, damaged=37)
    with Image.open(io.BytesIO(data)) as first:
        first.load()  # the first frame alone is fine
    undecodable(data)


def _gif_images(data: bytes) -> list[tuple[int, int, int, int]]:
    return [block for block in gif.blocks(data, gif.screen(data)[2]) if block[0] == gif.IMAGE]


def _gif_frame_data(data: bytes, frame: int) -> tuple[int, int]:
    """Where frame `frame`'s (from 0) LZW data sub-blocks start and end (after their 0)."""
    _, _, end, body = _gif_images(data)[frame]
    return body, end


def _lzw_9_bit(codes: list[int]) -> bytes:
    """LZW codes of 9 bits (minimum code size 8), packed as GIF packs them, as sub-blocks."""
    bits = sum(code << (9 * i) for i, code in enumerate(codes))
    packed = bits.to_bytes(-(-9 * len(codes) // 8), "little")
    return bytes((len(packed),)) + packed + b"\x00"


def _gif_of(frames: int, size: tuple[int, int] = (48, 32)) -> bytes:
    pictures = [hostile.photo(size, seed=i).point(lambda v, i=i: (v + 13 * i) % 256) for i in range(frames)]
    return samples.encode(pictures[0], "GIF", save_all=True, append_images=pictures[1:], duration=40)


def test_garbage_lzw_codes_in_a_middle_gif_frame_are_corrupt() -> None:
    data = _gif_of(40)
    body, _ = _gif_frame_data(data, 20)
    # All ones: the first code after the clear code names a string the table does not have.
    damaged = data[: body + 1] + b"\xff" * data[body] + data[body + 1 + data[body] :]
    undecodable(damaged)


def test_a_gif_frame_whose_lzw_data_ends_before_its_last_pixel_is_corrupt() -> None:
    data = _gif_of(3)
    body, end = _gif_frame_data(data, 2)
    assert data[body - 1] == 8  # minimum code size 8: codes of 9 bits until the table grows
    # clear, one pixel of colour 0, end: a well-formed LZW stream that codes one pixel of 1536.
    undecodable(data[:body] + _lzw_9_bit([256, 0, 257]) + data[end:])


def test_a_gif_cut_inside_its_last_frame_is_corrupt() -> None:
    data = _gif_of(8)
    body, end = _gif_frame_data(data, 7)
    undecodable(data[: (body + end) // 2])  # no end to its sub-blocks, no trailer


def test_a_gif_frame_of_no_pixels_is_corrupt() -> None:
    data = bytearray(_gif_of(3))
    start = _gif_images(bytes(data))[1][1]
    data[start + 5 : start + 9] = bytes(4)  # width and height 0
    undecodable(bytes(data))


@pytest.mark.parametrize("interlace", [True, False])
def test_every_frame_of_a_gif_pillow_decodes_is_decoded(interlace: bool) -> None:
    # Frames with their own palettes, on offsets, interlaced or not, some with transparency.
    pictures = [Image.new("RGB", (64, 48), (40 * i, 255 - 40 * i, 7 * i)) for i in range(6)]
    for i, picture in enumerate(pictures):
        picture.paste((255, 255, 255), (8 * i, 4 * i, 8 * i + 16, 4 * i + 16))
    data = samples.encode(
        pictures[0], "GIF", save_all=True, append_images=pictures[1:], interlace=interlace, transparency=0
    )
    with Image.open(io.BytesIO(data)) as reference:
        frames = reference.n_frames
    assert imaging.make_thumbnails(data).frames == frames == 6


def _gif_first_frame_moved(data: bytes, left: int, top: int) -> bytes:
    start = _gif_images(data)[0][1]
    return data[: start + 1] + struct.pack("<HH", left, top) + data[start + 5 :]


def _gif_global_table_made_local(data: bytes) -> bytes:
    """The same GIF with its global colour table moved to its first frame."""
    table_end = gif.screen(data)[2]
    start = _gif_images(data)[0][1]
    screen = data[:10] + bytes((data[10] & 0x7F,)) + data[11:13]
    flags = bytes((data[start + 9] | 0x80 | (data[10] & 0x07),))
    return screen + data[table_end : start + 9] + flags + data[13:table_end] + data[start + 10 :]


def _gif_global_table_replaced(data: bytes, table: bytes | None) -> bytes:
    """The same GIF with another global colour table of the same size (None: without one)."""
    table_end = gif.screen(data)[2]
    if table is None:
        return data[:10] + bytes((data[10] & 0x7F,)) + data[11:13] + data[table_end:]
    return data[:13] + table[: table_end - 13] + data[table_end:]


def _gif_samples() -> dict[str, bytes]:
    pictures = [Image.new("RGB", (40, 30), (40 * i, 255 - 40 * i, 7 * i)) for i in range(3)]
    for i, picture in enumerate(pictures):
        picture.paste((250, 250, 250), (4 * i, 2 * i, 4 * i + 16, 2 * i + 16))
    animation = samples.encode(pictures[0], "GIF", save_all=True, append_images=pictures[1:])
    grey_ramp = bytes(i // 3 for i in range(768))
    faded = [picture.convert("RGBA") for picture in pictures]
    for picture in faded:
        picture.paste((0, 0, 0, 0), (20, 10, 40, 30))
    return {
        "global table": animation,
        "interlaced": samples.encode(pictures[0], "GIF", interlace=True),
        "not interlaced": samples.encode(pictures[0], "GIF", interlace=False),
        "transparent": samples.encode(faded[0], "GIF", save_all=True, append_images=faded[1:]),
        "grey table, transparent": _gif_global_table_replaced(
            samples.encode(faded[0], "GIF", save_all=True, append_images=faded[1:]), grey_ramp
        ),
        "grey table": _gif_global_table_replaced(animation, grey_ramp),
        "no table": _gif_global_table_replaced(animation, None),
        "two colours": samples.encode(Image.new("1", (40, 30), 1).convert("P"), "GIF"),
        "local table only": _gif_global_table_made_local(animation),
        "first frame off the screen": _gif_first_frame_moved(animation, 7, 5),
        "transparent, off the screen": _gif_first_frame_moved(
            samples.encode(faded[0], "GIF", save_all=True, append_images=faded[1:]), 7, 5
        ),
    }


@pytest.mark.parametrize("name", list(_gif_samples()))
def test_a_gifs_first_frame_is_decoded_as_pillow_shows_it(name: str) -> None:
    data = _gif_samples()[name]
    with Image.open(io.BytesIO(data)) as reference:
        expected = reference.convert("RGBA" if reference.has_transparency_data else "RGB")
        frames = getattr(reference, "n_frames", 1)
    rendition = imaging.make_thumbnails(data)  # <= 256 px: the preview is the decoded frame
    assert rendition.preview.mode == expected.mode
    assert rendition.preview.size == expected.size
    assert rendition.preview.tobytes() == expected.tobytes()
    assert rendition.frames == frames


def test_a_gif_with_a_malformed_graphic_control_extension_is_corrupt() -> None:
    data = _gif_samples()["global table"]
    start = data.index(b"\x21\xf9\x04")
    undecodable(data[:start] + b"\x21\xf9\x02" + data[start + 3 : start + 5] + data[start + 7 :])


# Still WebPs are decoded by libwebp through libvips, scaled while decoded (shrink-on-load).


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_a_still_webp_comes_out_upright_and_dated(orientation: int) -> None:
    stored = samples.stored_for(samples.marked((600, 400)), orientation)
    data = samples.encode(stored, "WEBP", quality=95, exif=samples.exif(orientation))
    rendition = imaging.make_thumbnails(data)
    assert [(t.size, t.width, t.height) for t in rendition.thumbnails] == [(512, 512, 341), (256, 256, 171)]
    assert is_red(samples.pixel(rendition.preview, (5, 5)))  # the red block is top left
    assert samples.pixel(rendition.preview, (250, 165)) >= (235, 235, 235)
    assert rendition.taken_at == "2024-06-01T12:00:00"


def test_a_still_webps_colour_profile_is_applied() -> None:
    original = samples.encode(
        Image.new("RGB", (300, 200), (255, 0, 0)), "WEBP", icc_profile=samples.swapped_primaries_profile()
    )
    pixel = samples.pixel(imaging.make_thumbnails(original).preview, (128, 80))
    assert pixel[1] > 200, pixel
    assert pixel[0] < 60, pixel


def test_a_still_webp_keeps_its_alpha() -> None:
    picture = Image.new("RGBA", (1200, 600), (0, 0, 255, 0))
    picture.paste((0, 0, 255, 255), (0, 0, 600, 600))
    rendition = imaging.make_thumbnails(samples.encode(picture, "WEBP", lossless=True))
    assert rendition.preview.mode == "RGBA"
    assert samples.pixel(rendition.preview, (10, 10))[3] == 255
    assert samples.pixel(rendition.preview, (250, 100))[3] == 0


@pytest.mark.parametrize("lossless", [False, True], ids=["lossy", "lossless"])
def test_a_still_webp_with_damaged_or_missing_image_data_is_corrupt(lossless: bool) -> None:
    data = samples.encode(hostile.photo((800, 600)), "WEBP", lossless=lossless, quality=90)
    kept = (len(data) - 20) // 2  # the bitstream cut in half, the RIFF and chunk sizes made to fit
    cut = data[12:16] + kept.to_bytes(4, "little") + data[20 : 20 + kept] + b"\x00" * (kept & 1)
    undecodable(b"RIFF" + (4 + len(cut)).to_bytes(4, "little") + b"WEBP" + cut)


def test_a_webp_animation_with_a_frame_cut_short_is_corrupt() -> None:
    pictures = [hostile.photo((48, 32), seed=i) for i in range(8)]
    data = samples.encode(pictures[0], "WEBP", save_all=True, append_images=pictures[1:], lossless=True)
    # The last frame (ANMF: a 16-byte header, then its VP8L chunk) keeps half its bitstream.
    frame = data.rindex(b"ANMF")
    bitstream = frame + 8 + 16
    kept = int.from_bytes(data[bitstream + 4 : bitstream + 8], "little") // 2
    chunk = (
        data[bitstream : bitstream + 4]
        + kept.to_bytes(4, "little")
        + data[bitstream + 8 : bitstream + 8 + kept]
    )
    chunk += b"\x00" * (kept & 1)
    anmf = b"ANMF" + (16 + len(chunk)).to_bytes(4, "little") + data[frame + 8 : frame + 24] + chunk
    body = data[12:frame] + anmf
    damaged = b"RIFF" + (4 + len(body)).to_bytes(4, "little") + b"WEBP" + body
    with Image.open(io.BytesIO(damaged)) as first:
        first.load()  # the first frame alone is fine
    undecodable(damaged)


# --- the rendition ------------------------------------------------------------------------------


def test_the_rendition_holds_the_smallest_variant_upright_for_a_placeholder() -> None:
    rendition = imaging.make_thumbnails(samples.oriented_jpeg(6, size=(600, 400)))
    smallest = rendition.thumbnails[-1]
    assert rendition.preview.size == (smallest.width, smallest.height) == (256, 171)
    assert rendition.preview.mode == "RGB"
    assert is_red(samples.pixel(rendition.preview, (5, 5)))  # upright: the red block top left
    assert rendition.frames == 1


def test_the_rendition_counts_every_frame_decoded() -> None:
    data = samples.animated("GIF", [(255, 0, 0), (0, 255, 0), (0, 0, 255)], size=(300, 200))
    rendition = imaging.make_thumbnails(data)
    assert rendition.frames == 3
    assert is_red(samples.pixel(rendition.preview, (10, 10)))  # still the first frame


def test_a_greyscale_jpeg_is_decoded_as_grey() -> None:
    image = thumbnails(samples.encode(Image.new("L", (300, 200), 90), "JPEG", quality=95))[256]
    assert samples.pixel(image.convert("RGB"), (10, 10)) == pytest.approx((90, 90, 90), abs=3)


# --- bad input never crashes a step -----------------------------------------------------------


def _two_frames(fmt: str) -> bytes:
    return samples.animated(fmt, [(1, 2, 3), (200, 5, 6)])


UNDAMAGED = {
    "jpeg": (
        "image/jpeg",
        lambda: samples.jpeg(exif=samples.exif(6, gps=True), icc_profile=samples.srgb_profile()),
    ),
    "progressive": ("image/jpeg", lambda: samples.encode(hostile.photo((64, 48)), "JPEG", progressive=True)),
    "png": ("image/png", lambda: samples.png(samples.marked(), icc_profile=samples.srgb_profile())),
    "apng": ("image/png", lambda: _two_frames("PNG")),
    "gif": ("image/gif", lambda: samples.gif_with_extras(_two_frames("GIF"))),
    "webp": ("image/webp", lambda: samples.encode(samples.marked(), "WEBP", exif=samples.exif(8))),
    "animated-webp": ("image/webp", lambda: _two_frames("WEBP")),
}


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow's on corrupt EXIF, which is dropped
@pytest.mark.parametrize(("content_type", "original"), UNDAMAGED.values(), ids=UNDAMAGED.keys())
def test_damaged_bytes_are_accepted_or_rejected_never_a_crash(
    content_type: str, original: Callable[[], bytes]
) -> None:
    # Both steps, as the pipeline runs them, on 150 random cuts, bit flips and insertions: the
    # only exception either may raise is a Rejection (a crash would retry and end FAILED).
    data, rng = original(), random.Random(content_type)
    limits = rules.Limits(max_bytes=25 * 1024 * 1024)
    outcomes = set()
    for _ in range(150):
        damaged = bytearray(data)
        at = rng.randrange(len(damaged))
        match rng.choice(["cut", "cut, end marker", "flip", "insert"]):
            case "cut":
                damaged = damaged[:at]
            case "cut, end marker":
                damaged = damaged[:at] + b"\xff\xd9"
            case "flip":
                damaged[at] ^= 1 << rng.randrange(8)
            case _:
                damaged[at:at] = rng.randbytes(rng.randrange(1, 8))
        try:
            clean = rules.validate(bytes(damaged), content_type, len(damaged), limits)
            imaging.make_thumbnails(clean.data)
            outcomes.add("accepted")
        except Rejection as rejection:
            outcomes.add(rejection.code)
    assert RejectionCode.CORRUPT_IMAGE in outcomes


@pytest.mark.parametrize(
    ("original", "offset", "expected"),
    [
        ("2024:06:01 12:00:00", None, "2024-06-01T12:00:00"),
        ("2024:06:01 12:00:00", "+02:00", "2024-06-01T12:00:00+02:00"),
        ("2024:06:01 12:00:00", "bogus", "2024-06-01T12:00:00"),
        ("0000:00:00 00:00:00", None, None),  # a camera whose clock was never set
        ("2024:02:30 12:00:00", None, None),  # no such day
        ("yesterday", None, None),
        (None, None, None),
    ],
)
def test_taken_at_is_the_exif_date_time_original(
    original: str | None, offset: str | None, expected: str | None
) -> None:
    data = Image.Exif()
    details: dict[int, str] = {}
    if original is not None:
        details[ExifTags.Base.DateTimeOriginal] = original
    if offset is not None:
        details[ExifTags.Base.OffsetTimeOriginal] = offset
    data[ExifTags.IFD.Exif] = details
    picture = Image.new("RGB", (40, 30), (10, 20, 30))
    rendition = imaging.make_thumbnails(samples.encode(picture, "JPEG", exif=data))
    assert rendition.taken_at == expected
