"""The dispatcher's inbox: a read view over ``work_orders`` sorted into the piles a 派单员 works.

Each bucket is a SQL filter, so counts stay right however many orders there
are; ``needs_dispatcher`` (low-confidence intake) is the one bucket that also
needs the intake proposals (:mod:`callcenter.dispatch.proposals`), and is a
subset of ``new``.  Orders come back as the work-order service's own view
(one shape for every page and API).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select

from ticketing.domain.lifecycle import IN_DEPARTMENT, OPEN
from ticketing.persistence.repository import WorkOrderRepository
from ticketing.persistence.tables import work_orders

BUCKETS: dict[str, tuple[str, str]] = {
    "new": ("新工单待派", "New, not dispatched"),
    "needs_dispatcher": ("需人工派单(识别置信度低)", "Needs a dispatcher (low-confidence intake)"),
    "returned": ("退单待审", "Returned, awaiting review"),
    "extension": ("延期申请", "Extension requests"),
    "supervised": ("督办待答复", "Supervision awaiting response"),
    "due": ("临期/超期", "Near or past deadline"),
    "reopened": ("重办", "Reopened"),
}
DUE_HORIZON = timedelta(hours=4)  # "near deadline": a running deadline within this (or past)
MAX_ITEMS = 200


def _supervision_pending():
    """督办 awaiting the department's response: the pending JSON names a request without a response."""
    from sqlalchemy import String, cast

    text = cast(work_orders.c.pending, String)
    return and_(work_orders.c.supervised.is_(True), text.like('%"supervision"%'), ~text.like('%"response"%'))


def bucket_filter(bucket: str, now: datetime):
    c = work_orders.c
    if bucket in ("new", "needs_dispatcher"):
        return c.status == "registered"
    if bucket == "returned":
        return c.status == "return_requested"
    if bucket == "extension":
        return c.status == "extension_requested"
    if bucket == "supervised":
        return and_(c.status.in_(sorted(OPEN)), _supervision_pending())
    if bucket == "due":
        return and_(c.status.in_(sorted(IN_DEPARTMENT | {"replied", "callback_pending"})),
                    c.next_due_at.is_not(None), c.next_due_at <= now + DUE_HORIZON)
    if bucket == "reopened":
        return c.status == "reopened"
    raise KeyError(bucket)


def counts(engine, now: datetime) -> dict[str, int]:
    """Orders per bucket except ``needs_dispatcher`` (that one needs the proposals)."""
    out = {}
    with engine.connect() as conn:
        for bucket in BUCKETS:
            if bucket == "needs_dispatcher":
                continue
            out[bucket] = conn.execute(select(func.count()).select_from(work_orders)
                                       .where(bucket_filter(bucket, now))).scalar_one()
    return out


def orders_in(engine, bucket: str, now: datetime, *, limit: int = MAX_ITEMS) -> list[Any]:
    """The bucket's orders as entities: oldest first (the dispatcher works the queue from the front),
    except ``due``, which is soonest deadline first."""
    c = work_orders.c
    order_by = (c.next_due_at, c.id) if bucket == "due" else (c.id,)
    with engine.connect() as conn:
        rows = conn.execute(select(work_orders).where(bucket_filter(bucket, now)).order_by(*order_by)
                            .limit(limit)).mappings().all()
        return [WorkOrderRepository._order(r) for r in rows]


def recent_open(engine, now: datetime, *, days: int = 7, limit: int = 500) -> list[Any]:
    """Open orders of the last ``days`` (candidates for "same event" suggestions)."""
    c = work_orders.c
    with engine.connect() as conn:
        rows = conn.execute(select(work_orders).where(c.status.in_(sorted(OPEN)),
                                                      c.created_at >= now - timedelta(days=days))
                            .order_by(c.id.desc()).limit(limit)).mappings().all()
        return [WorkOrderRepository._order(r) for r in rows]
