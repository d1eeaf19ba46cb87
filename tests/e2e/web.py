"""What the browser tests do on the upload page alike."""

from __future__ import annotations

from playwright.sync_api import Page, expect


def sign_in(page: Page, url: str, name: str) -> None:
    """The page's local sign-in as `name` (a user of its own: the local stack's token's sub)."""
    page.goto(url)
    page.get_by_label("Your name").fill(name)
    page.locator("#local-form").get_by_role("button", name="Sign in").click()
    expect(page.locator("#who")).to_have_text(name)
    expect(page.get_by_role("heading", name="Your images")).to_be_visible()
