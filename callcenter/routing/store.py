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
from datetime import datetime
from typing import Iterable

from sqlalchemy import (
    Column, DateTime, Float, Index, Integer, String, Table, insert, select, update,
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
CALLBACK_STATES = (CALLBACK_PENDING, "dialing", "done", "failed", "cancelled")

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


def mask_number(number: str) -> str:
    """138****1234 for roles that need not see the whole number."""
    if len(number) <= 7:
        return "*" * len(number)
    return number[:3] + "*" * (len(number) - 7) + number[-4:]


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

    def add_callback(self, *, call_id: str, number: str, queue: str, reason: str, now: datetime) -> bool:
        """Add a pending callback; False (and nothing stored) if the number already has one."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(queue_callbacks).values(
                    call_id=call_id, number=number, queue=queue, reason=reason, state=CALLBACK_PENDING,
                    attempts=0, created_at=now, updated_at=now))
        except IntegrityError:
            return False
        return True

    def callbacks(self, state: str | None = CALLBACK_PENDING) -> list[CallbackEntry]:
        q = select(queue_callbacks).order_by(queue_callbacks.c.created_at, queue_callbacks.c.id)
        if state:
            q = q.where(queue_callbacks.c.state == state)
        with self.engine.connect() as conn:
            return [CallbackEntry(r.id, r.call_id, r.number, r.queue, r.reason, r.state, r.attempts, r.created_at)
                    for r in conn.execute(q)]

    def callback_of(self, call_id: str) -> CallbackEntry | None:
        """The latest callback entry of a call, whatever its state."""
        q = select(queue_callbacks).where(queue_callbacks.c.call_id == call_id).order_by(
            queue_callbacks.c.id.desc()).limit(1)
        with self.engine.connect() as conn:
            r = conn.execute(q).first()
        return CallbackEntry(r.id, r.call_id, r.number, r.queue, r.reason, r.state, r.attempts,
                             r.created_at) if r else None

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
        values = {"state": state, "updated_at": now}
        if attempted:
            values["attempts"] = queue_callbacks.c.attempts + 1
        with self.engine.begin() as conn:
            conn.execute(update(queue_callbacks).where(queue_callbacks.c.id == callback_id).values(**values))
