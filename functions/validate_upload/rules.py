"""Upload rules: whether untrusted bytes are an image Shoebox accepts, and the clean original to store.

What the clean original is, per format:

* JPEG, PNG, GIF and WebP are rewritten at the container level: the compressed image data
  is kept bit for bit (no generation loss, and fast: a linear walk), and every block around
  it is dropped except colour (ICC, PNG colour chunks, Adobe APP14) and a whitelisted EXIF
  (orientation, date, camera and exposure settings; no GPS, MakerNote, embedded thumbnail
  or free text). Comments, XMP, IPTC, MPF and anything after the end marker (motion-photo
  videos, appended ZIPs, HTML) do not survive. The walk doubles as a structural check:
  truncation and bad PNG checksums are CORRUPT_IMAGE.
* A JPEG's pixels are not rotated: that would mean re-encoding. Its EXIF Orientation is kept
  instead (browsers honour it), thumbnails are transposed, and the reported width and
  height are upright.
* HEIF/HEIC cannot be rewritten (its metadata sits in items addressed by offsets) nor
  re-encoded here (pi-heif only decodes), and few browsers show it: it is stored as JPEG
  (PNG if it has alpha), upright, keeping its ICC profile. CleanImage says what is stored.
* AVIF has the same container, so it is re-encoded as AVIF, upright, keeping its ICC profile.
  Animated AVIF is refused as UNSUPPORTED_FORMAT rather than silently flattened.

Every stored object is then decoded in full (every frame) before it is accepted.
"""

import hashlib
import io
import re
import struct
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum

import pi_heif
from PIL import ExifTags, Image, ImageFile, ImageOps

from shoebox import media_types

# HEIC/HEIF decoding comes from pi-heif; AVIF is native in Pillow.
pi_heif.register_heif_opener()


class RejectionCode(StrEnum):
    NOT_AN_IMAGE = "NOT_AN_IMAGE"
    UNSUPPORTED_FORMAT = "UNSUPPORTED_FORMAT"
    TYPE_MISMATCH = "TYPE_MISMATCH"
    TOO_LARGE = "TOO_LARGE"
    TOO_MANY_PIXELS = "TOO_MANY_PIXELS"
    TOO_MANY_FRAMES = "TOO_MANY_FRAMES"
    CORRUPT_IMAGE = "CORRUPT_IMAGE"
    CHECKSUM_MISMATCH = "CHECKSUM_MISMATCH"


class Rejection(Exception):
    """The upload broke a rule; `code` says which one."""

    def __init__(self, code: RejectionCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_pixels: int = 100_000_000  # per frame
    max_frames: int = 1000
    # Over all frames: a small GIF can ask for a thousand frames on a huge canvas, each
    # composited in full when decoded. ~1 Gpx decodes in seconds.
    max_total_pixels: int = 1_000_000_000


@dataclass(frozen=True)
class CleanImage:
    data: bytes  # the clean original, to be stored
    content_type: str  # of `data`
    format: str  # of `data`: JPEG, PNG, WEBP, GIF or AVIF
    width: int  # upright, i.e. after EXIF orientation
    height: int
    frames: int
    sha256: str  # hex digest of `data`


# Declared content type -> the format the bytes must be.
ACCEPTED_TYPES = {content_type: media.format for content_type, media in media_types.ACCEPTED.items()}
_STORED_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "AVIF": "image/avif",
}

# What Pillow and its plugins raise on bytes they cannot make sense of. DecompressionBombError
# is none of these (it is a plain Exception) and is handled on its own.
_UNDECODABLE = (
    *(OSError, SyntaxError, ValueError, EOFError, RuntimeError),
    *(struct.error, zlib.error, IndexError, KeyError),
)


def check_size(size: int, declared_size: int, limits: Limits) -> None:
    if size == 0:
        raise Rejection(RejectionCode.NOT_AN_IMAGE, "the upload is empty")
    if size > limits.max_bytes:
        raise Rejection(RejectionCode.TOO_LARGE, f"{size} bytes is over the limit of {limits.max_bytes}")
    if size > declared_size:
        raise Rejection(RejectionCode.TOO_LARGE, f"{size} bytes is more than the {declared_size} declared")


def validate(data: bytes, declared_content_type: str, declared_size: int, limits: Limits) -> CleanImage:
    """The clean original of an acceptable upload; raises Rejection for anything else."""
    check_size(len(data), declared_size, limits)
    detected = sniff(data)
    declared = declared_content_type.split(";")[0].strip().lower()
    if ACCEPTED_TYPES.get(declared) != detected:
        raise Rejection(
            RejectionCode.TYPE_MISMATCH, f"declared {declared_content_type!r} but the bytes are {detected}"
        )
    with _pillow_errors():
        clean, stored_format = _clean(data, detected, limits)
        width, height, frames = _decode_fully(clean, stored_format, limits)
    return CleanImage(
        data=clean,
        content_type=_STORED_TYPES[stored_format],
        format=stored_format,
        width=width,
        height=height,
        frames=frames,
        sha256=hashlib.sha256(clean).hexdigest(),
    )


# --- what the bytes are ------------------------------------------------------------------

_ACCEPTED_MAGIC = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
)
# Raster images people may try, which Shoebox does not take: UNSUPPORTED_FORMAT, not NOT_AN_IMAGE.
_OTHER_IMAGE_MAGIC = (
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"II+\x00", "BigTIFF"),
    (b"MM\x00+", "BigTIFF"),
    (b"8BPS", "PSD"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"\x00\x00\x02\x00", "CUR"),
    (b"icns", "ICNS"),
    (b"\xff\x0a", "JPEG XL"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "JPEG XL"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"),
    (b"\xffO\xffQ", "JPEG 2000"),
    (b"qoif", "QOI"),
    (b"v/1\x01", "OpenEXR"),
    (b"#?RADIANCE", "Radiance HDR"),
    (b"DDS ", "DDS"),
    (b"gimp xcf", "XCF"),
)
_BMP_HEADER_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}
_AVIF_BRANDS = {b"avif", b"avis"}
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"}
_GENERIC_HEIF_BRANDS = {b"mif1", b"msf1", b"mif2", b"miaf"}
_RAW_BRANDS = {b"crx "}  # Canon CR3


def sniff(data: bytes) -> str:
    """The accepted format the bytes are (JPEG, PNG, GIF, WEBP, HEIF, AVIF), by magic bytes alone."""
    for magic, name in _ACCEPTED_MAGIC:
        if data.startswith(magic):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[4:8] == b"ftyp":
        return _iso_bmff_format(data)
    other = _other_image_format(data)
    if other:
        raise Rejection(RejectionCode.UNSUPPORTED_FORMAT, f"{other} images are not accepted")
    raise Rejection(RejectionCode.NOT_AN_IMAGE, "the bytes are not an image")


def _iso_bmff_format(data: bytes) -> str:
    box_size = int.from_bytes(data[:4])
    major = data[8:12]
    compatible = {data[i : i + 4] for i in range(16, min(box_size, len(data), 1024) - 3, 4)}
    for brands in ({major}, compatible):  # the major brand decides when it can
        if brands & _AVIF_BRANDS:
            return "AVIF"
        if brands & _HEIF_BRANDS:
            return "HEIF"
    brands = {major} | compatible
    if brands & _GENERIC_HEIF_BRANDS:
        return "HEIF"
    if brands & _RAW_BRANDS:
        raise Rejection(RejectionCode.UNSUPPORTED_FORMAT, "camera raw images are not accepted")
    raise Rejection(RejectionCode.NOT_AN_IMAGE, "the bytes are a video or other media file, not an image")


def _other_image_format(data: bytes) -> str | None:
    for magic, name in _OTHER_IMAGE_MAGIC:
        if data.startswith(magic):
            return name
    if data[:2] == b"BM" and len(data) >= 18 and int.from_bytes(data[14:18], "little") in _BMP_HEADER_SIZES:
        return "BMP"
    # SVG is an image but not a raster one; it can carry scripts, so it is never accepted.
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<svg") or (head.startswith((b"<?xml", b"<!doctype svg")) and b"<svg" in head):
        return "SVG"
    return None


# --- the clean original ----------------------------------------------------------------------


def _clean(data: bytes, fmt: str, limits: Limits) -> tuple[bytes, str]:
    """The bytes to store and their format."""
    match fmt:
        case "JPEG":
            return _clean_jpeg(data), fmt
        case "PNG":
            return _clean_png(data, limits), fmt
        case "GIF":
            return _clean_gif(data, limits), fmt
        case "WEBP":
            return _clean_webp(data, limits), fmt
        case _:
            return _transcoded(data, fmt, limits)


def _corrupt(message: str) -> Rejection:
    return Rejection(RejectionCode.CORRUPT_IMAGE, message)


# JPEG. Segments kept as they are: frame headers, tables, restart interval, scans.
_JPEG_KEPT = {*range(0xC0, 0xD0)} - {0xC8} | {0xDB, 0xDD, 0xDC}  # SOFn, DHT, DAC, DQT, DRI, DNL
_JPEG_STANDALONE = {0x00, 0x01, *range(0xD0, 0xD8)}  # no length; out of place between segments
_SOI, _SOS, _EOI, _APP0, _APP1, _APP2, _APP14 = 0xD8, 0xDA, 0xD9, 0xE0, 0xE1, 0xE2, 0xEE
# Fill bytes, then a marker. Bytes before it are dropped (libjpeg skips them too).
_MARKER = re.compile(rb"\xff+([^\xff])")
# Inside a scan, 0xFF is followed by 0x00 (a stuffed byte) or RSTn; anything else is a marker.
_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def _clean_jpeg(data: bytes) -> bytes:
    # The clean original is the pieces kept, joined once: the scan data (nearly all of the
    # bytes) goes in as a view, not a copy. Slicing and concatenating copied a 3 MB photo's
    # scans twice more, ~4 ms with the page faults of the fresh memory.
    view = memoryview(data)
    out: list[bytes | memoryview] = [b"\xff\xd8"]
    pos = 2
    exif_seen = False
    while found := _MARKER.search(data, pos):
        at = found.start(1)  # the marker byte; its segment's length follows
        marker = data[at]
        if marker == _EOI:
            out.append(b"\xff\xd9")
            return b"".join(out)  # anything after EOI is a trailer: dropped
        if marker in _JPEG_STANDALONE:
            pos = at + 1
            continue
        end = at + 1 + int.from_bytes(data[at + 1 : at + 3])
        if marker == _SOI or end > len(data) or end < at + 3:
            raise _corrupt("the JPEG is truncated or malformed")
        segment = b"\xff" + data[at:end]
        payload = segment[4:]
        if marker == _SOS:
            scan_end = _SCAN_END.search(data, end)
            if scan_end is None:
                break
            out += (b"\xff", view[at : scan_end.start()])
            end = scan_end.start()
        elif marker in _JPEG_KEPT:
            out.append(segment)
        elif marker == _APP1 and not exif_seen and payload.startswith(b"Exif\x00\x00"):
            exif_seen = True
            exif = _clean_exif(payload, keep_orientation=True)
            if exif:
                out.append(_jpeg_segment(_APP1, exif))
        elif marker == _APP2 and payload.startswith(b"ICC_PROFILE\x00"):
            out.append(segment)
        elif marker == _APP0 and payload.startswith(b"JFIF\x00") and len(payload) >= 14:
            out.append(_jpeg_segment(_APP0, payload[:12] + b"\x00\x00"))  # without its thumbnail
        elif marker == _APP14 and payload.startswith(b"Adobe") and len(payload) >= 12:
            out.append(_jpeg_segment(_APP14, payload[:12]))  # colour transform: CMYK/YCCK need it
        pos = end
    raise _corrupt("the JPEG ends before its end-of-image marker")


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + (len(payload) + 2).to_bytes(2) + payload


# PNG. Chunks kept as they are: the image, colour, and animation; text, time, eXIf (rebuilt
# below) and private chunks go.
_PNG_KEPT = {
    *(b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS"),
    *(b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB", b"cICP", b"mDCV", b"cLLI"),
    *(b"bKGD", b"pHYs", b"acTL", b"fcTL", b"fdAT"),
}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _clean_png(data: bytes, limits: Limits) -> bytes:
    view = memoryview(data)  # chunks are checked and kept as views, copied once by the join
    out: list[bytes | memoryview] = [_PNG_SIGNATURE]
    pos = len(_PNG_SIGNATURE)
    while True:
        if pos + 12 > len(data):
            raise _corrupt("the PNG ends before its IEND chunk")
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 12 + length
        if end > len(data):
            raise _corrupt(f"the PNG is truncated inside a {kind!r} chunk")
        body = view[pos + 8 : end - 4]
        if zlib.crc32(body, zlib.crc32(kind)) != int.from_bytes(data[end - 4 : end]):
            raise _corrupt(f"bad checksum in the PNG's {kind.decode('latin-1')} chunk")
        if kind == b"acTL":
            _check_frames(int.from_bytes(body[:4]), limits)
        if kind in _PNG_KEPT:
            out.append(view[pos:end])
        elif kind == b"eXIf":
            exif = _clean_exif(bytes(body), keep_orientation=True).removeprefix(b"Exif\x00\x00")
            if exif:
                out.append(_png_chunk(b"eXIf", exif))
        if kind == b"IEND":
            return b"".join(out)
        pos = end


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I4s", len(body), kind) + body + zlib.crc32(body, zlib.crc32(kind)).to_bytes(4)


# GIF. Kept: the header, colour tables, images and their graphic control; of the application
# extensions only the loop count. Comments, plain text and XMP go.
_LOOP_EXTENSIONS = (b"NETSCAPE2.0", b"ANIMEXTS1.0")


def _clean_gif(data: bytes, limits: Limits) -> bytes:
    view = memoryview(data)  # images are kept as views, copied once by the join
    pos = 13 + _color_table_size(data[10:11])
    out: list[bytes | memoryview] = [data[:pos]]
    frames = 0
    while pos < len(data):
        block = data[pos]
        if block == 0x3B:  # trailer
            break
        if block == 0x2C:  # image: descriptor, local colour table, LZW code size, data
            frames += 1
            _check_frames(frames, limits)
            start = pos
            pos += 10 + _color_table_size(data[pos + 9 : pos + 10]) + 1
            pos = _skip_sub_blocks(data, pos)
            out.append(view[start:pos])
        elif block == 0x21:  # extension: label, then sub-blocks
            start, label = pos, data[pos + 1 : pos + 2]
            pos = _skip_sub_blocks(data, pos + 2)
            if label == b"\xf9" or (label == b"\xff" and data[start + 3 : start + 14] in _LOOP_EXTENSIONS):
                out.append(data[start:pos])
        else:
            raise _corrupt(f"unexpected byte 0x{block:02x} in the GIF's block stream")
    if frames == 0:
        raise _corrupt("the GIF has no image")
    out.append(b"\x3b")  # anything after the trailer is dropped; a missing one is tolerated
    return b"".join(out)


def _color_table_size(flags: bytes) -> int:
    if not flags:
        raise _corrupt("the GIF is truncated")
    return 3 << ((flags[0] & 0x07) + 1) if flags[0] & 0x80 else 0


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    """The position after a run of data sub-blocks (each length-prefixed, ended by a 0)."""
    while True:
        if pos >= len(data):
            raise _corrupt("the GIF is truncated")
        size = data[pos]
        pos += 1 + size
        if size == 0:
            return pos


# WebP. Kept: the image (still or animated, with alpha) and its ICC profile.
_WEBP_KEPT = {b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP"}
_VP8X_EXIF, _VP8X_XMP = 0x08, 0x04


def _clean_webp(data: bytes, limits: Limits) -> bytes:
    end = 8 + int.from_bytes(data[4:8], "little")  # anything after the RIFF is dropped
    if end > len(data):
        raise _corrupt("the WebP is truncated")
    view = memoryview(data)  # chunks are kept as views, copied once by the join
    chunks: list[bytes | bytearray | memoryview] = []
    vp8x = None  # the extended format's header, when the file has one: its flags are rewritten
    exif = b""
    frames = 0
    pos = 12
    while pos < end:
        if pos + 8 > end:
            raise _corrupt("the WebP is truncated")
        kind, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        stop = pos + 8 + size
        if stop > end:
            raise _corrupt(f"the WebP is truncated inside a {kind!r} chunk")
        if kind == b"ANMF":
            frames += 1
            _check_frames(frames, limits)
        if kind == b"VP8X" and not chunks:
            vp8x = bytearray(data[pos:stop])
            chunks.append(vp8x)
        elif kind in _WEBP_KEPT:
            chunks += (view[pos:stop], b"\x00" * (size & 1))
        elif kind == b"EXIF":
            exif = _clean_exif(data[pos + 8 : stop], keep_orientation=True).removeprefix(b"Exif\x00\x00")
        pos = stop + (size & 1)
    if vp8x is not None:  # the extended format: flags say what follows
        vp8x[8] = vp8x[8] & ~(_VP8X_EXIF | _VP8X_XMP) | (_VP8X_EXIF if exif else 0)
        if exif:
            chunks += (b"EXIF", len(exif).to_bytes(4, "little"), exif, b"\x00" * (len(exif) & 1))
    riff_size = 4 + sum(len(chunk) for chunk in chunks)
    return b"".join((b"RIFF", riff_size.to_bytes(4, "little"), b"WEBP", *chunks))


# HEIF and AVIF: decoded and encoded again, upright.
HEIF_JPEG_QUALITY = 92
AVIF_QUALITY = 85
AVIF_SPEED = 8  # measured: ~4x faster than libavif's default 6, files ~30% larger


def _transcoded(data: bytes, fmt: str, limits: Limits) -> tuple[bytes, str]:
    with _opened(data, fmt, limits) as im:
        if fmt == "AVIF" and getattr(im, "n_frames", 1) > 1:
            raise Rejection(RejectionCode.UNSUPPORTED_FORMAT, "animated AVIF is not accepted")
        # HEIF: libheif has already applied the container's rotation and pi-heif resets the
        # EXIF tag; AVIF: Pillow reports the container's rotation as the EXIF tag.
        upright = ImageOps.exif_transpose(im)
        icc = im.info.get("icc_profile")
        exif = _clean_exif(im.info.get("exif") or b"", keep_orientation=False)
    upright.info.clear()  # the new file carries only what is passed below
    out = io.BytesIO()
    if fmt == "AVIF":
        upright.save(out, "AVIF", quality=AVIF_QUALITY, speed=AVIF_SPEED, icc_profile=icc, exif=exif)
        return out.getvalue(), "AVIF"
    if upright.has_transparency_data:
        upright.save(out, "PNG", icc_profile=icc, exif=exif)
        return out.getvalue(), "PNG"
    upright.convert("RGB").save(out, "JPEG", quality=HEIF_JPEG_QUALITY, icc_profile=icc, exif=exif)
    return out.getvalue(), "JPEG"


# EXIF: what is kept of it. Orientation, when and with what a picture was taken; no
# location, serial numbers, owner, free text, maker notes or thumbnails.
_KEPT_IFD0_TAGS = {
    ExifTags.Base.Orientation,
    ExifTags.Base.Make,
    ExifTags.Base.Model,
    ExifTags.Base.DateTime,
    ExifTags.Base.XResolution,
    ExifTags.Base.YResolution,
    ExifTags.Base.ResolutionUnit,
}
_KEPT_PHOTO_TAGS = {
    ExifTags.Base.ExifVersion,
    ExifTags.Base.DateTimeOriginal,
    ExifTags.Base.DateTimeDigitized,
    ExifTags.Base.OffsetTime,
    ExifTags.Base.OffsetTimeOriginal,
    ExifTags.Base.OffsetTimeDigitized,
    ExifTags.Base.SubsecTimeOriginal,
    ExifTags.Base.ExposureTime,
    ExifTags.Base.FNumber,
    ExifTags.Base.ExposureProgram,
    ExifTags.Base.ISOSpeedRatings,
    ExifTags.Base.ExposureBiasValue,
    ExifTags.Base.MeteringMode,
    ExifTags.Base.Flash,
    ExifTags.Base.FocalLength,
    ExifTags.Base.FocalLengthIn35mmFilm,
    ExifTags.Base.ColorSpace,
    ExifTags.Base.WhiteBalance,
    ExifTags.Base.ExposureMode,
    ExifTags.Base.LensMake,
    ExifTags.Base.LensModel,
}


def _clean_exif(raw: bytes, *, keep_orientation: bool) -> bytes:
    """The whitelisted part of an EXIF block, as b"Exif\\0\\0" + TIFF; b"" if nothing is left."""
    if not raw:
        return b""
    source = Image.Exif()
    kept = Image.Exif()
    try:
        source.load(raw)
        for tag in _KEPT_IFD0_TAGS & source.keys():
            kept[tag] = source[tag]
        photo = {tag: v for tag, v in source.get_ifd(ExifTags.IFD.Exif).items() if tag in _KEPT_PHOTO_TAGS}
    except _UNDECODABLE:
        return b""  # unreadable EXIF: nothing of it is kept
    if not keep_orientation:
        kept.pop(ExifTags.Base.Orientation, None)
    if photo:
        kept[ExifTags.IFD.Exif] = photo
    return kept.tobytes() if len(kept) else b""


# --- decoding ------------------------------------------------------------------------------


@contextmanager
def _pillow_errors() -> Iterator[None]:
    """Pillow's failures on untrusted bytes, as rejections."""
    try:
        yield
    except Image.DecompressionBombError as exc:
        raise Rejection(RejectionCode.TOO_MANY_PIXELS, "the image is too large to decode safely") from exc
    except _UNDECODABLE as exc:
        raise _corrupt(f"the image does not decode: {exc}") from exc


@contextmanager
def _opened(data: bytes, fmt: str, limits: Limits) -> Iterator[ImageFile.ImageFile]:
    """Pillow's view of the bytes, with the pixel and frame limits checked before decoding."""
    assert not ImageFile.LOAD_TRUNCATED_IMAGES, "truncated images must fail to load"
    with warnings.catch_warnings():
        # Our limit, checked below, is the rule. Pillow's warning threshold (~89 MP) would
        # contradict the 100 MP default; its error (2x that) still stops anything bigger.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(data), formats=[fmt]) as im:
            _check_pixels(im.size, limits)
            frames = getattr(im, "n_frames", 1)
            _check_frames(frames, limits)
            if frames * im.width * im.height > limits.max_total_pixels:
                raise Rejection(
                    RejectionCode.TOO_MANY_FRAMES,
                    f"{frames} frames of {im.width}x{im.height} is over {limits.max_total_pixels} pixels",
                )
            yield im


def _check_pixels(size: tuple[int, int], limits: Limits) -> None:
    if size[0] * size[1] > limits.max_pixels:
        raise Rejection(
            RejectionCode.TOO_MANY_PIXELS,
            f"{size[0]}x{size[1]} is over the limit of {limits.max_pixels} pixels",
        )


def _check_frames(frames: int, limits: Limits) -> None:
    if frames > limits.max_frames:
        raise Rejection(RejectionCode.TOO_MANY_FRAMES, f"more than {limits.max_frames} frames")


_SWAPS_AXES = {5, 6, 7, 8}  # EXIF orientations that turn the image a quarter


def _decode_fully(data: bytes, fmt: str, limits: Limits) -> tuple[int, int, int]:
    """Upright width, height and frame count, once every frame has decoded."""
    with _opened(data, fmt, limits) as im:
        width, height = im.size
        frames = getattr(im, "n_frames", 1)
        orientation = im.getexif().get(ExifTags.Base.Orientation, 1)
        # JPEG: entropy-decode everything but inverse-transform at 1/8 scale: the same
        # truncation and table errors as a full decode, for a fraction of time and memory.
        im.draft(None, (1, 1))
        for frame in range(frames):
            im.seek(frame)
            _check_pixels(im.size, limits)  # a GIF's canvas can grow frame by frame
            im.load()
    if orientation in _SWAPS_AXES:
        width, height = height, width
    return width, height, frames


def check_sha256(data: bytes, declared: str | None) -> str:
    """The hex SHA-256 of the uploaded bytes (what an Image's `sha256` is: SPEC §3); with a
    declared one, the bytes must be those it was declared for."""
    digest = hashlib.sha256(data).hexdigest()
    if declared is not None and digest != declared.lower():
        raise Rejection(
            RejectionCode.CHECKSUM_MISMATCH, f"the bytes' SHA-256 is {digest}, not the {declared} declared"
        )
    return digest
