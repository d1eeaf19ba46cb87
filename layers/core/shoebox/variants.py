"""An image's variants: the thumbnail sizes, what a variant is, and every object key an image can have.

The one place these facts live: the thumbnail step makes THUMBNAIL_SIZES, the record stores
Variants, the API shows them in VARIANT_NAMES order, and a delete removes `object_keys`.
"""

from __future__ import annotations

from dataclasses import dataclass

from shoebox import keys

THUMBNAIL_SIZES = (256, 512, 1024)
ORIGINAL = "original"
# The API's order: the original first, then the thumbnails, smallest first.
VARIANT_NAMES = (ORIGINAL, *(str(size) for size in THUMBNAIL_SIZES))


@dataclass(frozen=True)
class Variant:
    """One stored rendition of an image: the original or a thumbnail, and where it is."""

    name: str  # one of VARIANT_NAMES
    width: int
    height: int
    content_type: str
    key: str  # in the media bucket


def variant_key(image_id: str, name: str) -> str:
    """The media-bucket key of a variant: the original, or a thumbnail named by its size."""
    return keys.original_key(image_id) if name == ORIGINAL else keys.thumbnail_key(image_id, int(name))


def object_keys(image_id: str) -> dict[str, list[str]]:
    """Every object an image can have, by bucket role ("uploads", "media"): deterministic, so
    removing them needs no listing."""
    return {
        "uploads": [keys.incoming_key(image_id)],
        "media": [variant_key(image_id, name) for name in VARIANT_NAMES],
    }
