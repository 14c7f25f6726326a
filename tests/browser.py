"""Debian's chromium driven by Playwright, for the page tests.  A test drives the browser in a worker
thread (``deferToThread``) so that the reactor keeps serving the pages."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

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


#: where browser tests leave their screenshots (a test artefact; gitignored)
ARTEFACTS = Path(os.environ.get("CALLCENTER_ARTEFACTS") or Path(__file__).resolve().parents[1] / "test-artefacts")


def screenshot(page, name: str) -> str:
    """Save the page as ``<artefacts>/screens/<name>.png`` (the whole page) and return the path."""
    out = ARTEFACTS / "screens"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return str(path)


def _axe_source() -> str:
    from importlib.resources import files

    return files("axe_playwright_python").joinpath("axe.min.js").read_text("utf-8")


def accessibility_violations(page, impacts=("serious", "critical")) -> list[str]:
    """axe-core's WCAG 2 A/AA violations of ``impacts`` on the page, as ``rule: target (impact)`` lines.
    axe is evaluated through the DevTools protocol, so the pages' CSP stays in force for everything else."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_axe_source() + "\n;true")
    found = page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa']},
                                           resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       targets: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""")
    return [f"{v['id']}: {', '.join(v['targets'])} ({v['impact']}: {v['help']})" for v in found
            if v["impact"] in impacts]
