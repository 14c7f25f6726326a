"""``/reports`` pages, CSV export and hot topics over HTTP (supervisor/admin only)."""
from __future__ import annotations

import pytest
import pytest_twisted
from sqlalchemy import update

from tests.reports.seed import seed_calls, seed_orders
from tests.web.conftest import start_server, stop_server
from ticketing.persistence.tables import work_orders

FEATURES = ["callcenter.auth.web", "callcenter.reports.web"]


@pytest.fixture
def server(db_url):
    srv = start_server(db_url, features=FEATURES)
    yield srv
    stop_server(srv)


async def _supervisor(server):
    server.add_user("sup1", "supervisor")
    client = server.client()
    resp = await client.login("sup1")
    assert resp.status in (302, 303), resp.body
    return client


@pytest_twisted.ensureDeferred
async def test_daily_queue_report_page_has_figures_and_charts_in_both_languages(server):
    """The queue report shows the seeded figures and two inline SVG charts, in Chinese then English."""
    seed_calls(server.engine)
    client = await _supervisor(server)
    page = await client.get("/reports?period=day&date=2026-11-23&by=queue")
    assert page.status == 200
    assert "接通率" in page.text and "75.0%" in page.text and page.text.count("<svg") == 2
    assert 'class="bar"' in page.text
    english = await client.get("/reports?period=day&date=2026-11-23&by=queue&lang=en")
    assert "Answer rate" in english.text and "Service level (15 s)" in english.text


@pytest_twisted.ensureDeferred
async def test_csv_export_is_formula_safe(server):
    """A category named like a formula is exported as text; the file is an attachment with a BOM."""
    seed_orders(server.engine)
    with server.engine.begin() as conn:
        conn.execute(update(work_orders).values(category='=HYPERLINK("http://evil")'))
    client = await _supervisor(server)
    resp = await client.get("/reports/export.csv?period=month&date=2026-11&by=category")
    assert resp.status == 200 and resp.header("content-type").startswith("text/csv")
    assert "attachment" in resp.header("content-disposition")
    text = resp.body.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("名称,工单量") and "按时办结率" in text.splitlines()[0]
    assert "'=HYPERLINK" in text and "\n=HYPERLINK" not in text


@pytest_twisted.ensureDeferred
async def test_hot_topics_page_lists_the_surge(server):
    """Twelve water-outage orders today appear as surge alerts with a trend chart."""
    seed_orders(server.engine, extra_water=12)
    client = await _supervisor(server)
    page = await client.get("/reports/hot?date=2026-11-23")
    assert page.status == 200
    assert 'id="surges"' in page.text and "<td>停水</td>" in page.text and "望春街道" in page.text
    assert "water-outage" not in page.text and "wangchun" not in page.text   # names, not codes
    assert 'id="chart-trend"' in page.text


@pytest_twisted.ensureDeferred
async def test_bad_input_and_roles(server):
    """Bad dates/dimensions get a 400 page; agents are refused; anonymous users go to log in."""
    client = await _supervisor(server)
    for query in ("period=day&date=2026-02-30", "by=people", "period=week"):
        assert (await client.get("/reports?" + query)).status == 400
    assert (await client.get("/reports/hot?date=yesterday")).status == 400
    server.add_user("agent1", "agent")
    agent = server.client()
    await agent.login("agent1")
    assert (await agent.get("/reports")).status == 403
    assert (await agent.get("/reports/export.csv")).status == 403
    assert (await server.client().get("/reports")).status in (302, 303)
