"""Debian's chromium driven by Playwright, for the page tests.  A test drives the browser in a worker
thread (``deferToThread``) so that the reactor keeps serving the pages."""
from __future__ import annotations

from contextlib import contextmanager

from tests.web.conftest import PASSWORD

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
        "--no-first-run", "--disable-component-update", "--disable-sync"]


@contextmanager
def chromium_page(seen: dict | None = None, **page_options):
    """A new page in a headless chromium, closed afterwards; with ``seen``, every console message
    (a failed load, a CSP violation, a script error) is kept in ``seen["console"]``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(**page_options)
            if seen is not None:
                page.on("console", lambda m: seen.setdefault("console", []).append(m.text))
            yield page
        finally:
            browser.close()


def sign_in(page, base: str, username: str, password: str = PASSWORD, *, next_path: str = "") -> None:
    """Fill in and send the log-in form (``next_path``: where the form sends the user after)."""
    page.goto(base + "/login" + (f"?next={next_path}" if next_path else ""))
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-submit")
