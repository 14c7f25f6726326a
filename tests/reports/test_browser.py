"""A report page in Debian's chromium (Playwright): charts drawn, screenshot not blank."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import pytest_twisted
from twisted.internet.threads import deferToThread

from tests.browser import chromium_page, sign_in
from tests.reports.png import colours
from tests.reports.test_ivr import VISITS, _record
from tests.reports.seed import seed_calls
from tests.web.conftest import start_server, stop_server


@pytest.fixture
def server(sqlite_url):
    srv = start_server(sqlite_url, features=["callcenter.web.health", "callcenter.auth.web", "callcenter.reports.web"])
    yield srv
    stop_server(srv)


def drive_browser(base: str, shot_path) -> dict:
    """Runs in a worker thread (the reactor keeps serving): a supervisor opens the daily queue report."""
    seen = {}
    with chromium_page(seen, viewport={"width": 1100, "height": 900}) as page:
        sign_in(page, base, "sup1", next_path="/reports")
        page.wait_for_load_state()
        page.goto(base + "/reports?period=day&date=2026-11-23&by=queue")
        page.wait_for_selector("svg.chart")
        seen["heading"] = page.locator("h1").inner_text()
        seen["charts"] = page.locator("svg.chart").count()
        seen["bars"] = page.locator("svg.chart rect.bar").count()
        seen["chart_boxes"] = [page.locator("svg.chart").nth(i).bounding_box()
                               for i in range(seen["charts"])]
        seen["bar_widths"] = page.locator("svg.chart rect.bar").evaluate_all(
            "els => els.map(e => e.getBBox().width)")
        page.screenshot(path=str(shot_path), full_page=True)
        seen["chart_png"] = page.locator("#chart-answer-rate").screenshot()
        page.click('a[href="/reports/ivr"]')
        page.goto(base + "/reports/ivr?period=day&date=2026-11-23")
        page.wait_for_selector("#chart-ivr-outcomes")
        seen["ivr_heading"] = page.locator("h1").inner_text()
        seen["ivr_bars"] = page.locator("#chart-ivr-outcomes rect.bar").count()
        seen["ivr_restricted"] = page.locator('tr[data-figure="restricted"] td').inner_text()
    return seen


@pytest.mark.browser
@pytest_twisted.ensureDeferred
async def test_report_page_draws_its_charts_in_chromium(server, tmp_path):
    """With seeded calls, chromium shows two SVG charts with non-empty bars; the screenshot is not blank.
    The IVR report, reached by its link, draws its outcome bars and counts the restricted caller; the
    console stays clean."""
    seed_calls(server.engine)
    _record(server.engine, datetime(2026, 11, 23, 1, 0, tzinfo=timezone.utc), VISITS)
    server.add_user("sup1", "supervisor")
    shot = tmp_path / "report.png"
    seen = await deferToThread(drive_browser, server.base, shot)
    assert seen["heading"].startswith("统计报表")
    assert seen["charts"] == 2 and seen["bars"] == 4  # two queues x two charts
    assert all(box and box["width"] > 100 and box["height"] > 40 for box in seen["chart_boxes"])
    assert all(w > 1 for w in seen["bar_widths"])
    assert len(colours(shot.read_bytes())) > 10
    chart_colours = colours(seen["chart_png"])
    assert (0x2f, 0x6f, 0xb0) in {tuple(c) for c in chart_colours}  # the bar fill is on screen
    assert seen["ivr_heading"].startswith("语音导航") and seen["ivr_restricted"] == "1"
    assert seen["ivr_bars"] == 4  # to a queue, served by the menus, hung up, error: one bar each
    assert "console" not in seen, seen
