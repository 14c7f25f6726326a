"""Every role's pages in a real browser, on a running demo (`callcenter demo` in a subprocess).

Signed in as each demo account, chromium at 1366×768 opens each page of that role in Chinese and in
English and the test asserts: no console error, no raw code or ISO timestamp in the visible text, no
serious or critical axe-core (WCAG 2 A/AA) violation.  Every page is saved as a screenshot under
``test-artefacts/screens/`` (CALLCENTER_ARTEFACTS overrides) for people to look at.  The agent desk is
also checked as a workstation: with a live call, the call panel, transcript, draft form and tabs fit
1366×768 without scrolling the page, and F2 makes the agent ready.
"""
from __future__ import annotations

import re
import signal
import threading
import time
from urllib.parse import quote

import pytest

from tests.browser import accessibility_violations, chromium_page, screenshot, sign_in
from tests.demo.test_demo import _start, _until_started
from tests.web.human import code_words, raw_findings

PASSWORD = "hotline-demo"
USERNAMES = ("agent1", "agent2", "dispatcher", "water", "urban", "supervisor", "admin")
VIEWPORT = {"width": 1366, "height": 768}

#: demo account → the pages of its role ({order}: an order the account may open)
PAGES = {
    "agent1": ["/agent", "/callbacks", "/wallboard"],
    "dispatcher": ["/dispatch", "/dept", "/callbacks"],
    "water": ["/dept", "/dept/orders/{order}"],
    "supervisor": ["/supervisor", "/supervisor/calls", "/reports", "/reports/ivr", "/supervisor/restricted",
                   "/wallboard", "/dept/orders/{order}"],
    "admin": ["/admin/users"],
}


@pytest.fixture(scope="module")
def demo_web(tmp_path_factory):
    """A running demo (runs until stopped); yields its web address."""
    tmp_path = tmp_path_factory.mktemp("demo-pages")
    # few simulated agents, so the browser's agent1 gets a call soon
    proc = _start(tmp_path, "--agents", "2", "--rate", "240")
    lines: list[str] = []
    try:
        web = _until_started(proc, lines)
        drain = threading.Thread(target=lambda: [lines.append(x) for x in proc.stdout], daemon=True)
        drain.start()
        yield web
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except Exception:
                proc.kill()
                proc.wait()


def _names():
    from callcenter.web.names import Names
    from ticketing.taxonomy import load_taxonomy

    return code_words(Names(load_taxonomy()))


def _check(page, name: str, lang: str, codes: dict, console: list, problems: list) -> None:
    page.wait_for_load_state("networkidle") if "/wallboard" not in page.url and "/agent" not in page.url \
        and "/calls" not in page.url else page.wait_for_timeout(1500)
    text = page.inner_text("body")
    # user names (the admin's account list; "water" is a demo account, not the department code here)
    problems += [f"{name}: {p}" for p in raw_findings(text, lang, codes, allowed=USERNAMES)]
    problems += [f"{name}: axe {v}" for v in accessibility_violations(page)]
    problems += [f"{name}: console {m}" for m in console]
    console.clear()
    screenshot(page, name)


def _an_order(page, base: str, within_s: float = 90.0) -> str:
    """A work-order number the signed-in user may open: the first of their /dept queue.  The demo files
    orders as it runs, and on a loaded machine a department's first one may still be on its way: the
    queue is read again every 2 s for up to ``within_s`` seconds."""
    deadline = time.monotonic() + within_s
    while True:
        page.goto(base + "/dept")
        link = page.locator('#queue a[href^="/dept/orders/"]').first
        if link.count():
            return link.inner_text().strip()
        if time.monotonic() > deadline:
            return ""
        page.wait_for_timeout(2000)


def test_every_roles_pages_read_as_words_in_a_real_browser(demo_web):
    """zh and en, each role's pages: no console error, raw code, ISO time or serious accessibility
    violation; screenshots kept."""
    codes = _names()
    problems: list[str] = []
    for user, paths in PAGES.items():
        console: list[str] = []
        with chromium_page(viewport=VIEWPORT) as page:
            page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: console.append(str(e)))
            sign_in(page, demo_web, user, PASSWORD)
            page.wait_for_load_state("networkidle")
            order = _an_order(page, demo_web) if any("{order}" in p for p in paths) else ""
            for path in paths:
                if "{order}" in path and not order:
                    problems.append(f"{user}: no order to open for {path}")
                    continue
                for lang in ("zh", "en"):
                    url = demo_web + path.format(order=quote(order)) + f"?lang={lang}"
                    response = page.goto(url)
                    if response is None or response.status != 200:
                        problems.append(f"{user} {path} {lang}: HTTP {response and response.status}")
                        continue
                    slug = re.sub(r"[^a-z0-9]+", "-", path.replace("{order}", "order").lower()).strip("-")
                    _check(page, f"{user}-{slug}-{lang}", lang, codes, console, problems)
    assert problems == [], "\n".join(problems)


def test_citizen_pages_read_as_words_for_a_visitor(demo_web):
    """The public portal (no account), zh and en: no console error, raw code, ISO time or serious
    accessibility violation; screenshots kept."""
    codes = _names()
    problems: list[str] = []
    console: list[str] = []
    with chromium_page(viewport={"width": 390, "height": 844}) as page:   # a phone
        page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
        for path in ("/", "/report", "/track"):
            for lang in ("zh", "en"):
                response = page.goto(demo_web + path + f"?lang={lang}")
                if response is None or response.status != 200:
                    problems.append(f"visitor {path} {lang}: HTTP {response and response.status}")
                    continue
                slug = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "home"
                _check(page, f"visitor-{slug}-{lang}", lang, codes, console, problems)
    assert problems == [], "\n".join(problems)


def test_agent_desk_is_a_workstation_at_1366x768(demo_web):
    """agent1 goes ready with F2, a demo call rings and connects; with the call on screen the call panel,
    live talk timer, transcript, draft form and history tabs are all visible and the page does not scroll."""
    from playwright.sync_api import expect

    with chromium_page(viewport=VIEWPORT) as page:
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        refused: list[str] = []   # which request a 'Failed to load resource' was, for the failure message
        page.on("response", lambda r: refused.append(f"{r.status} {r.request.method} {r.url}") if r.status >= 400 else None)
        sign_in(page, demo_web, "agent1", PASSWORD)
        page.wait_for_url(demo_web + "/agent")
        page.click("#btn-login")
        expect(page.locator("#agent-state")).not_to_have_attribute("data-state", "logged_out")
        page.keyboard.press("F2")
        expect(page.locator("#call-state")).to_have_attribute("data-state", "connected", timeout=90_000)
        expect(page.locator("#call-timer")).to_have_text(re.compile(r"^通话 \d+ (秒|分)"), timeout=5_000)
        for panel in ("#call-panel", "#transcript-panel", "#draft-panel", "#side-panel", "#btn-submit",
                      "#btn-hangup", "#ivr-path"):
            box = page.locator(panel).bounding_box()
            assert box is not None and box["y"] + min(box["height"], 40) <= VIEWPORT["height"], (panel, box)
        scrolls = page.evaluate("() => document.documentElement.scrollHeight > window.innerHeight + 1")
        path = page.locator("#ivr-path").inner_text()
        screenshot(page, "agent1-desk-on-a-call-zh")
        page.click("#tab-knowledge")
        expect(page.locator("#pane-knowledge")).to_be_visible()
        # The console is read before the hang-up: the demo's caller may have hung up first on a slow
        # machine, and the desk's hang-up is then refused (400 routing.not_on_call), which is right.
        console_errors = list(errors)
        page.click("#btn-hangup")
    assert not scrolls, "the desk scrolls at 1366x768"
    assert path and not re.search(r"[a-z]+_[a-z_]+", path), path   # IVR nodes by name, not node ids
    assert console_errors == [], refused


def test_wallboard_and_reports_tell_the_same_day(demo_web):
    """The wallboard's answered and abandoned calls today agree with the report of the demo's day (one
    clock: the report opens on the demo's date): the report, read between two readings of the board
    while calls keep flowing, holds at least what the board had counted and no more than it has now."""
    import csv
    import io

    from callcenter.reports.web import CALL_COLUMNS

    with chromium_page(viewport=VIEWPORT) as page:
        sign_in(page, demo_web, "supervisor", PASSWORD)
        page.wait_for_load_state("networkidle")
        columns = ("key",) + CALL_COLUMNS

        def reported() -> dict:
            text = page.request.get(demo_web + "/reports/export.csv?period=day&by=queue&lang=en").text()
            rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))[1:]
            return {c: sum(int(float(r[columns.index(c)] or 0)) for r in rows) for c in ("answered", "abandoned")}

        before = page.request.get(demo_web + "/api/v1/wallboard").json()["totals"]
        # the ACD stores each queue call in order, off the reactor thread: give the writes time to land
        for _ in range(30):
            total = reported()
            if all(total[f] >= before[f] for f in ("answered", "abandoned")):
                break
            page.wait_for_timeout(1000)
        after = page.request.get(demo_web + "/api/v1/wallboard").json()["totals"]
    assert before["answered"] > 0
    for figure in ("answered", "abandoned"):   # what the board had counted is in the report, nothing more
        assert before[figure] <= total[figure] <= after[figure], (figure, before, total, after)
