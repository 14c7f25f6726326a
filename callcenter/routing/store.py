"""What the ACD remembers for reports and restarts.

* ``agent_state_log``: every agent state change (occupancy, pause reasons, misses);
* ``queue_calls``: one row each time a caller leaves a queue (answered,
  abandoned, callback), with the wait — service level and ASA come from here;
* ``queue_callbacks``: the callback list (callers who kept their place, and
  abandoned callers).  At most one *pending* callback per number, enforced by a
  partial unique index so two workers cannot both add one.

Blocking calls: the controller runs them in a thread pool.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable

from sqlalchemy import (
    Column, DateTime, Float, Index, Integer, String, Table, insert, or_, select, update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from callcenter.db import metadata
from callcenter.routing.agent import AgentStateChange

agent_state_log = Table(
    "agent_state_log", metadata,
    Column("id", Integer, primary_key=True),
    Column("agent_id", String(64), nullable=False),
    Column("from_state", String(16), nullable=False),
    Column("to_state", String(16), nullable=False),
    Column("event", String(16), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("call_id", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_agent_state_log_agent_at", "agent_id", "at"),
)

queue_calls = Table(
    "queue_calls", metadata,
    Column("id", Integer, primary_key=True),
    Column("call_id", String(64), nullable=False),
    Column("queue", String(64), nullable=False),
    Column("skill", String(64), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("number", String(24), nullable=False),
    Column("enqueued_at", DateTime(timezone=True), nullable=False),
    Column("left_at", DateTime(timezone=True), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("agent_id", String(64), nullable=True),
    Column("wait_seconds", Float, nullable=False),
    Index("ix_queue_calls_queue_left", "queue", "left_at"),
    Index("ix_queue_calls_number", "number"),
)

CALLBACK_PENDING = "pending"
CALLBACK_UNREACHABLE = "unreachable"  # every attempt of the callback policy used: someone calls by hand
CALLBACK_STATES = (CALLBACK_PENDING, "dialing", "done", "failed", "cancelled", CALLBACK_UNREACHABLE)

queue_callbacks = Table(
    "queue_callbacks", metadata,
    Column("id", Integer, primary_key=True),
    Column("call_id", String(64), nullable=False),
    Column("number", String(24), nullable=False),
    Column("queue", String(64), nullable=False),
    Column("reason", String(16), nullable=False),  # "requested" | "abandoned"
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # routing_0002: retries of in-queue callbacks (the ACD re-queues a row when it is due)
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    Column("last_reason", String(32), nullable=True),
    Column("priority", Integer, nullable=False, server_default="0"),
    Column("skill", String(64), nullable=True),
    # routing_0003: the attempt in flight — its Originate went out at dialled_at from the controller
    # dialled_by (PBX scope); cleared once the attempt's outcome is known (callcenter.failover.callbacks)
    Column("dialled_at", DateTime(timezone=True), nullable=True),
    Column("dialled_by", String(64), nullable=True),
    Index("uq_queue_callbacks_pending_number", "number", unique=True,
          sqlite_where=Column("state") == CALLBACK_PENDING,
          postgresql_where=Column("state") == CALLBACK_PENDING),
)

OUTCOMES = ("answered", "abandoned", "callback", "overflow")


@dataclass(frozen=True)
class CallbackEntry:
    id: int
    call_id: str
    number: str
    queue: str
    reason: str
    state: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None = None
    last_reason: str | None = None
    priority: int = 0
    skill: str | None = None
    dialled_at: datetime | None = None


def _utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value


def _as_utc(value: datetime | None) -> datetime | None:
    """SQLite stores a datetime's wall clock without its offset: compare and store in UTC only."""
    return value.astimezone(timezone.utc) if value is not None and value.tzinfo is not None else value


def _entry(r) -> CallbackEntry:
    return CallbackEntry(r.id, r.call_id, r.number, r.queue, r.reason, r.state, r.attempts, _utc(r.created_at),
                         _utc(r.next_attempt_at), r.last_reason, r.priority, r.skill, _utc(r.dialled_at))



class RoutingStore:
    """Synchronous repository; run its methods off the reactor thread."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record_state_changes(self, changes: Iterable[AgentStateChange]) -> int:
        rows = [
            {"agent_id": c.agent_id, "from_state": c.from_state.value, "to_state": c.to_state.value,
             "event": c.event, "reason": c.reason, "call_id": c.call_id, "at": c.at}
            for c in changes
        ]
        if rows:
            with self.engine.begin() as conn:
                conn.execute(insert(agent_state_log), rows)
        return len(rows)

    def state_log(self, agent_id: str) -> list[dict]:
        with self.engine.connect() as conn:
            result = conn.execute(
                select(agent_state_log).where(agent_state_log.c.agent_id == agent_id)
                .order_by(agent_state_log.c.id))
            return [dict(r._mapping) for r in result]

    def record_queue_call(self, *, call_id: str, queue: str, skill: str, priority: int, number: str,
                          enqueued_at: datetime, left_at: datetime, outcome: str,
                          agent_id: str | None = None) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        with self.engine.begin() as conn:
            conn.execute(insert(queue_calls).values(
                call_id=call_id, queue=queue, skill=skill, priority=priority, number=number,
                enqueued_at=enqueued_at, left_at=left_at, outcome=outcome, agent_id=agent_id,
                wait_seconds=max(0.0, (left_at - enqueued_at).total_seconds())))

    def queue_calls(self, queue: str | None = None) -> list[dict]:
        q = select(queue_calls).order_by(queue_calls.c.id)
        if queue:
            q = q.where(queue_calls.c.queue == queue)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def recent_calls(self, since: datetime) -> list[tuple[str, datetime]]:
        """(number, enqueued_at) of calls queued since ``since`` (repeat-caller priority)."""
        q = (select(queue_calls.c.number, queue_calls.c.enqueued_at)
             .where(queue_calls.c.enqueued_at >= since, queue_calls.c.number != "")
             .order_by(queue_calls.c.enqueued_at))
        with self.engine.connect() as conn:
            return [(r.number, r.enqueued_at) for r in conn.execute(q)]

    def add_callback(self, *, call_id: str, number: str, queue: str, reason: str, now: datetime,
                     priority: int = 0, skill: str | None = None) -> bool:
        """Add a pending callback; False (and nothing stored) if the number already has one."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(queue_callbacks).values(
                    call_id=call_id, number=number, queue=queue, reason=reason, state=CALLBACK_PENDING,
                    attempts=0, created_at=now, updated_at=now, priority=priority, skill=skill))
        except IntegrityError:
            return False
        return True

    def callbacks(self, state: str | None = CALLBACK_PENDING) -> list[CallbackEntry]:
        q = select(queue_callbacks).order_by(queue_callbacks.c.created_at, queue_callbacks.c.id)
        if state:
            q = q.where(queue_callbacks.c.state == state)
        with self.engine.connect() as conn:
            return [_entry(r) for r in conn.execute(q)]

    def callback_of(self, call_id: str) -> CallbackEntry | None:
        """The latest callback entry of a call, whatever its state."""
        q = select(queue_callbacks).where(queue_callbacks.c.call_id == call_id).order_by(
            queue_callbacks.c.id.desc()).limit(1)
        with self.engine.connect() as conn:
            r = conn.execute(q).first()
        return _entry(r) if r else None

    def resolve_callbacks(self, number: str, now: datetime) -> int:
        """The number got through to an agent: its pending callbacks are done."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(queue_callbacks)
                .where(queue_callbacks.c.number == number, queue_callbacks.c.state == CALLBACK_PENDING)
                .values(state="done", updated_at=now))
            return result.rowcount

    def set_callback_state(self, callback_id: int, state: str, now: datetime, *, attempted: bool = False) -> None:
        if state not in CALLBACK_STATES:
            raise ValueError(f"unknown callback state {state!r}")
        values = {"state": state, "updated_at": now, "dialled_at": None, "dialled_by": None}
        if attempted:
            values["attempts"] = queue_callbacks.c.attempts + 1
        with self.engine.begin() as conn:
            conn.execute(update(queue_callbacks).where(queue_callbacks.c.id == callback_id).values(**values))

    # -- in-queue callbacks the ACD dials (reason "requested") ------------------------------

    def dialable_callbacks(self) -> list[CallbackEntry]:
        """Pending callbacks the ACD places itself (a restarted ACD reloads them)."""
        q = (select(queue_callbacks)
             .where(queue_callbacks.c.state == CALLBACK_PENDING, queue_callbacks.c.reason == "requested")
             .order_by(queue_callbacks.c.created_at, queue_callbacks.c.id))
        with self.engine.connect() as conn:
            return [_entry(r) for r in conn.execute(q)]

    def claim_callback(self, call_id: str, seen: int, now: datetime, lease_until: datetime,
                       dialled_by: str | None = None) -> CallbackEntry | None:
        """Take the pending callback of ``call_id`` for one attempt, if it is still as this ACD saw it.

        One guarded UPDATE (state pending, ``attempts`` = ``seen``, due) — atomic on SQLite and
        PostgreSQL alike, so of two ACDs (or an ACD and a person marking it done on /callbacks) only
        one wins; the loser gets None and must not dial.  The attempt is counted now and
        ``next_attempt_at`` pushed to ``lease_until``, so an ACD restarted mid-call does not
        dial again before this attempt's outcome could have been recorded; ``dialled_at``/``dialled_by``
        mark the attempt in flight (a row with one is never claimed: its call may still be up —
        :mod:`callcenter.failover.callbacks` settles it)."""
        c = queue_callbacks.c
        now, lease_until = _as_utc(now), _as_utc(lease_until)
        with self.engine.begin() as conn:
            row = conn.execute(select(c.id).where(c.call_id == call_id, c.reason == "requested",
                                                  c.state == CALLBACK_PENDING)).first()
            if row is None:
                return None
            res = conn.execute(
                update(queue_callbacks)
                .where(c.id == row.id, c.state == CALLBACK_PENDING, c.attempts == seen, c.dialled_at.is_(None),
                       or_(c.next_attempt_at.is_(None), c.next_attempt_at <= now))
                .values(attempts=c.attempts + 1, next_attempt_at=lease_until, updated_at=now, dialled_at=now,
                        dialled_by=(dialled_by or "")[:64] or None))
            if res.rowcount != 1:
                return None
            return _entry(conn.execute(select(queue_callbacks).where(c.id == row.id)).one())

    def callback_attempt_failed(self, callback_id: int, attempts: int, reason: str, now: datetime,
                                retry_at: datetime | None) -> bool:
        """Record a failed attempt: pending again from ``retry_at``, or unreachable when None.
        Guarded like the claim: a row done by hand meanwhile is left alone (False)."""
        c = queue_callbacks.c
        values = {"last_reason": reason[:32], "updated_at": now, "next_attempt_at": _as_utc(retry_at),
                  "dialled_at": None, "dialled_by": None}
        if retry_at is None:
            values["state"] = CALLBACK_UNREACHABLE
        with self.engine.begin() as conn:
            res = conn.execute(update(queue_callbacks).where(
                c.id == callback_id, c.state == CALLBACK_PENDING, c.attempts == attempts).values(**values))
            return res.rowcount == 1
