"""Work-order figures for the wallboard, read from the real ticketing tables on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import insert, update

from callcenter.db import make_engine
from callcenter.wallboard.feed import WallboardFeed
from callcenter.wallboard.projection import Wallboard
from callcenter.wallboard.workorders import orders_at_risk, workorder_figures
from ticketing.persistence.tables import sla_events, work_orders
from ticketing.service import Actor, WorkOrderService
from tests.web.conftest import ORDER, _ticketing_parts
from tests.web.conftest import test_config as web_config

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc)  # 11:00 Shanghai, a Monday
DAY_START = datetime(2026, 11, 22, 16, 0, tzinfo=timezone.utc)
AGENT = Actor("agent1", "agent")
DISPATCHER = Actor("disp1", "dispatcher")


def _service(db_url):
    engine = make_engine(db_url)
    taxonomy, calendar = _ticketing_parts(web_config(db_url))
    return engine, WorkOrderService(engine, taxonomy, calendar)


def test_open_red_breaches_on_time_and_satisfaction(db_url):
    """Two open orders count per department; one pushed past its deadline is red and at risk; a breach
    fired today counts; an order replied and rated 5 today counts as closed on time and satisfied."""
    engine, svc = _service(db_url)
    late = svc.create(ORDER, AGENT, NOW - timedelta(hours=2))["number"]
    svc.perform(late, "dispatch", {}, DISPATCHER, NOW - timedelta(hours=2))
    fine = svc.create(ORDER, AGENT, NOW - timedelta(hours=1))["number"]
    svc.perform(fine, "dispatch", {}, DISPATCHER, NOW - timedelta(hours=1))
    dept = svc.get(fine, AGENT)["department"]
    staff = Actor("dept1", "department", dept)
    done = svc.create(ORDER, AGENT, NOW - timedelta(hours=3))["number"]
    svc.perform(done, "dispatch", {}, DISPATCHER, NOW - timedelta(hours=3))
    for action, params in (("acknowledge", {}), ("start", {}), ("reply", {"reply": "已处理 / fixed"})):
        svc.perform(done, action, params, staff, NOW - timedelta(minutes=30))
    svc.perform(done, "callback-result", {"outcome": "satisfied", "satisfaction": 5}, AGENT, NOW - timedelta(minutes=5))
    with engine.begin() as conn:
        conn.execute(update(work_orders).where(work_orders.c.number == late)
                     .values(next_due_at=NOW - timedelta(minutes=10)))
        late_id = conn.execute(work_orders.select().where(work_orders.c.number == late)).one().id
        conn.execute(insert(sla_events).values(timer_id=999, order_id=late_id, kind="acknowledge", phase="breach",
                                               due_at=NOW - timedelta(minutes=10), fired_at=NOW - timedelta(minutes=9),
                                               worker="test"))
    figures = workorder_figures(engine, NOW, DAY_START)
    assert figures["open_by_department"] == {dept: 2} and figures["open_total"] == 2
    assert figures["sla_red"] == 1 and figures["breaches_today"] == 1
    assert figures["closed_today"] == 1 and figures["on_time_rate"] == 1.0
    assert figures["rated_today"] == 1 and figures["satisfaction_rate"] == 1.0 and figures["satisfaction_mean"] == 5
    assert orders_at_risk(engine, NOW) == [late]
    from callcenter.callbacks.tables import callback_jobs
    from callcenter.wallboard.workorders import satisfaction_callbacks_pending

    base = {"round": 0, "phone": "13800000001", "category": "x", "urgency": "normal", "attempts": 0,
            "due_at": NOW, "created_at": NOW, "updated_at": NOW}
    with engine.begin() as conn:
        conn.execute(insert(callback_jobs), [dict(base, order_number="A1", state="scheduled"),
                                             dict(base, order_number="A2", state="done", phone="13800000002")])
    assert satisfaction_callbacks_pending(engine) == 1
    tomorrow = workorder_figures(engine, NOW + timedelta(days=1), DAY_START + timedelta(days=1))
    assert tomorrow["breaches_today"] == 0 and tomorrow["closed_today"] == 0
    engine.dispose()


def test_feed_counts_breach_events_and_refreshes_on_workorder_events(db_url):
    """An sla_breach event from the service bumps hotline_workorders_sla_breaches_total and refreshes the
    projection's work-order figures (synchronous runner, Clock time)."""
    from twisted.internet.task import Clock

    from callcenter import metrics
    from callcenter.web.sse import EventStream

    engine, svc = _service(db_url)
    clock = Clock()
    clock.advance(NOW.timestamp())
    board = Wallboard()
    feed = WallboardFeed(board, EventStream(clock), clock, engine=engine, workorders=svc)
    feed.start()
    before = metrics.REGISTRY.get_sample_value("hotline_workorders_sla_breaches_total", {"kind": "resolve"}) or 0
    number = svc.create(ORDER, AGENT, NOW)["number"]
    svc.perform(number, "dispatch", {}, DISPATCHER, NOW)
    svc.publish([{"event": "sla_breach", "number": number, "kind": "resolve"}])
    clock.advance(feed.min_refresh_interval)  # events refresh at most once per interval (the start refreshed)
    after = metrics.REGISTRY.get_sample_value("hotline_workorders_sla_breaches_total", {"kind": "resolve"})
    assert after == before + 1
    assert board.snapshot(NOW)["workorders"]["open_total"] == 1
    dept = svc.get(number, AGENT)["department"]
    assert metrics.REGISTRY.get_sample_value("hotline_workorders_open", {"department": dept}) == 1
    feed.stop()
    engine.dispose()
