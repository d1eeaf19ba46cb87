"""A GIF's block stream: where its header, images and extensions start and end (GIF89a, §17-25).

Both image steps walk it: validation keeps some blocks and counts the frames without decoding
anything; the thumbnail step hands each image's LZW data to the decoder. Pure Python on bytes,
and lean: an animation has two blocks a frame, and for a small one this walk is most of what
validation costs (blocks are plain tuples: a NamedTuple a block made it twice as slow).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

IMAGE, EXTENSION, TRAILER = 0x2C, 0x21, 0x3B
GRAPHIC_CONTROL, APPLICATION = 0xF9, 0xFF  # extension labels
# An image descriptor after its separator: left, top, width, height, flags (0x40: interlaced).
DESCRIPTOR = struct.Struct("<HHHHB")


class MalformedGif(ValueError):
    """The bytes break the GIF block structure (truncated, or a byte no block starts with)."""


def screen(data: bytes) -> tuple[int, int, int]:
    """The logical screen's width and height, and where the first block starts (after the
    header and the global colour table)."""
    if len(data) < 13:
        raise MalformedGif("the GIF is truncated")
    width, height = struct.unpack_from("<HH", data, 6)
    return width, height, 13 + _color_table_size(data[10])


def blocks(data: bytes, pos: int) -> Iterator[tuple[int, int, int, int]]:
    """(kind, start, end, body) of each image and extension from `pos` to the trailer, or to
    the end of the data: a missing trailer is tolerated, a block cut short is not. `kind` is
    IMAGE or EXTENSION; the block spans data[start:end]; `body` is where its data sub-blocks
    start (an image's LZW code size is the byte before; an extension's label is at start + 1).
    Lazily, so that a caller can stop at the first frame too many."""
    size = len(data)
    while pos < size:
        kind = data[pos]
        if kind == IMAGE:  # descriptor, local colour table, LZW code size, data
            if pos + 10 > size:
                raise MalformedGif("the GIF is truncated")
            body = pos + 11 + _color_table_size(data[pos + 9])
        elif kind == EXTENSION:  # label, data
            body = pos + 2
        elif kind == TRAILER:
            return
        else:
            raise MalformedGif(f"unexpected byte 0x{kind:02x} in the GIF's block stream")
        end = after_sub_blocks(data, body)
        yield kind, pos, end, body
        pos = end


def after_sub_blocks(data: bytes, pos: int) -> int:
    """The position after a run of data sub-blocks (each length-prefixed, ended by a 0)."""
    size = len(data)
    while pos < size:
        length = data[pos]
        pos += 1 + length
        if not length:
            return pos
    raise MalformedGif("the GIF is truncated")


def _color_table_size(flags: int) -> int:
    return 3 << ((flags & 0x07) + 1) if flags & 0x80 else 0
