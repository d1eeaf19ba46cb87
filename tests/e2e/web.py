"""What the browser tests do on the upload page alike."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, ConsoleMessage, Page, expect


def sign_in(page: Page, url: str, name: str) -> None:
    """The page's local sign-in as `name` (a user of its own: the local stack's token's sub)."""
    page.goto(url)
    page.get_by_label("Your name").fill(name)
    page.locator("#local-form").get_by_role("button", name="Sign in").click()
    expect(page.locator("#who")).to_have_text(name)
    expect(page.get_by_role("heading", name="Your images")).to_be_visible()


@contextmanager
def watched_page(
    browser: Browser,
    *,
    init_script: str | None = None,
    console_errors: bool = False,
    permissions: list[str] | None = None,
) -> Iterator[Page]:
    """A page in a fresh context (no storage or cache) that must end with no page error, and
    with `console_errors`, no console error either (a CSP refusal is one)."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, permissions=permissions or [])
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    if console_errors:
        page.on("console", lambda message: problems.extend(console_error(message)))
    if init_script:
        page.add_init_script(init_script)
    yield page
    context.close()
    assert not problems, problems


def console_error(message: ConsoleMessage) -> list[str]:
    """A console message that is an error of the page's, as a line; [] for any other."""
    # The browser's own /favicon.ico request is no page's doing.
    if message.type != "error" or message.location.get("url", "").endswith("/favicon.ico"):
        return []
    return [f"{message.text} ({message.location.get('url')})"]
