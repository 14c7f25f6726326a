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

from sqlalchemy import bindparam, insert, select, text, update
from twisted.application.service import Service
from twisted.internet import defer, task
from twisted.internet.threads import deferToThreadPool

from callcenter.clock import now_from
from ticketing.persistence.tables import UtcDateTime, sla_events, sla_timers, work_order_history, work_orders

log = logging.getLogger(__name__)
SYSTEM_ACTOR = "system:sla"


_REASON = "SLA 超时自动督办 / automatic supervision: {kind} deadline breached"

# PostgreSQL: the whole claim in one round trip.  Timer and order rows are
# locked together with SKIP LOCKED, so a second worker takes the next batch
# and a user editing an order is never blocked on nor deadlocked with a worker.
_PG_CLAIM = text("""
WITH picked AS (
    SELECT t.id FROM sla_timers AS t JOIN work_orders AS o ON o.id = t.order_id
    WHERE t.fired_at IS NULL AND t.due_at <= :now
    ORDER BY t.due_at LIMIT :limit
    FOR UPDATE OF t, o SKIP LOCKED
), fired AS (
    UPDATE sla_timers AS t SET fired_at = :now FROM picked WHERE t.id = picked.id
    RETURNING t.id, t.order_id, t.kind, t.phase, t.due_at
), events AS (
    INSERT INTO sla_events (timer_id, order_id, kind, phase, due_at, fired_at, worker)
    SELECT id, order_id, kind, phase, due_at, :now, :worker FROM fired
), breached AS (
    UPDATE work_orders AS o SET supervised = TRUE, version = o.version + 1, updated_at = :now
    FROM (SELECT DISTINCT ON (order_id) order_id, kind FROM fired WHERE phase = 'breach'
          ORDER BY order_id, due_at) AS b
    WHERE o.id = b.order_id
    RETURNING o.id, o.status, b.kind
), history AS (
    INSERT INTO work_order_history (order_id, at, actor, role, action, from_status, to_status, reason, details)
    SELECT id, :now, :actor, 'system', 'supervise', status, status, replace(:reason, '{kind}', kind),
           json_build_object('automatic', true, 'kind', kind)
    FROM breached
)
SELECT id, order_id, kind, phase, due_at FROM fired ORDER BY due_at, id
""").bindparams(bindparam("now", type_=UtcDateTime()))


def claim_due(engine, now: datetime, limit: int = 1000, worker: str = "sla") -> list[dict[str, Any]]:
    """Fire up to ``limit`` timers due at ``now``; returns what fired (oldest first)."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            fired = conn.execute(_PG_CLAIM, {"now": now, "limit": limit, "worker": worker, "actor": SYSTEM_ACTOR,
                                             "reason": _REASON}).all()
        else:
            fired = _claim_serialised(conn, now, limit, worker)
    return [{"timer_id": r.id, "order_id": r.order_id, "kind": r.kind, "phase": r.phase,
             "due_at": r.due_at.isoformat(), "fired_at": now.isoformat()} for r in fired]


def _claim_serialised(conn, now: datetime, limit: int, worker: str):
    """The same claim for SQLite, whose BEGIN IMMEDIATE already admits one writer at a time."""
    ids = conn.execute(
        select(sla_timers.c.id)
        .where(sla_timers.c.fired_at.is_(None), sla_timers.c.due_at <= now)
        .order_by(sla_timers.c.due_at)
        .limit(limit)
    ).scalars().all()
    if not ids:
        return []
    fired = conn.execute(
        update(sla_timers)
        .where(sla_timers.c.id.in_(ids), sla_timers.c.fired_at.is_(None))
        .values(fired_at=now)
        .returning(sla_timers.c.id, sla_timers.c.order_id, sla_timers.c.kind, sla_timers.c.phase,
                   sla_timers.c.due_at)
    ).all()
    fired = sorted(fired, key=lambda r: (r.due_at, r.id))
    conn.execute(insert(sla_events), [
        {"timer_id": r.id, "order_id": r.order_id, "kind": r.kind, "phase": r.phase, "due_at": r.due_at,
         "fired_at": now, "worker": worker}
        for r in fired
    ])
    breached: dict[int, str] = {}
    for r in fired:
        if r.phase == "breach":
            breached.setdefault(r.order_id, r.kind)
    if breached:
        statuses = dict(conn.execute(
            update(work_orders).where(work_orders.c.id.in_(list(breached)))
            .values(supervised=True, version=work_orders.c.version + 1, updated_at=now)
            .returning(work_orders.c.id, work_orders.c.status)
        ).all())
        conn.execute(insert(work_order_history), [
            {"order_id": oid, "at": now, "actor": SYSTEM_ACTOR, "role": "system", "action": "supervise",
             "from_status": statuses[oid], "to_status": statuses[oid], "reason": _REASON.format(kind=kind),
             "details": {"automatic": True, "kind": kind}}
            for oid, kind in breached.items()
        ])
    return fired


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

    @classmethod
    def from_config(cls, config, clock, engine, service, threadpool, *, reactor=None) -> "SlaWorker":
        worker = cls(clock, engine, service, threadpool, float(config.get("sla.worker_interval", 5.0)),
                     reactor=reactor)
        worker.batch_size = int(config.get("sla.claim_batch", cls.batch_size))
        return worker

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
