"""The IVR report: the counting rule (pure), the query over stored visits on SQLite and PostgreSQL, and
/reports/ivr over HTTP."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import pytest
import pytest_twisted

from callcenter.reports.ivr import ivr_report, summarise
from callcenter.reports.queries import Period
from tests.web.conftest import serving, signed_in


def step(node, kind, keys="", result=""):
    return {"node": node, "kind": kind, "keys": keys, "result": result}


WELCOME = [step("welcome", "play"), step("language", "language", "1"), step("screen", "screen", result="allowed")]
VISITS = [
    {"outcome": "transfer", "queue": "hotline-urgent", "lang": "zh",
     "path": WELCOME + [step("hours", "hours", result="open"), step("main_menu", "menu", "1"),
                        step("urgent_queue", "transfer")]},
    {"outcome": "transfer", "queue": "hotline-general", "lang": "en",
     "path": WELCOME + [step("hours", "hours", result="open"), step("main_menu", "menu", "3"),
                        step("general_queue", "transfer")]},
    {"outcome": "hangup", "queue": None, "lang": "zh",  # status read back, then the caller is done
     "path": WELCOME + [step("hours", "hours", result="open"), step("main_menu", "menu", "2"),
                        step("my_orders", "lookup", result="found:in_progress"), step("goodbye", "hangup")]},
    {"outcome": "caller_hangup", "queue": None, "lang": "zh",  # after hours, a message, then hangs up
     "path": WELCOME + [step("hours", "hours", result="closed"), step("after_hours", "menu", "1"),
                        step("leave_message", "message", result="recorded:12.0s")]},
    {"outcome": "hangup", "queue": None, "lang": "zh",  # after hours, a callback booked
     "path": WELCOME + [step("hours", "hours", result="closed"), step("after_hours", "menu", "2"),
                        step("callback", "callback", result="callback_booked"), step("callback_booked", "hangup")]},
    {"outcome": "caller_hangup", "queue": None, "lang": "zh",  # gave up in the main menu
     "path": WELCOME + [step("hours", "hours", result="open"), step("main_menu", "menu", result="caller_hangup")]},
    {"outcome": "hangup", "queue": None, "lang": "zh",  # restricted, left a message
     "path": WELCOME[:2] + [step("screen", "screen", result="restricted"), step("restricted_notice", "play"),
                            step("leave_message", "message", result="recorded:8.0s")]},
    {"outcome": "error", "queue": None, "lang": "zh", "path": WELCOME[:1]},
]


def test_each_visit_is_counted_once_by_where_it_went_and_what_it_used():
    """Two to queues, three served by the menus (read-back, message, callback) plus the restricted
    caller's message, one hung up, one error; keys, languages, queues and after-hours calls tallied."""
    f = summarise(VISITS)
    assert (f.visits, f.to_queue, f.served_in_ivr, f.hung_up, f.other) == (8, 2, 4, 1, 1)
    assert (f.status_read_back, f.messages, f.callbacks, f.restricted, f.after_hours) == (1, 2, 1, 1, 2)
    assert f.by_queue == {"hotline-urgent": 1, "hotline-general": 1}
    assert f.menu_keys == {"1": 1, "3": 1, "2": 1} and f.by_language == {"zh": 7, "en": 1}
    assert f.containment == 0.5
    assert summarise([]).containment is None


@dataclass
class _Call:
    """What IvrVisitStore.record reads from a finished IVR call."""

    uniqueid: str
    started_at: datetime
    outcome: str
    queue: str | None
    lang: str
    path: list
    flow: str = "hotline"
    channel: str = "PJSIP/trunk-1"
    caller: str = "13800001234"
    ended_at: datetime | None = None


def _record(engine, when, visits, flow="hotline"):
    from ivr.store import IvrVisitStore

    store = IvrVisitStore(engine)
    for i, v in enumerate(visits):
        store.record(_Call(f"{flow}-{when:%H%M}-{i}", when, v["outcome"], v["queue"], v["lang"], v["path"], flow=flow))


def test_the_report_reads_one_beijing_day_of_the_hotline_flow(db_url):
    """Visits of 2026-11-23 in Beijing time are counted; the evening before (UTC date the same) and the
    survey flow's visits are not."""
    from callcenter.db import make_engine

    engine = make_engine(db_url)
    _record(engine, datetime(2026, 11, 23, 1, 0, tzinfo=timezone.utc), VISITS)
    _record(engine, datetime(2026, 11, 22, 15, 59, tzinfo=timezone.utc), VISITS[:1])  # 23:59 on the 22nd
    _record(engine, datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc), VISITS[:2], flow="survey")
    try:
        day = ivr_report(engine, Period("day", datetime(2026, 11, 23).date()))
        assert (day.visits, day.to_queue, day.served_in_ivr, day.restricted) == (8, 2, 4, 1)
        month = ivr_report(engine, Period("month", datetime(2026, 11, 1).date()))
        assert month.visits == 9
    finally:
        engine.dispose()


@pytest.fixture
def server(db_url):
    with serving(db_url, sup1="supervisor", agent1="agent") as server:
        yield server


@pytest_twisted.ensureDeferred
async def test_the_ivr_page_shows_the_days_figures_to_supervisors_only(server):
    """/reports/ivr shows the figures, containment and two charts in Chinese and English; an empty day
    says so; a bad date is an error page; agents are refused."""
    _record(server.engine, datetime(2026, 11, 23, 1, 0, tzinfo=timezone.utc), VISITS)
    sup = await signed_in(server, "sup1")
    page = await sup.get("/reports/ivr?period=day&date=2026-11-23")
    assert page.status == 200 and page.text.count("<svg") == 2
    assert '<tr data-figure="restricted"><th>限制呼入来电</th><td>1</td></tr>' in page.text
    assert '<tr data-figure="containment"><th>自助率</th>' in page.text and "50.0%" in page.text
    english = await sup.get("/reports/ivr?period=day&date=2026-11-23&lang=en")
    assert "Served by the menus" in english.text
    empty = await sup.get("/reports/ivr?period=day&date=2026-11-20")
    assert empty.status == 200 and 'id="ivr-empty"' in empty.text
    bad = await sup.get("/reports/ivr?period=day&date=23-11-2026")
    assert bad.status == 400
    agent = await signed_in(server, "agent1")
    assert (await agent.get("/reports/ivr")).status == 403
    assert 'href="/reports/ivr"' in (await sup.get("/reports?period=day&date=2026-11-23")).text
