"""The share page: one image, its placeholder painted first, Open Graph tags for link previews.

Pure: values in, HTML and its headers out. No script anywhere: the Content-Security-Policy forbids
them (`default-src 'none'`, no `script-src`); the one inline stylesheet is allowed by its hash, so
not even inline styles need `'unsafe-inline'`. Every value from the user (the filename) is escaped.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from urllib.parse import urlsplit

from shoebox.variants import ORIGINAL

# Formats every current browser shows: an original in another (HEIC) stays out of `srcset`.
WEB_FORMATS = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif", "image/avif"})
# Short: a revoked link stops showing from caches soon; the image URLs inside live far longer.
CACHE_CONTROL = "public, max-age=60"
PREVIEW_NAME = "1024"  # what link previews show: a card is rarely wider


@dataclass(frozen=True)
class Picture:
    """One variant as the page uses it."""

    name: str  # one of VARIANT_NAMES
    url: str  # its signed CDN URL
    width: int
    height: int
    content_type: str


@dataclass(frozen=True)
class Page:
    html: str
    headers: dict[str, str]


def preview(pictures: Sequence[Picture]) -> Picture:
    """The picture a link preview shows: the 1024, else the largest thumbnail, else the original."""
    by_name = {picture.name: picture for picture in pictures}
    thumbnails = [picture for picture in pictures if picture.name != ORIGINAL]
    if PREVIEW_NAME in by_name:
        return by_name[PREVIEW_NAME]
    if thumbnails:
        return max(thumbnails, key=lambda picture: picture.width)
    return pictures[0]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def render(
    *,
    title: str,
    page_url: str,
    preview_url: str,
    pictures: Sequence[Picture],
    placeholder_url: str | None,
) -> Page:
    """The page of a shared image. `pictures` are its variants (the original first);
    `preview_url` is the stable URL of `preview(pictures)` for link previews (the share's own
    `/s/{token}/{variant}`, which outlives any one signed URL); `placeholder_url` a data: URL."""
    if not pictures:
        raise ValueError("a shared image has at least its original")
    shown = [picture for picture in pictures if picture.content_type in WEB_FORMATS] or list(pictures)
    original = pictures[0]
    first = preview(shown)
    width, height = original.width or first.width, original.height or first.height
    # The box is sized before any byte loads (so the placeholder shows at once): as large as
    # fits the window, never larger than the image itself.
    box = f"min(100vw, calc(100vh * {width} / {height}), {width}px)"
    background = f"url({placeholder_url}) center / 100% 100% no-repeat, " if placeholder_url else ""
    style = (
        "html,body{margin:0;height:100%;background:#111}"
        "main{min-height:100%;display:flex;align-items:center;justify-content:center}"
        f"img{{display:block;width:{box};height:auto;aspect-ratio:{width}/{height};"
        f"background:{background}#2a2a2a}}"
    )
    style_hash = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    srcset = ", ".join(f"{picture.url} {picture.width}w" for picture in shown)
    og = preview(pictures)
    text = escape(title)
    html = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>{text}</title>
<meta property="og:type" content="website">
<meta property="og:title" content="{text}">
<meta property="og:url" content="{escape(page_url)}">
<meta property="og:image" content="{escape(preview_url)}">
<meta property="og:image:type" content="{escape(og.content_type)}">
<meta property="og:image:width" content="{og.width}">
<meta property="og:image:height" content="{og.height}">
<meta property="og:image:alt" content="{text}">
<meta name="twitter:card" content="summary_large_image">
<style>{style}</style>
</head>
<body>
<main>
<img src="{escape(first.url)}" srcset="{escape(srcset)}" sizes="{box}"
 width="{width}" height="{height}" alt="{text}">
</main>
</body>
</html>
"""
    image_sources = " ".join(sorted({_origin(picture.url) for picture in pictures} | {"data:"}))
    csp = (
        f"default-src 'none'; img-src {image_sources}; style-src 'sha256-{style_hash}'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    headers = {
        "content-security-policy": csp,
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",  # the page's URL is the link: it must not leak
        "cache-control": CACHE_CONTROL,
    }
    return Page(html, headers)
