"""SLA timers fire exactly once: warnings, breaches with automatic 督办, a
Twisted service on a fake clock, and two PostgreSQL workers in parallel."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import pytest_twisted
from sqlalchemy import func, select
from twisted.internet import task
from twisted.python.threadpool import ThreadPool

from callcenter.db import make_engine
from ticketing.persistence.bulk import load_due_orders
from ticketing.persistence.tables import sla_events, sla_timers, work_order_history, work_orders
from ticketing.service import Actor, WorkOrderService
from ticketing.sla_worker import SlaWorker, claim_due
from tests.ticketing.helpers import CALENDAR, CST, TAXONOMY, cst, fields

NOW = cst(2026, 11, 23, 10, 0)
AGENT, DISPATCHER = Actor("a", "agent"), Actor("d", "dispatcher")
URBAN = Actor("u", "department", "urban-management")


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def service(engine):
    return WorkOrderService(engine, TAXONOMY, CALENDAR)


def scalar(engine, stmt):
    with engine.connect() as conn:
        return conn.execute(stmt).scalar_one()


def test_warning_then_breach_then_nothing(service, engine):
    """Ack warning fires at 75 %, breach at the deadline (raising 督办), each exactly once."""
    n = service.create(fields(), AGENT, NOW)["number"]
    service.perform(n, "dispatch", {}, DISPATCHER, NOW)
    assert claim_due(engine, cst(2026, 11, 23, 14, 29)) == []
    fired = claim_due(engine, cst(2026, 11, 23, 14, 31), worker="w1")
    assert [(f["kind"], f["phase"]) for f in fired] == [("acknowledge", "warning")]
    assert claim_due(engine, cst(2026, 11, 23, 14, 32)) == []
    assert service.get(n, AGENT, now=cst(2026, 11, 23, 14, 31))["sla_level"] == "yellow"
    fired = claim_due(engine, cst(2026, 11, 23, 15, 31))
    assert [(f["kind"], f["phase"]) for f in fired] == [("acknowledge", "breach")]
    o = service.get(n, AGENT, now=cst(2026, 11, 23, 15, 31))
    assert o["supervised"] and o["sla_level"] == "red"
    last = service.history(n, AGENT)[-1]
    assert (last["actor"], last["action"], last["details"]["automatic"]) == ("system:sla", "supervise", True)
    assert claim_due(engine, cst(2026, 11, 24, 9, 0)) == []
    assert scalar(engine, select(func.count()).select_from(sla_events)) == 2
    # the order is still editable after the worker bumped its version
    o = service.perform(n, "acknowledge", {}, URBAN, cst(2026, 11, 24, 9, 0))
    assert "acknowledge" not in o["deadlines"]


def test_met_deadlines_never_fire(service, engine):
    """An order acknowledged in time has no acknowledge timers left to fire."""
    n = service.create(fields(), AGENT, NOW)["number"]
    service.perform(n, "dispatch", {}, DISPATCHER, NOW)
    service.perform(n, "acknowledge", {}, URBAN, NOW + timedelta(minutes=10))
    assert claim_due(engine, cst(2026, 11, 23, 17, 0)) == []
    assert not service.get(n, AGENT)["supervised"]


def test_paused_order_does_not_fire_and_resumed_fires_later(service, engine):
    """While returned, no timer fires; after review the moved deadline fires at its new time."""
    n = service.create(fields(), AGENT, NOW)["number"]
    service.perform(n, "dispatch", {}, DISPATCHER, NOW)
    service.perform(n, "return", {"reason_code": "other", "reason": "?"}, URBAN, NOW + timedelta(hours=1))
    assert claim_due(engine, cst(2026, 11, 25, 9, 0)) == []
    service.perform(n, "review-return", {"approve": False}, DISPATCHER, cst(2026, 11, 25, 9, 0))
    # 3 working hours of the 4-hour acknowledge target were left: warning after 2 h, breach after 3 h
    assert claim_due(engine, cst(2026, 11, 25, 10, 59)) == []
    assert [f["phase"] for f in claim_due(engine, cst(2026, 11, 25, 11, 0))] == ["warning"]
    assert [f["phase"] for f in claim_due(engine, cst(2026, 11, 25, 12, 0))] == ["breach"]


def test_unchanged_deadline_does_not_warn_twice(service, engine):
    """A reminder after the warning fired keeps the fired timer; it is not re-armed."""
    n = service.create(fields(), AGENT, NOW)["number"]
    service.perform(n, "dispatch", {}, DISPATCHER, NOW)
    assert len(claim_due(engine, cst(2026, 11, 23, 14, 31))) == 1
    service.perform(n, "remind", {}, AGENT, cst(2026, 11, 23, 14, 40))
    assert claim_due(engine, cst(2026, 11, 23, 14, 45)) == []


@pytest_twisted.inlineCallbacks
def test_sla_worker_service_on_a_fake_clock(sqlite_url):
    """The Twisted service ticks on its clock, claims in the pool, and tells the service what fired."""
    from twisted.internet import reactor

    engine = make_engine(sqlite_url)
    service = WorkOrderService(engine, TAXONOMY, CALENDAR)
    load_due_orders(engine, 25, NOW, tz=CST)
    heard = []
    service.subscribe(heard.extend)
    clock = task.Clock()
    clock.advance(NOW.timestamp())
    pool = ThreadPool(minthreads=1, maxthreads=2, name="sla-test")
    pool.start()
    worker = SlaWorker(clock, engine, service, pool, interval=30.0, reactor=reactor)
    worker.batch_size = 10
    try:
        worker.startService()  # the first tick runs at once
        yield worker._running_tick
        assert worker.fired_total == 25 and len(heard) == 25
        assert {h["event"] for h in heard} == {"sla_warning", "sla_breach"}
        clock.advance(30)
        if worker._running_tick is not None:
            yield worker._running_tick
        assert worker.fired_total == 25
        yield worker.stopService()
        assert not worker._loop.running
    finally:
        pool.stop()
        engine.dispose()


@pytest.mark.postgres
def test_two_workers_on_postgresql_no_duplicate_none_missed(pg_url):
    """Two workers in parallel threads claim 2,000 due timers: every one fired once, none twice."""
    engine = make_engine(pg_url, pool_size=4)
    load_due_orders(engine, 2000, NOW, tz=CST)
    claimed = {"w1": [], "w2": []}
    barrier = threading.Barrier(2)

    def run(name):
        barrier.wait()
        while True:
            fired = claim_due(engine, NOW, limit=50, worker=name)
            if not fired:
                return
            claimed[name].extend(f["timer_id"] for f in fired)

    threads = [threading.Thread(target=run, args=(n,)) for n in claimed]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    a, b = set(claimed["w1"]), set(claimed["w2"])
    assert len(claimed["w1"]) == len(a) and len(claimed["w2"]) == len(b)
    assert not a & b and len(a | b) == 2000
    assert a and b, "both workers should have taken part"
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(sla_events)).scalar_one() == 2000
        assert conn.execute(select(func.count()).select_from(sla_timers)
                            .where(sla_timers.c.fired_at.is_(None), sla_timers.c.due_at <= NOW)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(work_orders)
                            .where(work_orders.c.supervised)).scalar_one() == 1000
        assert conn.execute(select(func.count()).select_from(work_order_history)).scalar_one() == 1000
    engine.dispose()


def _events(engine, order_number):
    with engine.connect() as conn:
        oid = conn.execute(select(work_orders.c.id).where(work_orders.c.number == order_number)).scalar_one()
        events = [(r.kind, r.phase) for r in conn.execute(
            select(sla_events.c.kind, sla_events.c.phase).where(sla_events.c.order_id == oid))]
        automatic = [r for r in conn.execute(
            select(work_order_history.c.details).where(work_order_history.c.order_id == oid,
                                                       work_order_history.c.action == "supervise"))
                     if (r.details or {}).get("automatic")]
    return events, automatic


def test_breach_fires_once_however_often_a_breached_order_is_returned_and_the_return_rejected(service, engine):
    """Once the acknowledge deadline is breached, three return → reject cycles fire no second warning,
    breach or automatic 督办 (they fired three times each before)."""
    n = service.create(fields(), AGENT, NOW)["number"]
    service.perform(n, "dispatch", {}, DISPATCHER, NOW)
    claim_due(engine, cst(2026, 11, 23, 16, 0))
    t = cst(2026, 11, 23, 16, 0)
    for cycle in range(3):
        t += timedelta(minutes=10)
        service.perform(n, "return", {"reason_code": "other", "reason": "?"}, URBAN, t)
        t += timedelta(minutes=10)
        service.perform(n, "review-return", {"approve": False}, DISPATCHER, t)
        claim_due(engine, t + timedelta(minutes=1))
    claim_due(engine, cst(2026, 11, 24, 10, 0))
    events, automatic = _events(engine, n)
    assert sorted(events) == [("acknowledge", "breach"), ("acknowledge", "warning")]
    assert len(automatic) == 1
    assert service.get(n, AGENT, now=t)["sla_level"] == "red"  # still overdue after the cycles


def test_breach_fires_once_across_await_caller_and_resume(service, engine):
    """The resolve deadline breached, then the order waits for the caller and resumes twice: one breach."""
    n = service.create(fields(), AGENT, NOW)["number"]
    service.perform(n, "dispatch", {}, DISPATCHER, NOW)
    service.perform(n, "acknowledge", {}, URBAN, NOW + timedelta(minutes=5))
    t = cst(2026, 12, 7, 10, 0)  # well past the 5-working-day resolve target
    claim_due(engine, t)
    for _ in range(2):
        t += timedelta(hours=1)
        service.perform(n, "await-caller", {"reason": "需补充地址"}, URBAN, t)
        t += timedelta(hours=1)
        service.perform(n, "resume", {}, URBAN, t)
        claim_due(engine, t + timedelta(minutes=1))
    events, automatic = _events(engine, n)
    assert events.count(("resolve", "breach")) == 1 and events.count(("resolve", "warning")) == 1
    assert len(automatic) == 1


ACTION_STEPS = ("advance", "advance", "return-reject", "await-resume", "remind", "acknowledge")


@pytest.mark.slow
def test_each_deadline_fires_its_warning_breach_and_supervision_at_most_once_whatever_the_pauses(engine, service):
    """Property: for random sequences of time passing, return → reject, await-caller → resume, reminders and
    acknowledgement, each (deadline, phase) fires at most once and automatic 督办 at most once per breach."""
    from hypothesis import HealthCheck, given, settings, strategies as st

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(st.tuples(st.sampled_from(ACTION_STEPS), st.integers(min_value=1, max_value=40)),
                    min_size=1, max_size=12))
    def run(steps):
        t = NOW
        n = service.create(fields(), AGENT, t)["number"]
        service.perform(n, "dispatch", {}, DISPATCHER, t)
        for step, hours in steps:
            status = service.get(n, AGENT)["status"]
            t += timedelta(minutes=7)
            if step == "advance":
                t += timedelta(hours=hours)
            elif step == "return-reject" and status in ("dispatched", "acknowledged"):
                service.perform(n, "return", {"reason_code": "other", "reason": "?"}, URBAN, t)
                t += timedelta(hours=hours % 5)
                service.perform(n, "review-return", {"approve": False}, DISPATCHER, t)
            elif step == "await-resume" and status in ("acknowledged", "in_progress"):
                service.perform(n, "await-caller", {"reason": "?"}, URBAN, t)
                t += timedelta(hours=hours % 5)
                service.perform(n, "resume", {}, URBAN, t)
            elif step == "remind":
                service.perform(n, "remind", {}, AGENT, t)
            elif step == "acknowledge" and status == "dispatched":
                service.perform(n, "acknowledge", {}, URBAN, t)
            claim_due(engine, t)
        claim_due(engine, t + timedelta(days=60))
        events, automatic = _events(engine, n)
        assert len(events) == len(set(events)), events
        assert len(automatic) <= events.count(("acknowledge", "breach")) + events.count(("resolve", "breach"))

    run()
