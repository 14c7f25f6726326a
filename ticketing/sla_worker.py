"""SLA worker: fires due warning/breach timers exactly once.

Timers are rows with ``due_at`` (see ``sla_timers``), so a restart loses
nothing.  :func:`claim_due` marks a batch fired, records one ``sla_events`` row
per timer (its unique ``timer_id`` makes a second firing impossible) and, for
breaches, raises the order's 督办 flag with a history entry — all in one
transaction.  On PostgreSQL the batch is locked with ``FOR UPDATE SKIP
LOCKED`` (timer and order rows together, so workers never wait on each other
or on a user editing the order); SQLite's ``BEGIN IMMEDIATE`` serialises
claimers instead.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from twisted.application.service import Service
from twisted.internet import defer, task
from twisted.internet.threads import deferToThreadPool

from callcenter.clock import now_from
from ticketing.persistence.tables import sla_events, sla_timers, work_order_history, work_orders

log = logging.getLogger(__name__)
SYSTEM_ACTOR = "system:sla"


def claim_due(engine, now: datetime, limit: int = 1000, worker: str = "sla") -> list[dict[str, Any]]:
    """Fire up to ``limit`` timers due at ``now``; returns what fired (oldest first)."""
    with engine.begin() as conn:
        pick = (
            select(sla_timers.c.id)
            .join(work_orders, work_orders.c.id == sla_timers.c.order_id)
            .where(sla_timers.c.fired_at.is_(None), sla_timers.c.due_at <= now)
            .order_by(sla_timers.c.due_at)
            .limit(limit)
        )
        if conn.dialect.name == "postgresql":
            pick = pick.with_for_update(skip_locked=True, of=[sla_timers.c.id, work_orders.c.id])
        ids = conn.execute(pick).scalars().all()
        if not ids:
            return []
        fired = conn.execute(
            update(sla_timers)
            .where(sla_timers.c.id.in_(ids), sla_timers.c.fired_at.is_(None))
            .values(fired_at=now)
            .returning(sla_timers.c.id, sla_timers.c.order_id, sla_timers.c.kind, sla_timers.c.phase,
                       sla_timers.c.due_at)
        ).all()
        conn.execute(insert(sla_events), [
            {"timer_id": r.id, "order_id": r.order_id, "kind": r.kind, "phase": r.phase, "due_at": r.due_at,
             "fired_at": now, "worker": worker}
            for r in fired
        ])
        breached = {r.order_id: r.kind for r in fired if r.phase == "breach"}
        statuses = {}
        if breached:
            statuses = dict(conn.execute(
                update(work_orders).where(work_orders.c.id.in_(list(breached)))
                .values(supervised=True, version=work_orders.c.version + 1, updated_at=now)
                .returning(work_orders.c.id, work_orders.c.status)
            ).all())
            conn.execute(insert(work_order_history), [
                {"order_id": oid, "at": now, "actor": SYSTEM_ACTOR, "role": "system", "action": "supervise",
                 "from_status": statuses[oid], "to_status": statuses[oid],
                 "reason": f"SLA 超时自动督办 / automatic supervision: {kind} deadline breached",
                 "details": {"automatic": True, "kind": kind}}
                for oid, kind in breached.items()
            ])
    fired = sorted(fired, key=lambda r: (r.due_at, r.id))
    return [{"timer_id": r.id, "order_id": r.order_id, "kind": r.kind, "phase": r.phase,
             "due_at": r.due_at.isoformat(), "fired_at": now.isoformat()} for r in fired]


class SlaWorker(Service):
    """Polls for due timers on ``clock`` and fires them in ``threadpool``.

    ``service`` (a :class:`~ticketing.service.WorkOrderService`) is told what
    fired, after the transaction committed, so dashboards and pages can react.
    """

    batch_size = 1000
    max_batches_per_tick = 50  # keep one tick bounded; the next tick continues

    def __init__(self, clock, engine, service, threadpool, interval: float = 5.0, *, reactor=None,
                 name: str = "sla"):
        self.clock = clock
        self.engine = engine
        self.service = service
        self.threadpool = threadpool
        self.interval = interval
        self.reactor = reactor if reactor is not None else clock
        self.worker_name = name
        self.fired_total = 0
        self._loop: task.LoopingCall | None = None
        self._running_tick: defer.Deferred | None = None

    def startService(self) -> None:
        super().startService()
        self._loop = task.LoopingCall(self.tick)
        self._loop.clock = self.clock
        self._loop.start(self.interval, now=True)

    def stopService(self):
        super().stopService()
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        # let an in-flight batch finish so nothing is half-reported
        return self._running_tick if self._running_tick is not None else defer.succeed(None)

    def tick(self) -> defer.Deferred:
        d = self._drain()
        self._running_tick = d

        def done(result):
            self._running_tick = None
            return result

        def failed(failure):
            log.error("SLA worker tick failed: %s", failure.getErrorMessage(),
                      extra={"fields": {"worker": self.worker_name}})
            return None

        d.addErrback(failed)
        d.addBoth(done)
        return d

    @defer.inlineCallbacks
    def _drain(self):
        for _ in range(self.max_batches_per_tick):
            now = now_from(self.clock)
            fired = yield deferToThreadPool(self.reactor, self.threadpool, claim_due, self.engine, now,
                                            self.batch_size, self.worker_name)
            if fired:
                self.fired_total += len(fired)
                publish = getattr(self.service, "publish", None)
                if publish is not None:
                    publish([dict(f, event="sla_" + f["phase"]) for f in fired])
            if len(fired) < self.batch_size:
                return
