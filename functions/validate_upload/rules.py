"""Upload rules: whether untrusted bytes are an image Shoebox accepts, and the clean original to store.

No pixel is decoded here (DESIGN decision 11). Everything this step decides is read from the
container and its headers: magic bytes, structure, dimensions and frame counts, the declared
type, the limits, and the metadata. The one full decode (every frame) is the thumbnail step's,
which rejects what does not decode (make_thumbnails.imaging). HEIF and AVIF are the exception:
they are stored transcoded, and transcoding decodes.

What the clean original is, per format:

* JPEG, PNG, GIF and WebP are rewritten at the container level: the compressed image data
  is kept bit for bit (no generation loss, and fast: a linear walk), and every block around
  it is dropped except colour (a vouched-for ICC profile, PNG colour chunks, Adobe APP14) and
  a vouched-for EXIF (see `_clean_exif`). Comments, XMP, IPTC, MPF and anything after the end
  marker (motion-photo videos, appended ZIPs, HTML) do not survive. The walk doubles as a
  structural check: truncation, bad PNG checksums and a JPEG missing scans are CORRUPT_IMAGE.
* An ICC profile is kept only if it is one (see `_vouched_icc`).
* A JPEG's pixels are not rotated: that would mean re-encoding. Its EXIF Orientation is kept
  instead (browsers honour it), thumbnails are transposed, and the reported width and
  height are upright.
* HEIF/HEIC cannot be rewritten (its metadata sits in items addressed by offsets) nor
  re-encoded here (pi-heif only decodes), and few browsers show it: it is stored as JPEG
  (PNG if it has alpha), upright, keeping its ICC profile. CleanImage says what is stored.
* AVIF has the same container and is stored the same way. Encoding AVIF again cost 4-5x the
  decode (a 48 MP photo: 1.1 s to decode, 5.0 s to encode at speed 8, 0.3 s as JPEG q92),
  far over the ~2 s of CPU any one upload may cost; 8-bit JPEG loses AVIF's HDR, which the
  WebP thumbnails never had. Animated AVIF is refused as UNSUPPORTED_FORMAT rather than
  silently flattened.
"""

import functools
import hashlib
import io
import numbers
import re
import struct
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import pi_heif
from PIL import ExifTags, ImageCms, ImageFile, ImageOps
from PIL import Image as PILImage

from shoebox import gif, media_types
from shoebox.rejections import Rejection, RejectionCode

# HEIC/HEIF decoding comes from pi-heif; AVIF is native in Pillow.
pi_heif.register_heif_opener()

__all__ = [
    "ACCEPTED_TYPES",
    "CleanImage",
    "Limits",
    "Rejection",
    "RejectionCode",
    "check_size",
    "sniff",
    "validate",
]


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_pixels: int = 100_000_000  # per frame (SPEC §4)
    max_frames: int = 1000
    # Pixels decoded over all frames: the cap on the work of one upload (TOO_MANY_FRAMES). An
    # animation costs frames x canvas: its decoders compose every frame on the whole canvas.
    # 100 MP is one frame at the pixel limit, or as many pixels spread over frames; imgproxy
    # sums frames the same way, against 16.8 MP, which there caps stills too (here 24-100 MP
    # camera photos must pass). Measured through both steps on one CPU (`make bench`, its
    # hostile uploads; 2 shared cores, so a range over runs): 100 frames of 1 MP cost 0.26 s of
    # CPU (GIF), 1.0 s (APNG), 1.7 s (WebP), a 100 MP progressive JPEG 1.0-1.4 s; the 1000-frame
    # GIF that cost 9.3 s is refused from its headers in 3 ms. The dearest stills, a 100 MP RGBA
    # PNG (2.0-2.1 s) and a 100 MP WebP (1.85 s, decoded scaled), are bounded by max_pixels
    # (SPEC), not by this.
    max_total_pixels: int = 100_000_000
    # The CPU both steps may spend on one upload, estimated from its headers and size before
    # anything is decoded (`_COSTS`): pixels alone do not bound the work. A HEIF pixel costs 5-13x
    # a JPEG one (the HEVC decode), and entropy decoding grows with the bytes, which no scaled
    # decode skips (50 MP of WebP in 32 MiB: 2.1-2.5 s; an upload in parts may be 100 MiB). 2 s is
    # the team's bound (issue 10). At it, 24 MP HEIFs (phones' default) pass and 48 MP ones
    # ("HEIF Max", 0.9-3.5 s) do not; every other codec passes at 100 MP as cameras write it.
    max_cpu_ms: int = 2000


@dataclass(frozen=True)
class CleanImage:
    data: bytes  # the clean original, to be stored
    content_type: str  # of `data`
    format: str  # of `data`: JPEG, PNG, WEBP or GIF
    width: int  # upright, i.e. after EXIF orientation
    height: int
    frames: int
    sha256: str  # hex digest of `data`
    cpu_ms: float  # what both steps were estimated to cost (Limits.max_cpu_ms)


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
    """The clean original of an acceptable upload; raises Rejection for anything else.

    Decodes no pixels (but HEIF/AVIF, which are transcoded): what only a full decode can find
    is the thumbnail step's to reject."""
    check_size(len(data), declared_size, limits)
    detected = sniff(data)
    declared = declared_content_type.split(";")[0].strip().lower()
    if ACCEPTED_TYPES.get(declared) != detected:
        raise Rejection(
            RejectionCode.TYPE_MISMATCH, f"declared {declared_content_type!r} but the bytes are {detected}"
        )
    clean, stored_format, layout = _clean(data, detected, limits)
    width, height = layout.size
    if layout.orientation in _SWAPS_AXES:
        width, height = height, width
    return CleanImage(
        data=clean,
        content_type=_STORED_TYPES[stored_format],
        format=stored_format,
        width=width,
        height=height,
        frames=layout.frames,
        sha256=hashlib.sha256(clean).hexdigest(),
        cpu_ms=layout.cpu_ms,
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


@dataclass(frozen=True)
class _Layout:
    """What the headers say about the pixels."""

    size: tuple[int, int]  # as stored: before EXIF orientation; an animation's canvas
    frames: int = 1
    orientation: int = 1
    codec: str = ""  # its key in _COSTS (set by _clean when it is the format's name)
    coded_bytes: int = 0  # what is decoded: the clean original, or the upload when transcoded

    @property
    def decoded(self) -> int:
        """The pixels a full decode produces over all frames: an animation's decoders (Pillow's
        GIF and APNG, libwebp's) compose every frame on the whole canvas."""
        return self.frames * self.size[0] * self.size[1]

    @property
    def cpu_ms(self) -> float:
        """What both steps will cost, estimated (_COSTS)."""
        cost = _COSTS[self.codec]
        pixels, coded = cost.ms_per_megapixel * self.decoded / 1e6, cost.ms_per_mib * self.coded_bytes / 2**20
        return _THUMBNAILS_MS + pixels + coded


def _clean(data: bytes, fmt: str, limits: Limits) -> tuple[bytes, str, _Layout]:
    """The bytes to store, their format, and their layout."""
    match fmt:
        case "JPEG":
            clean, layout = _clean_jpeg(data)
        case "PNG":
            clean, layout = _clean_png(data, limits)
        case "GIF":
            clean, layout = _clean_gif(data, limits)
        case "WEBP":
            clean, layout = _clean_webp(data, limits)
        case _:
            return _transcoded(data, fmt, limits)
    layout = replace(layout, codec=layout.codec or fmt, coded_bytes=len(clean))
    _check_layout(layout, limits)
    return clean, fmt, layout


def _corrupt(message: str) -> Rejection:
    return Rejection(RejectionCode.CORRUPT_IMAGE, message)


def _unsupported(message: str) -> Rejection:
    return Rejection(RejectionCode.UNSUPPORTED_FORMAT, message)


# JPEG. Kept as they are: the frame header, tables, restart interval and scans.
_SOF_ACCEPTED = {0xC0, 0xC1, 0xC2}  # Huffman-coded baseline, extended and progressive DCT
# Lossless, hierarchical and arithmetic-coded: libjpeg-turbo decodes few of them, browsers none.
_SOF_OTHER = {0xC3, *range(0xC5, 0xC8), *range(0xC9, 0xCC), *range(0xCD, 0xD0)}
_JPEG_TABLES = {0xC4, 0xDB, 0xDD}  # DHT, DQT, DRI
_JPEG_STANDALONE = {0x00, 0x01, *range(0xD0, 0xD8)}  # no length; out of place between segments
_SOI, _SOS, _EOI, _APP0, _APP1, _APP2, _APP14 = 0xD8, 0xDA, 0xD9, 0xE0, 0xE1, 0xE2, 0xEE
_JPEG_COMPONENTS = {1: "GRAY", 3: "RGB", 4: "CMYK"}  # component count -> ICC colour space
_ICC_MARK = b"ICC_PROFILE\x00"
# Fill bytes, then a marker. Bytes before it are dropped (libjpeg skips them too).
_MARKER = re.compile(rb"\xff+([^\xff])")
# Inside a scan, 0xFF is followed by 0x00 (a stuffed byte) or RSTn; anything else is a marker.
_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def _clean_jpeg(data: bytes) -> tuple[bytes, _Layout]:
    # The clean original is the pieces kept, joined once: the scan data (nearly all of the
    # bytes) goes in as a view, not a copy. Slicing and concatenating copied a 3 MB photo's
    # scans twice more, ~4 ms with the page faults of the fresh memory.
    view = memoryview(data)
    out: list[bytes | memoryview] = [b"\xff\xd8"]
    frame: _JpegFrame | None = None
    icc: dict[int, bytes] = {}  # ICC profile chunks by sequence number, as they came
    icc_slot = None  # where in `out` the profile goes, once vouched for
    orientation = 1
    exif_seen = False
    pos = 2
    while found := _MARKER.search(data, pos):
        at = found.start(1)  # the marker byte; its segment's length follows
        marker = data[at]
        if marker == _EOI:
            break  # anything after EOI is a trailer: dropped
        if marker in _JPEG_STANDALONE:
            pos = at + 1
            continue
        end = at + 1 + int.from_bytes(data[at + 1 : at + 3])
        if marker == _SOI or end > len(data) or end < at + 3:
            raise _corrupt("the JPEG is truncated or malformed")
        segment = view[at - 1 : end]  # 0xFF, marker, length, payload
        payload = data[at + 3 : end]
        if marker == _SOS:
            if frame is None:
                raise _corrupt("the JPEG has a scan before its frame header")
            frame.add_scan(payload)
            scan_end = _SCAN_END.search(data, end)
            if scan_end is None:
                raise _corrupt("the JPEG ends before its end-of-image marker")
            out += (segment, view[end : scan_end.start()])
            end = scan_end.start()
        elif marker in _SOF_ACCEPTED:
            if frame is not None:
                raise _corrupt("the JPEG has two frame headers")
            frame = _JpegFrame(marker, payload)
            out.append(segment)
        elif marker in _SOF_OTHER:
            raise _unsupported("lossless, hierarchical and arithmetic-coded JPEGs are not accepted")
        elif marker in _JPEG_TABLES:
            out.append(segment)
        elif marker == _APP1 and not exif_seen and payload.startswith(b"Exif\x00\x00"):
            exif_seen = True
            exif, orientation = _clean_exif(payload)
            if exif:
                out.append(_jpeg_segment(_APP1, exif))
        elif (
            marker == _APP2
            and payload.startswith(_ICC_MARK)
            and len(payload) > 14
            and not (frame and frame.scans)
        ):
            # Profiles over 64 KB come in numbered chunks; only those before the first scan count.
            icc.setdefault(payload[12], payload)
            if icc_slot is None:
                icc_slot = len(out)
                out.append(b"")
        elif marker == _APP0 and payload.startswith(b"JFIF\x00") and len(payload) >= 14:
            out.append(_jpeg_segment(_APP0, payload[:12] + b"\x00\x00"))  # without its thumbnail
        elif marker == _APP14 and payload.startswith(b"Adobe") and len(payload) >= 12:
            out.append(_jpeg_segment(_APP14, payload[:12]))  # colour transform: CMYK/YCCK need it
        pos = end
    else:
        raise _corrupt("the JPEG ends before its end-of-image marker")
    if frame is None or not frame.scans:
        raise _corrupt("the JPEG has no image")
    if not frame.complete():
        # A file cut between two scans, an end marker appended, decodes without a word from
        # libjpeg: the scans that are missing just leave their detail out.
        raise _corrupt("the JPEG ends before every part of the image is coded")
    if icc_slot is not None:
        profile = _icc_from_chunks(icc)
        if profile is not None and _vouched_icc(profile, _JPEG_COMPONENTS[len(frame.components)]):
            out[icc_slot] = b"".join(_jpeg_segment(_APP2, icc[number]) for number in sorted(icc))
    out.append(b"\xff\xd9")
    codec = "JPEG progressive" if frame.progressive else "JPEG"
    return b"".join(out), _Layout((frame.width, frame.height), orientation=orientation, codec=codec)


class _JpegFrame:
    """A JPEG's frame header, and how much of each component its scans code."""

    def __init__(self, marker: int, header: bytes) -> None:
        if len(header) < 6 or len(header) != 6 + 3 * header[5]:
            raise _corrupt("the JPEG's frame header is malformed")
        precision, self.height, self.width, count = struct.unpack(">BHHB", header[:6])
        if precision != 8:
            raise _unsupported(f"{precision}-bit JPEGs are not accepted")
        if count not in _JPEG_COMPONENTS:
            raise _unsupported(f"JPEGs of {count} colour components are not accepted")
        if self.height == 0:
            raise _unsupported("JPEGs that give their height after the image (DNL) are not accepted")
        self.components = header[6::3]
        if self.width == 0 or len(set(self.components)) != count:
            raise _corrupt("the JPEG's frame header is malformed")
        self.progressive = marker == 0xC2
        # Per component and DCT coefficient: the lowest bit coded so far (None: not coded at all).
        # Complete when every coefficient of every component is coded down to bit 0.
        self._coded: dict[int, list[int | None]] = {component: [None] * 64 for component in self.components}
        self.scans = 0

    def add_scan(self, header: bytes) -> None:
        count = header[0] if header else 0
        if count == 0 or len(header) != 4 + 2 * count:
            raise _corrupt("the JPEG has a malformed scan header")
        start, end, low = (header[-3], header[-2], header[-1] & 0x0F) if self.progressive else (0, 63, 0)
        if start > end or end > 63:
            raise _corrupt("the JPEG has a malformed scan header")
        for component in header[1:-3:2]:
            coded = self._coded.get(component)
            if coded is None:
                raise _corrupt("a JPEG scan codes a component its frame does not have")
            coded[start : end + 1] = [low if bit is None else min(bit, low) for bit in coded[start : end + 1]]
        self.scans += 1

    def complete(self) -> bool:
        return all(bit == 0 for coded in self._coded.values() for bit in coded)


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + (len(payload) + 2).to_bytes(2) + payload


def _icc_from_chunks(chunks: dict[int, bytes]) -> bytes | None:
    """A JPEG's ICC profile from its APP2 chunks (each: mark, number from 1, count, data), or
    None when they do not make one whole."""
    counts = {payload[13] for payload in chunks.values()}
    if len(counts) != 1 or sorted(chunks) != list(range(1, counts.pop() + 1)):
        return None
    return b"".join(chunks[number][14:] for number in sorted(chunks))


# PNG. Chunks kept as they are: the image, colour, and animation; text, time, eXIf and iCCP
# (both rebuilt below) and private chunks go.
_PNG_KEPT = {
    *(b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS"),
    *(b"cHRM", b"gAMA", b"sBIT", b"sRGB", b"cICP", b"mDCV", b"cLLI"),
    *(b"bKGD", b"pHYs", b"acTL", b"fcTL", b"fdAT"),
}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Colour type -> the bit depths it allows (PNG spec, table 11.1).
_PNG_DEPTHS = {0: {1, 2, 4, 8, 16}, 2: {8, 16}, 3: {1, 2, 4, 8}, 4: {8, 16}, 6: {8, 16}}
_ICC_NAME = b"ICC profile"
_MAX_ICC_BYTES = 4 * 1024 * 1024  # the largest real profiles (printer LUTs) are ~3 MB


def _clean_png(data: bytes, limits: Limits) -> tuple[bytes, _Layout]:
    view = memoryview(data)  # chunks are checked and kept as views, copied once by the join
    out: list[bytes | memoryview] = [_PNG_SIGNATURE]
    size = (0, 0)
    space = "RGB"
    orientation = 1
    frames = declared_frames = 0
    default_image_shown = False  # whether the first IDAT is the animation's first frame
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
        if (kind == b"IHDR") != (pos == len(_PNG_SIGNATURE)):
            raise _corrupt("the PNG does not start with its header")
        if kind == b"IHDR":
            size, space = _png_header(bytes(body))
        elif kind == b"acTL" and length == 8:
            declared_frames = int.from_bytes(body[:4])
            _check_frames(declared_frames, limits)
        elif kind == b"fcTL" and length == 26:
            frames += 1
            _check_frames(frames, limits)
            width, height, left, top = struct.unpack(">IIII", body[4:20])
            if not (width and height and left + width <= size[0] and top + height <= size[1]):
                raise _corrupt("a PNG animation frame lies outside its canvas")
        elif kind == b"IDAT" and frames:
            default_image_shown = True
        if kind in _PNG_KEPT:
            out.append(view[pos:end])
        elif kind == b"eXIf":
            exif, orientation = _clean_exif(bytes(body))
            exif = exif.removeprefix(b"Exif\x00\x00")
            if exif:
                out.append(_png_chunk(b"eXIf", exif))
        elif kind == b"iCCP":
            profile = _png_icc(bytes(body))
            if profile is not None and _vouched_icc(profile[0], space):
                out.append(_png_chunk(b"iCCP", _ICC_NAME + b"\x00" + profile[1]))  # a name of ours
        if kind == b"IEND":
            break
        pos = end
    if declared_frames != frames:
        raise _corrupt(f"the PNG animation says {declared_frames} frames but has {frames}")
    # Pillow decodes a default image that is not part of the animation as one more frame.
    decoded_frames = frames + (1 if frames and not default_image_shown else 0)
    return b"".join(out), _Layout(size, frames=max(1, decoded_frames), orientation=orientation)


def _png_header(header: bytes) -> tuple[tuple[int, int], str]:
    """Width and height, and the colour space an ICC profile must be for."""
    if len(header) != 13:
        raise _corrupt("the PNG's header is malformed")
    width, height, depth, color_type, compression, filtering, interlace = struct.unpack(">IIBBBBB", header)
    valid = depth in _PNG_DEPTHS.get(color_type, ()) and compression == filtering == 0 and interlace in (0, 1)
    if not (valid and 0 < width < 2**31 and 0 < height < 2**31):
        raise _corrupt("the PNG's header is malformed")
    return (width, height), "GRAY" if color_type in (0, 4) else "RGB"


def _png_icc(body: bytes) -> tuple[bytes, bytes] | None:
    """An iCCP chunk's profile and the compressed bytes it came from (method byte included),
    or None when the chunk is malformed, or its profile too big or followed by anything."""
    name_end = body.find(b"\x00", 0, 80)
    if name_end < 1 or body[name_end + 1 : name_end + 2] != b"\x00":  # compression method 0
        return None
    inflater = zlib.decompressobj()
    try:
        profile = inflater.decompress(body[name_end + 2 :], _MAX_ICC_BYTES)
    except zlib.error:
        return None
    if not inflater.eof or inflater.unconsumed_tail or inflater.unused_data:
        return None
    return profile, body[name_end + 1 :]


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I4s", len(body), kind) + body + zlib.crc32(body, zlib.crc32(kind)).to_bytes(4)


# GIF. Kept: the header, colour tables, images and their graphic control; of the application
# extensions only the loop count. Comments, plain text and XMP go.
_LOOP_EXTENSIONS = (b"NETSCAPE2.0", b"ANIMEXTS1.0")


def _clean_gif(data: bytes, limits: Limits) -> tuple[bytes, _Layout]:
    view = memoryview(data)  # images are kept as views, copied once by the join
    frames = 0
    try:
        # Pillow grows the canvas to hold a frame that lies outside the logical screen.
        width, height, pos = gif.screen(data)
        out: list[bytes | memoryview] = [view[:pos]]
        for kind, start, end, _ in gif.blocks(data, pos):
            if kind == gif.IMAGE:
                frames += 1
                if frames > limits.max_frames:
                    _check_frames(frames, limits)
                left, top, frame_width, frame_height, _ = gif.DESCRIPTOR.unpack_from(data, start + 1)
                width, height = max(width, left + frame_width), max(height, top + frame_height)
                out.append(view[start:end])
            elif data[start + 1] == gif.GRAPHIC_CONTROL or (
                data[start + 1] == gif.APPLICATION and data[start + 3 : start + 14] in _LOOP_EXTENSIONS
            ):
                out.append(view[start:end])
    except gif.MalformedGif as exc:
        raise _corrupt(str(exc)) from exc
    if frames == 0 or not (width and height):
        raise _corrupt("the GIF has no image")
    out.append(b"\x3b")  # anything after the trailer is dropped; a missing one is tolerated
    return b"".join(out), _Layout((width, height), frames=frames)


# WebP. Kept: the image (still or animated, with alpha) and a vouched-for ICC profile.
_WEBP_KEPT = {b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF"}
_VP8X_ICC, _VP8X_EXIF, _VP8X_XMP = 0x20, 0x08, 0x04


def _clean_webp(data: bytes, limits: Limits) -> tuple[bytes, _Layout]:
    end = 8 + int.from_bytes(data[4:8], "little")  # anything after the RIFF is dropped
    if end > len(data):
        raise _corrupt("the WebP is truncated")
    view = memoryview(data)  # chunks are kept as views, copied once by the join
    chunks: list[bytes | bytearray | memoryview] = []
    vp8x = None  # the extended format's header, when the file has one: its flags are rewritten
    exif = b""
    orientation = 1
    icc_seen = icc_kept = False
    size = None
    frames = 0
    bitstreams = set()  # of a still: lossy (VP8) or lossless (VP8L); an animation's are in its frames
    pos = 12
    while pos < end:
        if pos + 8 > end:
            raise _corrupt("the WebP is truncated")
        kind, length = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        stop = pos + 8 + length
        if stop > end:
            raise _corrupt(f"the WebP is truncated inside a {kind!r} chunk")
        if kind == b"ANMF":
            frames += 1
            _check_frames(frames, limits)
        if size is None and kind in (b"VP8X", b"VP8 ", b"VP8L"):
            size = _webp_size(kind, data[pos + 8 : stop])
        if kind in (b"VP8 ", b"VP8L"):
            bitstreams.add(kind)
        if kind == b"VP8X" and not chunks:
            vp8x = bytearray(data[pos:stop])
            chunks.append(vp8x)
        elif kind in _WEBP_KEPT:
            chunks += (view[pos:stop], b"\x00" * (length & 1))
        elif kind == b"ICCP" and not icc_seen:
            icc_seen = True
            icc_kept = _vouched_icc(data[pos + 8 : stop], "RGB")
            if icc_kept:
                chunks += (view[pos:stop], b"\x00" * (length & 1))
        elif kind == b"EXIF":
            exif, orientation = _clean_exif(data[pos + 8 : stop])
            exif = exif.removeprefix(b"Exif\x00\x00")
        pos = stop + (length & 1)
    if size is None or not (size[0] and size[1]):
        raise _corrupt("the WebP has no image")
    if vp8x is not None:  # the extended format: flags say what follows
        kept = (_VP8X_EXIF if exif else 0) | (_VP8X_ICC if icc_kept else 0)
        vp8x[8] = vp8x[8] & ~(_VP8X_ICC | _VP8X_EXIF | _VP8X_XMP) | kept
        if exif:
            chunks += (b"EXIF", len(exif).to_bytes(4, "little"), exif, b"\x00" * (len(exif) & 1))
    riff_size = 4 + sum(len(chunk) for chunk in chunks)
    clean = b"".join((b"RIFF", riff_size.to_bytes(4, "little"), b"WEBP", *chunks))
    codec = "WEBP lossless" if bitstreams == {b"VP8L"} and not frames else "WEBP"
    return clean, _Layout(size, frames=max(1, frames), orientation=orientation, codec=codec)


def _webp_size(kind: bytes, header: bytes) -> tuple[int, int]:
    """The canvas (VP8X) or the picture's size (lossy VP8, lossless VP8L), from their headers."""
    if kind == b"VP8X" and len(header) >= 10:
        return 1 + int.from_bytes(header[4:7], "little"), 1 + int.from_bytes(header[7:10], "little")
    if kind == b"VP8 " and len(header) >= 10 and header[3:6] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", header[6:10])
        return width & 0x3FFF, height & 0x3FFF
    if kind == b"VP8L" and len(header) >= 5 and header[0] == 0x2F:
        bits = int.from_bytes(header[1:5], "little")
        return 1 + (bits & 0x3FFF), 1 + (bits >> 14 & 0x3FFF)
    raise _corrupt(f"the WebP's {kind.decode('latin-1').strip()} header is malformed")


# HEIF and AVIF: decoded and encoded again, upright, as JPEG (PNG when there is alpha).
HEIF_JPEG_QUALITY = 92


def _transcoded(data: bytes, fmt: str, limits: Limits) -> tuple[bytes, str, _Layout]:
    with _pillow_errors(), _opened(data, fmt, limits) as picture:
        if fmt == "AVIF" and getattr(picture, "n_frames", 1) > 1:
            raise _unsupported("animated AVIF is not accepted")
        # HEIF: libheif has already applied the container's rotation and pi-heif resets the
        # EXIF tag; AVIF: Pillow reports the container's rotation as the EXIF tag.
        upright = ImageOps.exif_transpose(picture)
        icc = picture.info.get("icc_profile")
        if icc and not _vouched_icc(icc, "GRAY" if picture.mode in ("L", "LA", "I;16") else "RGB"):
            icc = None
        exif = _clean_exif(picture.info.get("exif") or b"", keep_orientation=False)[0]
        upright.info.clear()  # the new file carries only what is passed below
        out = io.BytesIO()
        if upright.has_transparency_data:
            upright.save(out, "PNG", icc_profile=icc, exif=exif)
            stored = "PNG"
        else:
            upright.convert("RGB").save(out, "JPEG", quality=HEIF_JPEG_QUALITY, icc_profile=icc, exif=exif)
            stored = "JPEG"
    return out.getvalue(), stored, _Layout(upright.size, codec=fmt, coded_bytes=len(data))


@contextmanager
def _pillow_errors() -> Iterator[None]:
    """Pillow's failures on untrusted bytes, as rejections."""
    try:
        yield
    except PILImage.DecompressionBombError as exc:
        raise Rejection(RejectionCode.TOO_MANY_PIXELS, "the image is too large to decode safely") from exc
    except _UNDECODABLE as exc:
        raise _corrupt(f"the image does not decode: {exc}") from exc


@contextmanager
def _opened(data: bytes, fmt: str, limits: Limits) -> Iterator[ImageFile.ImageFile]:
    """Pillow's view of the bytes, with the limits checked before anything is decoded."""
    assert not ImageFile.LOAD_TRUNCATED_IMAGES, "truncated images must fail to load"
    with warnings.catch_warnings():
        # Our limit, checked below, is the rule. Pillow's warning threshold (~89 MP) would
        # contradict the 100 MP default; its error (2x that) still stops anything bigger.
        warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
        with PILImage.open(io.BytesIO(data), formats=[fmt]) as picture:
            frames = getattr(picture, "n_frames", 1)
            _check_layout(_Layout(picture.size, frames=frames, codec=fmt, coded_bytes=len(data)), limits)
            yield picture


# --- metadata: what the service can vouch for -------------------------------------------------

# EXIF: orientation, when and with what a picture was taken; no location, serial numbers,
# owner, free-form descriptions, maker notes or thumbnails. Each kept tag must also hold what
# its kind of tag holds (below): anything else is dropped, tag by tag.
_TEXT_TAGS = {ExifTags.Base.Make, ExifTags.Base.Model, ExifTags.Base.LensMake, ExifTags.Base.LensModel}
_DATE_TAGS = {ExifTags.Base.DateTime, ExifTags.Base.DateTimeOriginal, ExifTags.Base.DateTimeDigitized}
_OFFSET_TAGS = {ExifTags.Base.OffsetTime, ExifTags.Base.OffsetTimeOriginal, ExifTags.Base.OffsetTimeDigitized}
_NUMBER_TAGS = {
    *(ExifTags.Base.Orientation, ExifTags.Base.XResolution, ExifTags.Base.YResolution),
    *(ExifTags.Base.ResolutionUnit, ExifTags.Base.ExposureTime, ExifTags.Base.FNumber),
    *(ExifTags.Base.ExposureProgram, ExifTags.Base.ISOSpeedRatings, ExifTags.Base.ExposureBiasValue),
    *(ExifTags.Base.MeteringMode, ExifTags.Base.Flash, ExifTags.Base.FocalLength),
    *(ExifTags.Base.FocalLengthIn35mmFilm, ExifTags.Base.ColorSpace, ExifTags.Base.WhiteBalance),
    ExifTags.Base.ExposureMode,
}
_IFD0_TAGS = {
    *(ExifTags.Base.Orientation, ExifTags.Base.Make, ExifTags.Base.Model, ExifTags.Base.DateTime),
    *(ExifTags.Base.XResolution, ExifTags.Base.YResolution, ExifTags.Base.ResolutionUnit),
}
# "Plain printable text": 1 to 128 characters of printable ASCII (U+0020 to U+007E), not all
# spaces, without the characters that open markup, quote or escape: < > & " ' ` \.
# Real makes and models ("NIKON CORPORATION", "iPhone 15 Pro back camera 6.765mm f/1.78",
# "24-70mm F2.8 DG DN | Art 019") are this; HTML, control bytes and binary are not.
_PLAIN_TEXT = re.compile(r"[\x20\x21\x23-\x25\x28-\x3b\x3d\x3f-\x5b\x5d-\x5f\x61-\x7e]{1,128}")
_TEXT_SHAPES: dict[int, re.Pattern[str]] = {
    **dict.fromkeys(_TEXT_TAGS, _PLAIN_TEXT),
    **dict.fromkeys(_DATE_TAGS, re.compile(r"\d{4}:\d\d:\d\d \d\d:\d\d:\d\d")),
    **dict.fromkeys(_OFFSET_TAGS, re.compile(r"[+-]\d\d:\d\d")),
    ExifTags.Base.SubsecTimeOriginal: re.compile(r"\d{1,9}"),
}
_EXIF_VERSION = re.compile(rb"\d{4}")
_MAX_NUMBERS = 4  # ISOSpeedRatings may hold a few; every other kept number tag holds one


def _clean_exif(raw: bytes, *, keep_orientation: bool = True) -> tuple[bytes, int]:
    """The vouched-for part of an EXIF block, as b"Exif\\0\\0" + TIFF (b"" if nothing is left),
    and the orientation it keeps (1 if none)."""
    if not raw:
        return b"", 1
    source = PILImage.Exif()
    kept = PILImage.Exif()
    try:
        source.load(raw)
        for tag in _IFD0_TAGS & source.keys():
            if _vouched_exif_value(tag, source[tag]):
                kept[tag] = source[tag]
        photo = {
            tag: v for tag, v in source.get_ifd(ExifTags.IFD.Exif).items() if _vouched_exif_value(tag, v)
        }
    except _UNDECODABLE:
        return b"", 1  # unreadable EXIF: nothing of it is kept
    orientation = kept.get(ExifTags.Base.Orientation, 1)
    if orientation not in range(1, 9) or not keep_orientation:
        kept.pop(ExifTags.Base.Orientation, None)
        orientation = 1
    if photo:
        kept[ExifTags.IFD.Exif] = photo
    return (kept.tobytes() if len(kept) else b""), orientation


def _vouched_exif_value(tag: int, value: object) -> bool:
    if tag in _TEXT_SHAPES:
        return isinstance(value, str) and bool(_TEXT_SHAPES[tag].fullmatch(value)) and not value.isspace()
    if tag == ExifTags.Base.ExifVersion:
        return isinstance(value, bytes) and bool(_EXIF_VERSION.fullmatch(value))
    if tag in _NUMBER_TAGS:
        values = value if isinstance(value, tuple) else (value,)
        return 0 < len(values) <= _MAX_NUMBERS and all(_is_number(v) for v in values)
    return False  # not on the list


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


# ICC profiles: kept only if LittleCMS (Pillow's ImageCms) takes them for what they claim to be.
_ICC_CLASSES = {b"scnr", b"mntr", b"prtr", b"spac"}  # input, display, output, colour space
_ICC_SPACES = {"RGB": (b"RGB ", "RGB"), "GRAY": (b"GRAY", "L"), "CMYK": (b"CMYK", "CMYK")}
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


# Validation sees the same few profiles (sRGB, Display P3, Adobe RGB) again and again.
@functools.lru_cache(maxsize=32)
def _vouched_icc(profile: bytes, space: str) -> bool:
    """Whether an embedded ICC profile is one the service can vouch for: its header declares
    its own length (nothing but zero padding rides after it), it describes a device or colour
    space of the picture's colour space (RGB, GRAY or CMYK), LittleCMS parses it, and LittleCMS
    can build the conversion to sRGB from it (what the thumbnails and browsers do with it)."""
    signature, mode = _ICC_SPACES[space]
    declared = int.from_bytes(profile[:4])
    if not 132 <= declared <= len(profile) or profile[declared:].strip(b"\x00") or profile[36:40] != b"acsp":
        return False
    if profile[12:16] not in _ICC_CLASSES or profile[16:20] != signature:
        return False
    try:
        parsed = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        ImageCms.buildTransform(parsed, _SRGB, mode, "RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return False
    return True


# --- limits --------------------------------------------------------------------------------

# Pillow refuses to decode more than this in one frame (DecompressionBombError), whatever our
# limit says: the thumbnail step could never decode it.
_DECODABLE_PIXELS = 2 * (PILImage.MAX_IMAGE_PIXELS or 2**62)
_SWAPS_AXES = {5, 6, 7, 8}  # EXIF orientations that turn the image a quarter


@dataclass(frozen=True)
class _Cost:
    """The CPU both pipeline steps spend on an upload (one CPU): a part that grows with the
    pixels decoded over all frames, and one that grows with the compressed bytes (entropy
    decoding, which scaled decodes still do whole)."""

    ms_per_megapixel: float
    ms_per_mib: float


# Fitted over the costliest uploads found per codec (`make bench-costs`: all pixels and few bytes,
# and as many bytes as their pixels can take), rounded up so that none cost more than its
# estimate: an upper bound, not an average. CPU ms through both steps, measured on x86-64 (README,
# Speed); Lambda's arm64 vCPU is not measured. Every upload, whatever its size: up to three WebP
# thumbnails, the largest 1024 px.
_THUMBNAILS_MS = 60
_COSTS = {
    # decoded scaled (1/2-1/8): 100 MP in 72 MiB 0.7-0.8 s; 2 MP in 1 MiB 58-75 ms
    "JPEG": _Cost(ms_per_megapixel=5, ms_per_mib=6.5),
    # every coefficient kept for the scans to refine: 100 MP at 11 / 21 / 46 / 97 MiB 0.9-3.4 s
    "JPEG progressive": _Cost(ms_per_megapixel=9, ms_per_mib=32),
    # 100 MP RGBA 1.9 s (inflating and unfiltering 400 MB); 22 MP in 84 MiB 0.6 s
    "PNG": _Cost(ms_per_megapixel=19, ms_per_mib=3),
    # 100 frames of 1 MP 0.26 s; 50 MP in 64 MiB 0.6 s
    "GIF": _Cost(ms_per_megapixel=2.6, ms_per_mib=10.5),
    # decoded scaled, so the bytes are the cost: 100 MP in 22 MiB 1.6 s; 50 MP in 32 MiB 2.1-2.5 s
    "WEBP": _Cost(ms_per_megapixel=2, ms_per_mib=75),
    # 100 MP of a drawing 0.4 s; 25 MP in 72 MiB 0.6-0.7 s
    "WEBP lossless": _Cost(ms_per_megapixel=4, ms_per_mib=9),
    # the HEVC decode, never scaled: 48 MP in 0.03 / 1.6 / 11 / 14 MiB 0.9-3.5 s; 24 MP in 7 MiB 1.6 s
    "HEIF": _Cost(ms_per_megapixel=47, ms_per_mib=112),
    # 48 MP in 0.1 / 2 / 15 / 25 MiB 0.8-2.8 s; 24 MP in 26 MiB 2.9 s
    "AVIF": _Cost(ms_per_megapixel=23, ms_per_mib=89),
}


def _check_layout(layout: _Layout, limits: Limits) -> None:
    """The limits, from the headers: before anything is decoded."""
    width, height = layout.size
    if width * height > min(limits.max_pixels, _DECODABLE_PIXELS):
        raise Rejection(
            RejectionCode.TOO_MANY_PIXELS,
            f"{width}x{height} is over the limit of {limits.max_pixels} pixels",
        )
    _check_frames(layout.frames, limits)
    if layout.decoded > limits.max_total_pixels:
        raise Rejection(
            RejectionCode.TOO_MANY_FRAMES,
            f"{layout.frames} frames of {width}x{height} is {layout.decoded} pixels to decode,"
            f" over the limit of {limits.max_total_pixels}",
        )
    cpu_ms = layout.cpu_ms
    if cpu_ms > limits.max_cpu_ms:
        # The work cap is TOO_MANY_FRAMES (SPEC); a still that is too dear has too many pixels.
        animated = layout.frames > 1
        what = f"{layout.frames} frames of " if animated else ""
        what += f"{width}x{height} as {layout.codec} in {layout.coded_bytes / 2**20:.1f} MiB"
        raise Rejection(
            RejectionCode.TOO_MANY_FRAMES if animated else RejectionCode.TOO_MANY_PIXELS,
            f"{what} would cost about {cpu_ms / 1000:.1f} s of CPU to process, over the limit"
            f" of {limits.max_cpu_ms / 1000:.1f} s: fewer pixels or bytes would pass",
        )


def _check_frames(frames: int, limits: Limits) -> None:
    if frames > limits.max_frames:
        raise Rejection(RejectionCode.TOO_MANY_FRAMES, f"more than {limits.max_frames} frames")


def check_sha256(data: bytes, declared: str | None) -> str:
    """The hex SHA-256 of the uploaded bytes (what an Image's `sha256` is: SPEC §3); with a
    declared one, the bytes must be those it was declared for."""
    digest = hashlib.sha256(data).hexdigest()
    if declared is not None and digest != declared.lower():
        raise Rejection(
            RejectionCode.CHECKSUM_MISMATCH, f"the bytes' SHA-256 is {digest}, not the {declared} declared"
        )
    return digest
