"""The loop shared by the database outboxes that deliver something outward (webhooks, SMS).

Every ``interval`` seconds on ``clock`` one tick runs: :meth:`_claim` (blocking,
in the thread pool: sweep and claim a batch of due rows) and then
:meth:`_deliver_all` (on the reactor: send them and settle each one).  Only one
tick runs at a time; stopping the service waits for the tick in progress.  Rows
live in the database, so another process (or this one after a restart) takes
over a row a dead worker left half-sent once its lease has passed.

The rows' life is shared too: an outbox table has ``id``, ``state`` (``pending`` →
``sending`` → its own final states, or ``dead``), ``attempts``, ``next_at``,
``claimed_by``, ``claimed_at``, ``last_error`` and ``updated_at``.  :func:`claim_batch`
claims due rows for one worker (``FOR UPDATE SKIP LOCKED`` on PostgreSQL through the
project's one claiming helper; SQLite's ``BEGIN IMMEDIATE`` admits one claimer at a
time), :func:`settle` and :func:`release` settle a claim — guarded by worker and
attempt, so a late answer to an old claim changes nothing.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Callable

from sqlalchemy import Table, and_, or_, select, update
from twisted.application.service import Service
from twisted.internet import defer, task
from twisted.internet.threads import deferToThreadPool

from callcenter.db import claimable

log = logging.getLogger(__name__)

#: ``last_error`` of a row whose worker died during its last allowed attempt
LOST_ON_LAST_ATTEMPT = "发送中断（最后一次）/ worker lost during the last attempt"


def claim_batch(conn, table: Table, now: datetime, worker: str, *, limit: int, lease: float, max_attempts: int,
                columns=(), screen: Callable[[Any, list], dict[Any, tuple[str, str]]] | None = None,
                ) -> tuple[list[dict], dict[str, int]]:
    """On ``conn`` (the caller's transaction): mark up to ``limit`` rows of ``table`` sending for
    ``worker`` — pending rows whose ``next_at`` has come, and rows left sending longer than
    ``lease`` seconds (their worker died mid-send), oldest ``next_at`` first — each with one more
    attempt.  A row lost on its last attempt (``max_attempts``) is ``dead`` instead.

    ``screen(conn, rows)``, given the candidates (``id``, ``state``, ``attempts`` and ``columns``),
    may settle some without sending: ``{id: (state, last_error)}`` (the SMS outbox suppresses
    notifications to opted-out numbers).  Returns the claimed rows, whole, and how many rows
    went to each state other than ``sending`` (``{"dead": 1}``)."""
    c = table.c
    stale = now - timedelta(seconds=lease)
    rows = conn.execute(claimable(conn, select(c.id, c.state, c.attempts, *columns).where(or_(
        and_(c.state == "pending", c.next_at <= now),
        and_(c.state == "sending", c.claimed_at <= stale))).order_by(c.next_at, c.id).limit(limit))).all()
    verdicts = screen(conn, rows) if screen is not None and rows else {}
    claimed: list = []
    counts: dict[str, int] = {}
    for r in rows:
        guard = (c.id == r.id, c.state == r.state, c.attempts == r.attempts)
        verdict = verdicts.get(r.id)
        if verdict is None and r.state == "sending" and r.attempts >= max_attempts:
            verdict = ("dead", LOST_ON_LAST_ATTEMPT)
        if verdict is not None:
            state, error = verdict
            if conn.execute(update(table).where(*guard).values(
                    state=state, claimed_by=None, updated_at=now, last_error=error)).rowcount:
                counts[state] = counts.get(state, 0) + 1
            continue
        if conn.execute(update(table).where(*guard).values(
                state="sending", attempts=r.attempts + 1, claimed_by=worker, claimed_at=now,
                updated_at=now)).rowcount:
            claimed.append(r.id)
    found = conn.execute(select(table).where(c.id.in_(claimed)).order_by(c.next_at, c.id)).all() if claimed else []
    return [dict(r._mapping) for r in found], counts


def _claim_guard(table: Table, row: dict):
    c = table.c
    return (c.id == row["id"], c.state == "sending", c.claimed_by == row["claimed_by"],
            c.attempts == row["attempts"])


def settle(engine, table: Table, row: dict, now: datetime, state: str, **values) -> bool:
    """The send of ``row`` (as :func:`claim_batch` returned it) succeeded: ``state`` (and ``values``);
    False when the claim was lost meanwhile (another worker took the row over)."""
    with engine.begin() as conn:
        return bool(conn.execute(update(table).where(*_claim_guard(table, row)).values(
            state=state, claimed_by=None, last_error=None, updated_at=now, **values)).rowcount)


def release(engine, table: Table, row: dict, error: str, now: datetime, *, retry_at: datetime | None) -> str | None:
    """The send of ``row`` failed: pending again at ``retry_at``, or dead when ``retry_at`` is None.
    Returns the new state, or None when the claim was lost meanwhile."""
    state = "pending" if retry_at is not None else "dead"
    values = dict(state=state, claimed_by=None, last_error=error[:300], updated_at=now)
    if retry_at is not None:
        values["next_at"] = retry_at
    with engine.begin() as conn:
        res = conn.execute(update(table).where(*_claim_guard(table, row)).values(**values))
        return state if res.rowcount else None


class PollingDelivery(Service):
    """Subclasses set ``clock``, ``reactor``, ``pool`` and ``interval`` and implement ``_claim(now)`` and
    ``_deliver_all(rows)``; ``label`` names the loop in logs."""

    interval = 5.0
    label = "delivery"
    _loop: task.LoopingCall | None = None
    _tick_d: defer.Deferred | None = None

    def blocking(self, fn, *args, **kw) -> defer.Deferred:
        return deferToThreadPool(self.reactor, self.pool, fn, *args, **kw)

    def startService(self):
        super().startService()
        self._loop = task.LoopingCall(self.tick)
        self._loop.clock = self.clock
        self._loop.start(self.interval, now=True).addErrback(
            lambda f: log.error("%s loop died: %s", self.label, f))

    def stopService(self):
        super().stopService()
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        # an unfinished send is left in flight: its lease hands it to the next worker
        return self._tick_d if self._tick_d is not None else defer.succeed(None)

    def tick(self) -> defer.Deferred | None:
        """Claim and deliver one batch; the Deferred fires when every claimed row is settled (None while a
        tick is still running)."""
        if self._tick_d is not None:
            return None
        d = self.blocking(self._claim, self.now())
        d.addCallback(self._deliver_all)
        d.addErrback(lambda f: log.error("%s tick failed: %s", self.label, f.getTraceback()))

        def done(result):
            self._tick_d = None
            return result
        self._tick_d = d
        return d.addBoth(done)

    def _claim(self, now):  # pragma: no cover - abstract
        raise NotImplementedError

    def _deliver_all(self, rows):  # pragma: no cover - abstract
        raise NotImplementedError
