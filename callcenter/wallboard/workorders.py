"""Work-order figures for the wallboard, read from the ticketing tables.

Blocking: run it in a thread pool.  One small query per figure, all on
indexed columns (status, department, sla timers/events), so a refresh every
few seconds stays cheap even with a large archive.

* open per department — orders in an open status;
* SLA red — open orders whose next deadline has passed;
* SLA yellow — open orders not yet red whose warning timer is due;
* breaches today — ``sla_events`` of phase ``breach`` fired since local midnight;
* on-time completion — of orders closed today, those with no resolve breach;
* satisfaction today — of callback results recorded today, the share rated
  4 or 5 (满意/基本满意) and the mean score.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, exists, func, select

from ticketing.domain.lifecycle import OPEN
from ticketing.persistence.tables import sla_events, sla_timers, work_order_history, work_orders

SATISFIED = 4


def workorder_figures(engine, now: datetime, day_start: datetime) -> dict:
    wo = work_orders.c
    is_open = wo.status.in_(sorted(OPEN))
    with engine.connect() as conn:
        per_dept = {row.department or "-": row.n for row in conn.execute(
            select(wo.department, func.count().label("n")).where(is_open).group_by(wo.department))}
        red = conn.execute(select(func.count()).where(is_open, wo.next_due_at <= now)).scalar_one()
        warned = exists().where(and_(sla_timers.c.order_id == wo.id, sla_timers.c.phase == "warning",
                                     sla_timers.c.due_at <= now))
        yellow = conn.execute(select(func.count()).where(
            is_open, wo.next_due_at > now, warned)).scalar_one()
        breaches = conn.execute(select(func.count()).select_from(sla_events).where(
            sla_events.c.phase == "breach", sla_events.c.fired_at >= day_start)).scalar_one()
        h = work_order_history.c
        closed_today = select(h.order_id).where(h.to_status == "closed", h.at >= day_start).distinct().subquery()
        closed = conn.execute(select(func.count()).select_from(closed_today)).scalar_one()
        late = conn.execute(select(func.count()).select_from(closed_today).where(exists().where(and_(
            sla_events.c.order_id == closed_today.c.order_id, sla_events.c.kind == "resolve",
            sla_events.c.phase == "breach")))).scalar_one()
        rated = select(h.order_id).where(h.action == "callback-result", h.at >= day_start).distinct().subquery()
        scores = [row.satisfaction for row in conn.execute(
            select(wo.satisfaction).where(wo.id.in_(select(rated.c.order_id)), wo.satisfaction.is_not(None)))]
    satisfied = sum(1 for s in scores if s >= SATISFIED)
    return {
        "open_total": sum(per_dept.values()),
        "open_by_department": dict(sorted(per_dept.items())),
        "sla_yellow": int(yellow), "sla_red": int(red), "breaches_today": int(breaches),
        "closed_today": int(closed),
        "on_time_rate": round((closed - late) / closed, 4) if closed else None,
        "rated_today": len(scores),
        "satisfaction_rate": round(satisfied / len(scores), 4) if scores else None,
        "satisfaction_mean": round(sum(scores) / len(scores), 2) if scores else None,
    }


def orders_at_risk(engine, now: datetime, limit: int = 50) -> list[str]:
    """Numbers of open orders red or yellow, most urgent first (for the supervisor page)."""
    wo = work_orders.c
    warned = exists().where(and_(sla_timers.c.order_id == wo.id, sla_timers.c.phase == "warning",
                                 sla_timers.c.due_at <= now))
    with engine.connect() as conn:
        rows = conn.execute(select(wo.number).where(
            wo.status.in_(sorted(OPEN)), (wo.next_due_at <= now) | warned).order_by(wo.next_due_at).limit(limit))
        return [r.number for r in rows]


def satisfaction_callbacks_pending(engine) -> int:
    """Satisfaction callbacks (回访, issue 7's ``callback_jobs``) scheduled or being dialled."""
    from callcenter.callbacks.tables import callback_jobs

    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(callback_jobs).where(
            callback_jobs.c.state.in_(("scheduled", "dialing")))).scalar_one())
