"""Test images, made in code: small, deterministic, and each awkward in one known way."""

import io
import struct
import zipfile
import zlib

from PIL import ExifTags, Image, ImageCms

RED = (255, 0, 0)
WHITE = (255, 255, 255)

# The transpose that makes an image stored with each EXIF orientation upright, as
# ImageOps.exif_transpose applies it; a sample is stored with its inverse.
UPRIGHT = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_INVERSE = {
    Image.Transpose.ROTATE_270: Image.Transpose.ROTATE_90,
    Image.Transpose.ROTATE_90: Image.Transpose.ROTATE_270,
}

# sRGB's primaries as ICC profiles state them (D50-adapted XYZ).
SRGB_RED_XYZ = (0.4361, 0.2225, 0.0139)
SRGB_GREEN_XYZ = (0.3851, 0.7169, 0.0971)
SRGB_BLUE_XYZ = (0.1431, 0.0606, 0.7141)
D50 = (0.9642, 1.0, 0.8249)

# Location as XMP carries it.
XMP_WITH_LOCATION = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" xmlns:xmp="http://ns.adobe.com/xap/1.0/"'
    b' exif:GPSLatitude="50,52.29N" exif:GPSLongitude="4,41.82E" xmp:CreatorTool="test"/>'
    b"</rdf:RDF></x:xmpmeta>"
)
HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def marked(size: tuple[int, int] = (60, 40)) -> Image.Image:
    """An upright white image with a red block in its top-left corner: any turn or flip shows."""
    image = Image.new("RGB", size, WHITE)
    image.paste(RED, (0, 0, size[0] // 3, size[1] // 3))
    return image


def pixel(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    value = image.getpixel(xy)
    assert isinstance(value, tuple), value
    return value


def grey(image: Image.Image, xy: tuple[int, int]) -> int:
    value = image.convert("L").getpixel(xy)
    assert isinstance(value, int), value
    return value


def stored_for(upright: Image.Image, orientation: int) -> Image.Image:
    """What a camera stores for an upright picture with this EXIF orientation."""
    method = UPRIGHT[orientation]
    return upright if method is None else upright.transpose(_INVERSE.get(method, method))


def exif(orientation: int = 1, *, gps: bool = False) -> Image.Exif:
    """Camera-like EXIF: orientation, make, date, exposure; with `gps`, a location, a maker
    note and a description that must not survive."""
    data = Image.Exif()
    data[ExifTags.Base.Orientation] = orientation
    data[ExifTags.Base.Make] = "Shoebox Camera"
    data[ExifTags.Base.Model] = "Test 1"
    data[ExifTags.IFD.Exif] = {
        ExifTags.Base.DateTimeOriginal: "2024:06:01 12:00:00",
        ExifTags.Base.FNumber: 2.8,
    }
    if gps:
        data[ExifTags.Base.ImageDescription] = "home <script>x</script>"
        data[ExifTags.IFD.Exif][ExifTags.Base.MakerNote] = b"secret serial 1234"
        data[ExifTags.IFD.GPSInfo] = {
            ExifTags.GPS.GPSLatitudeRef: "N",
            ExifTags.GPS.GPSLatitude: (50.0, 52.0, 17.5),
            ExifTags.GPS.GPSLongitudeRef: "E",
            ExifTags.GPS.GPSLongitude: (4.0, 41.0, 49.0),
        }
    return data


def oriented_jpeg(orientation: int, size: tuple[int, int] = (60, 40)) -> bytes:
    return encode(stored_for(marked(size), orientation), "JPEG", quality=95, exif=exif(orientation))


def jpeg(
    size: tuple[int, int] = (64, 48), color: tuple[int, ...] = (30, 120, 200), **options: object
) -> bytes:
    return encode(Image.new("RGB", size, color), "JPEG", quality=90, **options)


def png(image: Image.Image | None = None, **options: object) -> bytes:
    return encode(image or Image.new("RGB", (40, 30), (30, 120, 200)), "PNG", **options)


def jpeg_with_segment(data: bytes, marker: int, payload: bytes) -> bytes:
    """A JPEG with one more segment right after SOI (e.g. a COM comment)."""
    return data[:2] + bytes((0xFF, marker)) + (len(payload) + 2).to_bytes(2) + payload + data[2:]


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I4s", len(body), kind) + body + zlib.crc32(kind + body).to_bytes(4)


def png_with_chunks(data: bytes, *chunks: bytes) -> bytes:
    """A PNG with more chunks right before its first IDAT."""
    idat = data.index(b"IDAT") - 4
    return data[:idat] + b"".join(chunks) + data[idat:]


def raw_png(width: int, height: int, idat: bytes, *, bit_depth: int = 1, color_type: int = 0) -> bytes:
    """A PNG assembled by hand, so its header can say anything."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    )


def black_png(width: int, height: int) -> bytes:
    """A real 1-bit black PNG of any size, compressed to almost nothing."""
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed pixels
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return raw_png(width, height, idat)


def flip_byte(data: bytes, index: int) -> bytes:
    return data[:index] + bytes((data[index] ^ 0xFF,)) + data[index + 1 :]


def zip_archive() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("payload.html", HTML)
    return out.getvalue()


def svg() -> bytes:
    return (
        b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        b"<script>alert(1)</script></svg>"
    )


def animated(fmt: str, colors: list[tuple[int, int, int]], size: tuple[int, int] = (16, 12)) -> bytes:
    frames = [Image.new("RGB", size, color) for color in colors]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=50, loop=0)


def many_frame_gif(count: int) -> bytes:
    frames = [Image.new("RGB", (4, 4), (i % 256, 255 - i % 256, i // 256)) for i in range(count)]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=20)


def gif_with_extras(data: bytes) -> bytes:
    """A GIF with a comment holding HTML, an XMP application extension, and a ZIP after its trailer."""
    comment = b"\x21\xfe" + _sub_blocks(HTML)
    xmp = b"\x21\xff\x0bXMP DataXMP" + _sub_blocks(XMP_WITH_LOCATION)
    header_end = 13 + (3 << ((data[10] & 0x07) + 1) if data[10] & 0x80 else 0)
    return data[:header_end] + comment + xmp + data[header_end:] + zip_archive()


def _sub_blocks(payload: bytes) -> bytes:
    return (
        b"".join(bytes((len(c),)) + c for c in (payload[i : i + 255] for i in range(0, len(payload), 255)))
        + b"\0"
    )


def rgb_icc_profile(
    red: tuple[float, float, float],
    green: tuple[float, float, float],
    blue: tuple[float, float, float],
    copyright: bytes = b"no copyright",
) -> bytes:
    """A minimal ICC v2 matrix/TRC display profile with these primaries and gamma 2.2."""

    def xyz(values: tuple[float, float, float]) -> bytes:
        return b"XYZ \0\0\0\0" + b"".join(struct.pack(">i", round(v * 65536)) for v in values)

    description = b"Shoebox test RGB\0"
    tags = [
        (b"desc", b"desc\0\0\0\0" + struct.pack(">I", len(description)) + description + b"\0" * 79),
        (b"wtpt", xyz(D50)),
        (b"rXYZ", xyz(red)),
        (b"gXYZ", xyz(green)),
        (b"bXYZ", xyz(blue)),
        *(
            (trc, b"curv\0\0\0\0" + struct.pack(">IH", 1, 0x0233) + b"\0\0")
            for trc in (b"rTRC", b"gTRC", b"bTRC")
        ),
        (b"cprt", b"text\0\0\0\0" + copyright + b"\0\0\0\0"),
    ]
    table_end = 128 + 4 + 12 * len(tags)
    directory, blobs, offset = [], [], table_end
    for signature, blob in tags:
        blob += b"\0" * (-len(blob) % 4)
        directory.append(struct.pack(">4sII", signature, offset, len(blob)))
        blobs.append(blob)
        offset += len(blob)
    header = struct.pack(
        ">I4sI4s4s4s12s4s", offset, b"none", 0x02100000, b"mntr", b"RGB ", b"XYZ ", b"\0" * 12, b"acsp"
    )
    header += b"\0" * (68 - len(header)) + b"".join(struct.pack(">i", round(v * 65536)) for v in D50)
    header += b"\0" * (128 - len(header))
    return header + struct.pack(">I", len(tags)) + b"".join(directory) + b"".join(blobs)


def swapped_primaries_profile() -> bytes:
    """An RGB profile whose red is sRGB's green (and green sRGB's red): a colour-managed
    viewer shows this profile's pure red as pure green."""
    return rgb_icc_profile(SRGB_GREEN_XYZ, SRGB_RED_XYZ, SRGB_BLUE_XYZ)


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def heic(image: Image.Image, **options: object) -> bytes:
    """HEIC needs an HEVC encoder: pillow-heif (a dev dependency) has one; pi-heif decodes only."""
    import pillow_heif  # only here: the only test input that needs it

    out = io.BytesIO()
    pillow_heif.from_pillow(image).save(out, quality=90, **options)
    return out.getvalue()


def heif_saying(width: int, height: int) -> bytes:
    """A small HEIC whose image spatial extents (ispe) say width x height: read, never decoded
    (validation refuses it from that)."""
    data = heic(Image.new("RGB", (64, 64)))  # 64x64: no clean aperture box crops it to another size
    at = data.index(b"ispe") + 8  # after the box's version and flags
    return data[:at] + width.to_bytes(4) + height.to_bytes(4) + data[at + 8 :]
