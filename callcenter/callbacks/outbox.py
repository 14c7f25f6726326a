"""The webhook outbox: notifications stored with the change that causes them.

:func:`enqueue` runs on the caller's connection, inside the transaction that
records the callback result (reopened, 督办, unreachable), so a crash between
the commit and the HTTP call loses nothing.  :class:`~callcenter.callbacks.notify.WebhookDelivery`
claims due rows (:func:`claim_due`, through the outboxes' shared
:func:`~callcenter.delivery.claim_batch`), posts them and settles each with
:func:`delivered` or :func:`failed`.  Every row carries an ``event_id`` that is
sent as ``Idempotency-Key``: a row posted twice (a worker died after the
receiver got it) is one event for the receiver.  Settling is guarded by the
claim (worker and attempt), so a late answer to an old claim changes nothing.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from callcenter.callbacks.errors import CallbackConflict
from callcenter.callbacks.tables import callback_webhooks
from callcenter.delivery import claim_batch, release, settle
from ticketing.domain.errors import NotFound

W = callback_webhooks.c
STATES = ("pending", "sending", "delivered", "dead")


def _row(r) -> dict[str, Any]:
    return dict(r._mapping)


def enqueue(conn, kind: str, data: dict, now: datetime) -> str:
    """Store one notification on ``conn`` (the caller's transaction); returns its event id."""
    event_id = uuid.uuid4().hex
    payload = {"event": f"callback.{kind}", "event_id": event_id, **data}
    conn.execute(insert(callback_webhooks).values(event_id=event_id, kind=kind, payload=payload, state="pending",
                                                  attempts=0, next_at=now, created_at=now, updated_at=now))
    return event_id


def claim_due(engine, now: datetime, worker: str, *, limit: int, lease: float,
              max_attempts: int) -> tuple[list[dict], int]:
    """Mark up to ``limit`` rows sending: pending rows whose time has come, and rows left sending
    longer than ``lease`` seconds (their worker died mid-POST).  A row lost on its last attempt is
    dead instead.  Returns the claimed rows (attempts already counted) and how many died."""
    with engine.begin() as conn:
        rows, settled = claim_batch(conn, callback_webhooks, now, worker, limit=limit, lease=lease,
                                    max_attempts=max_attempts)
    return rows, settled.get("dead", 0)


def delivered(engine, row: dict, now: datetime) -> bool:
    """The receiver accepted ``row`` (as claimed); False when the claim was lost meanwhile."""
    return settle(engine, callback_webhooks, row, now, "delivered")


def failed(engine, row: dict, error: str, now: datetime, *, retry_at: datetime | None) -> str | None:
    """The POST of ``row`` failed: pending again at ``retry_at``, or dead when ``retry_at`` is None.
    Returns the new state, or None when the claim was lost meanwhile."""
    return release(engine, callback_webhooks, row, error, now, retry_at=retry_at)


def prune(engine, before: datetime) -> int:
    """Forget delivered rows last touched before ``before`` (the table stays small); dead and
    undelivered rows are kept whatever their age."""
    with engine.begin() as conn:
        return conn.execute(delete(callback_webhooks).where(W.state == "delivered", W.updated_at < before)).rowcount


def requeue(engine, row_id: int, now: datetime) -> dict:
    """A supervisor sends a dead notification again (the receiver was fixed): pending now, with
    a fresh set of attempts and the same event id."""
    with engine.begin() as conn:
        res = conn.execute(update(callback_webhooks).where(W.id == row_id, W.state == "dead").values(
            state="pending", attempts=0, next_at=now, updated_at=now))
        row = conn.execute(select(callback_webhooks).where(W.id == row_id)).first()
    if row is None:
        raise NotFound("通知不存在 / no such notification", {"id": row_id})
    if not res.rowcount:
        raise CallbackConflict("该通知不是发送失败状态 / this notification is not dead", {"id": row_id,
                                                                                         "state": row.state})
    return _row(row)


def list_rows(engine, states: tuple[str, ...] = ("dead",), limit: int = 200) -> list[dict]:
    with engine.connect() as conn:
        return [_row(r) for r in conn.execute(select(callback_webhooks).where(W.state.in_(states))
                                               .order_by(W.updated_at.desc(), W.id.desc()).limit(limit))]


def counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {s: n for s, n in conn.execute(select(W.state, func.count()).group_by(W.state))}
