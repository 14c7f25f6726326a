"""Open311 ``GET /open311/v2/requests.json`` filters in the database, over real HTTP.

More than 1000 newer orders sit in front of the ones the filters should find,
so a filter applied to "the newest N rows" would miss them; SQLite and PostgreSQL.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest
import pytest_twisted

from ticketing.service import Actor
from tests.ticketing.helpers import fields
from tests.web.conftest import start_server, stop_server

BASE = "/open311/v2/requests.json"
AGENT = Actor("agent-1", "agent")
DISPATCHER = Actor("disp-1", "dispatcher")
NEWER = 1001  # more than the 200 rows the old code looked at, and more than one answer holds


@pytest.fixture
def web(db_url):
    server = start_server(db_url)
    yield server
    stop_server(server)


def _q(when: datetime) -> str:
    return quote(when.isoformat(), safe="")


@pytest_twisted.ensureDeferred
async def test_filters_find_matches_behind_a_thousand_newer_orders(web):
    """service_code, status, a date range and ids each find the old orders; the default is
    the last 90 days, at most 1000 answers, newest first; ranges over 90 days are refused."""
    svc = web.deps.workorders
    now = datetime.now(timezone.utc)
    ancient = svc.create(fields(category="garbage-collection"), AGENT, now - timedelta(days=120))["number"]
    construction = svc.create(fields(category="illegal-construction"), AGENT, now - timedelta(days=30))["number"]
    cancelled = svc.create(fields(), AGENT, now - timedelta(days=29))["number"]
    svc.perform(cancelled, "cancel", {"reason": "来电人撤回"}, DISPATCHER, now - timedelta(days=29))
    newer = svc.create_many([fields(summary=f"新工单 {i}") for i in range(NEWER)], AGENT, now - timedelta(days=1))
    client = web.client(origin=False)

    async def ids(query: str) -> list[str]:
        resp = await client.get(f"{BASE}?{query}")
        assert resp.status == 200, resp.body
        return [r["service_request_id"] for r in resp.json]

    assert await ids("service_code=illegal-construction") == [construction]
    assert await ids("status=closed") == [cancelled]
    assert await ids("status=closed&service_code=street-vending") == [cancelled]
    assert await ids("status=open&service_code=illegal-construction") == [construction]
    assert await ids("status=closed&service_code=illegal-construction") == []
    window = f"start_date={_q(now - timedelta(days=31))}&end_date={_q(now - timedelta(days=28))}"
    assert await ids(window) == [cancelled, construction]  # newest first
    # one date given: the 90 days from (or up to) it
    assert await ids(f"start_date={_q(now - timedelta(days=121))}") == [ancient]
    assert await ids(f"start_date={_q(now - timedelta(days=100))}") == [cancelled, construction]
    assert await ids(f"end_date={_q(now - timedelta(days=100))}") == [ancient]
    assert await ids(f"service_request_id={construction},{ancient},99999,abc") == [construction, ancient]

    default = await ids("")
    assert len(default) == 1000 and default[0] == newer[-1]["number"]
    assert ancient not in default  # older than 90 days
    everything = await ids(f"start_date={_q(now - timedelta(days=89))}&end_date={_q(now)}")
    assert len(everything) == 1000

    for query, error_id in (
            (f"start_date={_q(now - timedelta(days=200))}&end_date={_q(now)}", "open311.date_range_too_long"),
            (f"start_date={_q(now)}&end_date={_q(now - timedelta(days=1))}", "open311.bad_date_range")):
        resp = await client.get(f"{BASE}?{query}")
        assert resp.status == 400 and resp.json[0]["error_id"] == error_id, resp.body


def test_service_query_validates_its_filters(web):
    """The service's query refuses unknown categories, statuses, naive dates and huge limits
    with one ValidationFailed naming each problem."""
    from ticketing.domain.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as info:
        web.deps.workorders.query(AGENT, category="nope", status_kind="pending",
                                  created_from=datetime(2026, 1, 1), limit=5000)
    assert set(info.value.details) == {"category", "status_kind", "created_from", "limit"}
    assert web.deps.workorders.query(AGENT, numbers=["x", "1 OR 1=1"]) == []
