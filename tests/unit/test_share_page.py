"""The share page's pure parts: which variant previews a link, what the page shows and allows."""

from __future__ import annotations

import pytest
from view_share.page import Picture, preview, render

CDN = "https://d111111abcdef8.cloudfront.net"


def picture(name: str, width: int, content_type: str = "image/webp") -> Picture:
    url = f"{CDN}/{name}?Expires=1&Signature=a~b_&Key-Pair-Id=K"
    return Picture(name, url, width, width * 3 // 4, content_type)


ORIGINAL = picture("original", 4032, "image/jpeg")


@pytest.mark.parametrize(
    ("pictures", "expected"),
    [
        ([ORIGINAL, picture("256", 256), picture("512", 512), picture("1024", 1024)], "1024"),
        ([ORIGINAL, picture("256", 256), picture("512", 512)], "512"),
        ([picture("original", 200, "image/png")], "original"),
    ],
)
def test_the_preview_is_the_1024_or_the_largest_thumbnail(pictures: list[Picture], expected: str) -> None:
    assert preview(pictures).name == expected


def test_signed_urls_are_escaped_in_attributes() -> None:
    page = render(
        title="a & b",
        page_url="https://api.example.com/s/t",
        preview_url="https://api.example.com/s/t/1024",
        pictures=[ORIGINAL, picture("1024", 1024)],
        placeholder_url=None,
    )
    assert "&amp;Signature=" in page.html
    assert "&Signature=" not in page.html
    assert "<title>a &amp; b</title>" in page.html


def test_images_come_only_from_the_cdn_and_data_urls() -> None:
    page = render(
        title="x",
        page_url="http://127.0.0.1:3000/s/t",
        preview_url="http://127.0.0.1:3000/s/t/original",
        pictures=[Picture("original", "http://127.0.0.1:3000/cdn/originals/x?E=1", 10, 10, "image/png")],
        placeholder_url="data:image/png;base64,AAAA",
    )
    csp = page.headers["content-security-policy"]
    assert "img-src data: http://127.0.0.1:3000;" in csp
    assert "script" not in csp


def test_a_page_needs_a_picture() -> None:
    with pytest.raises(ValueError, match="at least its original"):
        render(title="x", page_url="u", preview_url="u", pictures=[], placeholder_url=None)
