"""One clock: pages judge and show time by the process's clock (the demo's ScaledClock), not the wall.

The demo runs its hotline on a clock that starts at 09:00 of a past working day and goes 60× faster;
the SLA colours, report dates and waits of its pages must follow that clock, while log-in sessions
(about real people) keep real time.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import pytest_twisted
from twisted.internet import task

from tests.web.conftest import ORDER, staff_for, start_server, stop_server

CST = ZoneInfo("Asia/Shanghai")
#: a Tuesday morning months before the wall clock: with the real clock every order would be overdue
HOTLINE_START = datetime(2026, 3, 10, 10, 0, tzinfo=CST)


@pytest.fixture
def clocked(db_url):
    clock = task.Clock()
    clock.advance(HOTLINE_START.timestamp())
    server = start_server(db_url, clock=clock)
    server.clock = clock
    yield server
    stop_server(server)


@pytest_twisted.ensureDeferred
async def test_sla_colour_follows_the_hotline_clock_not_the_wall(clocked):
    """An order filed and dispatched on the hotline clock is green on /dept, and turns red only when that
    clock (not the wall clock, months later) passes its deadline."""
    staff = await staff_for(clocked)
    created = await staff.agent.post("/api/v1/workorders", json=ORDER)
    number = created.json["number"]
    assert created.json["created_at"].startswith("2026-03-10T02:00")   # stamped by the hotline clock (UTC)
    assert (await staff.dispatcher.post(f"/api/v1/workorders/{number}/dispatch", json={})).status == 200
    browser = clocked.client()
    await browser.login("dept1")
    assert 'data-sla="green"' in (await browser.get("/dept")).text

    clocked.clock.advance(timedelta(days=40).total_seconds())
    assert 'data-sla="red"' in (await browser.get("/dept")).text


@pytest_twisted.ensureDeferred
async def test_report_opens_on_the_hotline_clocks_day(clocked):
    """/reports with no date shows the hotline clock's local day (the demo's day, where its data is)."""
    clocked.add_user("sup1", "supervisor")
    browser = clocked.client()
    await browser.login("sup1")
    page = await browser.get("/reports")
    assert page.status == 200 and 'value="2026-03-10"' in page.text


@pytest_twisted.ensureDeferred
async def test_sessions_keep_real_time_while_the_hotline_clock_races(clocked):
    """A session idles out after 30 real minutes; 40 days of hotline clock (a fast demo) do not end it."""
    clocked.add_user("sup1", "supervisor")
    browser = clocked.client()
    assert (await browser.login("sup1")).status == 303
    clocked.clock.advance(timedelta(days=40).total_seconds())
    assert (await browser.get("/supervisor")).status == 200
    assert clocked.deps.now().date() == (HOTLINE_START + timedelta(days=40)).date()
    assert abs((clocked.deps.wall_now() - datetime.now(CST)).total_seconds()) < 60
