"""Seeding the read side: queue calls, agent states, ratings and work orders for 2026-11-23 (Beijing)."""
from __future__ import annotations

from datetime import timedelta, timezone

from sqlalchemy import insert, update

from callcenter.reports.ratings import record_rating
from callcenter.routing.store import agent_state_log, queue_calls
from tests.ticketing.helpers import CALENDAR, TAXONOMY, cst, fields
from ticketing.persistence.tables import sla_events, work_orders
from ticketing.service import Actor, WorkOrderService

UTC = timezone.utc
DAY = cst(2026, 11, 23, 9, 0)


def seed_calls(engine) -> None:
    """general: 4 offered (3 answered at 5, 10, 30 s; 1 abandoned); urgent: 1 answered at 2 s.
    One call on the previous Beijing day (23:59 on the 22nd) must not count."""
    rows = [("general", "answered", "a1", 5), ("general", "answered", "a1", 10), ("general", "answered", "a2", 30),
            ("general", "abandoned", None, 40), ("urgent", "answered", "a2", 2)]
    with engine.begin() as conn:
        for i, (queue, outcome, agent, wait) in enumerate(rows):
            left = (DAY + timedelta(minutes=i)).astimezone(UTC)
            conn.execute(insert(queue_calls).values(call_id=f"c{i}", queue=queue, skill="general", priority=0,
                                                    number="13800000000", enqueued_at=left - timedelta(seconds=wait),
                                                    left_at=left, outcome=outcome, agent_id=agent, wait_seconds=wait))
        late = cst(2026, 11, 22, 23, 59).astimezone(UTC)
        conn.execute(insert(queue_calls).values(call_id="old", queue="general", skill="general", priority=0,
                                                number="1", enqueued_at=late, left_at=late, outcome="abandoned",
                                                agent_id=None, wait_seconds=1))
        t = DAY.astimezone(UTC)
        for agent, state, offset in (("a1", "on_call", 0), ("a1", "wrap_up", 100), ("a1", "ready", 120),
                                     ("a1", "on_call", 200), ("a1", "ready", 260)):
            conn.execute(insert(agent_state_log).values(agent_id=agent, from_state="x", to_state=state, event="e",
                                                        reason="", call_id="", at=t + timedelta(seconds=offset)))
    record_rating(engine, "c0", "1", DAY, queue="general", agent_id="a1")
    record_rating(engine, "c1", "3", DAY, queue="general", agent_id="a1")
    record_rating(engine, "c1", "1", DAY, queue="general", agent_id="a1")  # a second rating is ignored


def seed_orders(engine, *, extra_water: int = 0, day=DAY) -> list[str]:
    """Four street-vending orders: one resolved on the call, one closed on time (satisfied 5),
    one closed after a resolve breach (satisfaction 2, reopened once), one open."""
    svc = WorkOrderService(engine, TAXONOMY, CALENDAR)
    agent = Actor("agent-1", "agent")
    numbers = [svc.create(fields(), agent, day)["number"] for _ in range(4)]
    for _ in range(extra_water):
        svc.create(fields(category="water-outage", summary="停水 / water outage", subdistrict="wangchun"), agent, day)
    with engine.begin() as conn:
        def set_(number, **values):
            conn.execute(update(work_orders).where(work_orders.c.number == number).values(**values))
        set_(numbers[0], status="resolved_on_call")
        set_(numbers[1], status="closed", satisfaction=5)
        set_(numbers[2], status="closed", satisfaction=2, reopen_count=1)
        oid = conn.execute(work_orders.select().where(work_orders.c.number == numbers[2])).one().id
        conn.execute(insert(sla_events).values(timer_id=oid * 1000, order_id=oid, kind="resolve", phase="breach",
                                               due_at=day, fired_at=day, worker="w"))
    return numbers
