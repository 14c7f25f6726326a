"""Reading a month of the appraisal from the database (blocking; run in the thread pool).

Department figures come from the work-order history and SLA breach firings
(:mod:`ticketing.domain.appraisal` does the counting and scoring); per-agent
figures reuse the reports' definitions (:func:`callcenter.reports.queries.report`)
plus first-contact resolution from the orders each agent registered.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, select

from callcenter.reports.queries import Period
from ticketing.domain.appraisal import Breach, Entry, appraise, tally


def department_month(engine, period: Period, weights: dict) -> list[dict]:
    from ticketing.persistence.tables import sla_events, work_order_history as h

    margin = timedelta(days=1)
    with engine.connect() as conn:
        touched = select(h.c.order_id).where(and_(h.c.at >= period.start - margin, h.c.at < period.end + margin))
        entries = [Entry(r.order_id, r.at, r.action, dict(r.details or {})) for r in conn.execute(
            select(h.c.order_id, h.c.at, h.c.action, h.c.details).where(h.c.order_id.in_(touched))
            .order_by(h.c.order_id, h.c.id))]
        breaches = [Breach(r.order_id, r.kind, r.fired_at) for r in conn.execute(
            select(sla_events.c.order_id, sla_events.c.kind, sla_events.c.fired_at)
            .where(and_(sla_events.c.phase == "breach", sla_events.c.order_id.in_(touched))))]
    return [f.as_dict() for f in appraise(tally(entries, breaches, period.start, period.end), weights)]


def agent_month(engine, period: Period) -> list[dict]:
    """Per agent: answered calls, AHT, call satisfaction (一次一评), and FCR from the orders they registered."""
    from callcenter.auth.tables import users
    from callcenter.reports.queries import report
    from ticketing.persistence.tables import work_order_history as h

    calls = {row["key"]: row for row in report(engine, period, "agent").as_rows()}
    margin = timedelta(days=1)
    with engine.connect() as conn:
        names = {r.agent_id: (r.username, r.display_name) for r in conn.execute(
            select(users.c.agent_id, users.c.username, users.c.display_name).where(users.c.agent_id.is_not(None)))}
        counted: dict[str, dict[str, int]] = {}
        for actor, action, at in conn.execute(
                select(h.c.actor, h.c.action, h.c.at).where(and_(
                    h.c.action.in_(("create", "resolve-on-call")), h.c.role == "agent",
                    h.c.at >= period.start - margin, h.c.at < period.end + margin))):
            at = at if at.tzinfo else at.replace(tzinfo=period.start.tzinfo)
            if period.start <= at < period.end:
                counted.setdefault(actor, {"create": 0, "resolve-on-call": 0})[action] += 1
    by_user = {username: agent_id for agent_id, (username, _) in names.items()}
    rows = []
    for key in sorted(set(calls) | {by_user.get(u, u) for u in counted}):
        username, display = names.get(key, (key, key))
        orders = counted.get(username, {"create": 0, "resolve-on-call": 0})
        call = calls.get(key, {})
        rows.append({"agent": key, "username": username, "name": display,
                     "answered": call.get("answered", 0), "aht_seconds": call.get("aht_seconds"),
                     "call_satisfaction": call.get("call_satisfaction"), "orders": orders["create"],
                     "resolved_on_call": orders["resolve-on-call"],
                     "fcr_rate": orders["resolve-on-call"] / orders["create"] if orders["create"] else None})
    return rows
