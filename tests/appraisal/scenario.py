"""A month of work for two departments, driven through the real API (SLA breaches written as the SLA
worker writes them), and the figures the appraisal must show, computed here from the story itself."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from itertools import count

from sqlalchemy import insert, select

from tests.web.conftest import ORDER, staff_for

_TIMER = count(900_000)


def breach(web, number: str, kind: str) -> None:
    from ticketing.persistence.tables import sla_events, work_orders

    now = web.deps.now()
    with web.engine.begin() as conn:
        order_id = conn.execute(select(work_orders.c.id).where(work_orders.c.number == number)).scalar_one()
        conn.execute(insert(sla_events).values(timer_id=next(_TIMER), order_id=order_id, kind=kind, phase="breach",
                                               due_at=now, fired_at=now, worker="test"))


async def play_month(web) -> tuple[object, dict]:
    """Returns (staff, expected): expected[department] = counts; the weights are the defaults."""
    staff = await staff_for(web)
    a, b = staff.department, staff.other_department

    async def ok(client, path, body=None):
        resp = await client.post(path, json=body or {})
        assert resp.status in (200, 201), (path, resp.body)
        return resp.json

    async def order(**fields):
        return (await ok(staff.agent, "/api/v1/workorders", dict(ORDER, **fields)))["number"]

    o1, o2, o3, o4 = await order(), await order(), await order(), await order()
    for n in (o1, o2, o3):
        await ok(staff.dispatcher, f"/api/v1/workorders/{n}/dispatch", {"department": a})
    await ok(staff.dispatcher, f"/api/v1/workorders/{o4}/dispatch", {"department": b})
    # o1: on time, satisfied
    await ok(staff.dept, f"/api/v1/workorders/{o1}/acknowledge")
    await ok(staff.dept, f"/api/v1/workorders/{o1}/reply", {"reply": "已处理"})
    await ok(staff.agent, f"/api/v1/workorders/{o1}/callback-result", {"outcome": "satisfied", "satisfaction": 5})
    # o2: resolve deadline breached before the reply, caller dissatisfied (reopened)
    await ok(staff.dept, f"/api/v1/workorders/{o2}/acknowledge")
    breach(web, o2, "resolve")
    await ok(staff.dept, f"/api/v1/workorders/{o2}/reply", {"reply": "已处理"})
    await ok(staff.agent, f"/api/v1/workorders/{o2}/callback-result", {"outcome": "dissatisfied", "satisfaction": 2})
    # o3: a return the dispatcher rejects, then 督办
    await ok(staff.dept, f"/api/v1/workorders/{o3}/return", {"reason_code": "other", "reason": "不想办"})
    await ok(staff.dispatcher, f"/api/v1/workorders/{o3}/review-return", {"approve": False, "reason": "属职责范围"})
    await ok(staff.dispatcher, f"/api/v1/workorders/{o3}/supervise", {"reason": "推诿"})
    # o4: department b misses the acknowledge deadline, returns it (accepted), re-dispatched to a
    breach(web, o4, "acknowledge")
    await ok(staff.other_dept, f"/api/v1/workorders/{o4}/return", {"reason_code": "not_our_duty", "reason": "非本单位"})
    await ok(staff.dispatcher, f"/api/v1/workorders/{o4}/review-return", {"approve": True, "department": a})
    # the agent solves one on the call
    solved = await order()
    await ok(staff.agent, f"/api/v1/workorders/{solved}/resolve-on-call", {"reply": "已当场解答"})

    expected = {
        a: dict(assigned=4, ack_breaches=0, replies=2, replies_on_time=1, returns_accepted=0, returns_rejected=1,
                reopens=1, rated=2, satisfied=1, supervised=1),
        b: dict(assigned=1, ack_breaches=1, replies=0, replies_on_time=0, returns_accepted=1, returns_rejected=0,
                reopens=0, rated=0, satisfied=0, supervised=0),
    }
    return staff, expected


WEIGHTS = {"ack_on_time": 0.15, "resolved_on_time": 0.30, "returns": 0.10, "reopen": 0.15, "satisfaction": 0.25,
           "supervision": 0.05}


def expected_score(c: dict) -> float | None:
    """The score as the README defines it, computed independently of the code under test."""
    parts = []
    if c["assigned"]:
        parts += [("ack_on_time", 1 - c["ack_breaches"] / c["assigned"]),
                  ("returns", 1 - c["returns_rejected"] / c["assigned"]),
                  ("supervision", 1 - c["supervised"] / c["assigned"])]
    if c["replies"]:
        parts += [("resolved_on_time", c["replies_on_time"] / c["replies"]), ("reopen", 1 - c["reopens"] / c["replies"])]
    if c["rated"]:
        parts += [("satisfaction", c["satisfied"] / c["rated"])]
    total = sum(WEIGHTS[k] for k, _ in parts)
    if not total:
        return None
    value = 100 * sum(WEIGHTS[k] * v for k, v in parts) / total
    return float(Decimal(f"{value:.6f}").quantize(Decimal("0.1"), ROUND_HALF_UP))  # one decimal, halves up
