"""The SMS outbox in the database: every message is a row before Kannel sees it.

:func:`enqueue` stores a message (on the caller's connection, so an order's change and its
message can commit together; a ``dedupe_key`` makes a second enqueue of the same
order/kind/round a no-op).  :func:`claim_due` hands due rows to one worker (the outboxes'
shared :func:`~callcenter.delivery.claim_batch`: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL) and suppresses
notifications to numbers that opted out; :func:`accepted` / :func:`failed` settle a claim
(guarded by worker and attempt, so a late answer to an old claim changes nothing);
:func:`report` applies Kannel's delivery report.  :func:`sweep` finds orders that owe their
citizen a message (accepted, replied, closed) — a sweep rather than an in-memory event, so
a change committed just before a crash still gets its SMS.
"""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, cast, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite

from callcenter.delivery import claim_batch, release, settle
from callcenter.sms import policy
from callcenter.sms.tables import sms_messages, sms_optouts
from ticketing.persistence.tables import work_orders

M = sms_messages.c
STATES = ("pending", "sending", "sent", "delivered", "failed", "dead", "suppressed", "no_mobile")
# Kannel delivery-report types (dlr-mask bits)
DLR_DELIVERED, DLR_FAILED, DLR_BUFFERED, DLR_SMSC_OK, DLR_SMSC_REJECT = 1, 2, 4, 8, 16
DLR_MASK = 31


def _insert(conn, table):
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def _row(r) -> dict[str, Any]:
    return dict(r._mapping)


def enqueue(conn, *, kind: str, phone: str, lang: str, body: str, now: datetime, quiet: policy.QuietHours,
            order_number: str | None = None, dedupe_key: str | None = None) -> int | None:
    """Store one message; its id, or None when ``dedupe_key`` was already used.  A number that
    is not a mobile gets no message: None, or — with a ``dedupe_key`` — a ``no_mobile`` row, so
    the order is not looked at again."""
    number = policy.mobile(phone)
    if number is None and dedupe_key is None:
        return None
    if kind not in policy.KINDS or lang not in policy.LANGS:
        raise policy.SmsRuleError(f"unknown kind {kind!r} or language {lang!r}")
    urgent = kind in policy.URGENT_KINDS
    values = dict(kind=kind, phone=number or "", lang=lang, body=body, urgent=urgent, order_number=order_number,
                  dedupe_key=dedupe_key, token=secrets.token_hex(8), state="pending" if number else "no_mobile",
                  attempts=0, next_at=quiet.release(now, urgent), created_at=now, updated_at=now)
    stmt = _insert(conn, sms_messages).values(**values)
    if dedupe_key is not None:
        stmt = stmt.on_conflict_do_nothing(index_elements=["dedupe_key"])
    res = conn.execute(stmt.returning(M.id))
    row = res.first()
    return row[0] if row else None


def _opted_out(conn, rows) -> dict[int, tuple[str, str]]:
    """Of the rows about to be claimed, the notifications to numbers that opted out (codes and
    other urgent messages still go)."""
    out = {p for (p,) in conn.execute(select(sms_optouts.c.phone).where(
        sms_optouts.c.phone.in_({r.phone for r in rows})))}
    return {r.id: ("suppressed", "号码已退订 / the number opted out") for r in rows
            if r.phone in out and not r.urgent}


def claim_due(engine, now: datetime, worker: str, *, limit: int, lease: float,
              max_attempts: int) -> tuple[list[dict], dict[str, int]]:
    """Mark up to ``limit`` due rows sending (and rows left sending longer than ``lease`` by a
    dead worker).  Notifications to opted-out numbers become ``suppressed``; a row lost on its
    last attempt becomes ``dead``.  Returns the claimed rows and ``{"suppressed", "dead"}``."""
    with engine.begin() as conn:
        rows, settled = claim_batch(conn, sms_messages, now, worker, limit=limit, lease=lease,
                                    max_attempts=max_attempts, columns=(M.phone, M.urgent), screen=_opted_out)
    return rows, {"suppressed": settled.get("suppressed", 0), "dead": settled.get("dead", 0)}


def accepted(engine, row: dict, now: datetime) -> bool:
    """Kannel accepted the message for delivery; False when the claim was lost meanwhile."""
    return settle(engine, sms_messages, row, now, "sent", sent_at=now)


def failed(engine, row: dict, error: str, now: datetime, *, retry_at: datetime | None) -> str | None:
    """Sending failed: pending again at ``retry_at``, or dead when None.  The new state, or None
    when the claim was lost meanwhile."""
    return release(engine, sms_messages, row, error, now, retry_at=retry_at)


def report(engine, message_id: int, token: str, status: int, now: datetime) -> str | None:
    """Apply a Kannel delivery report; the message's new state, or None for an unknown id or a
    wrong token.  Final reports (delivered, failed, SMSC reject) are kept once; a later
    intermediate report (buffered, SMSC accepted) never undoes them."""
    with engine.begin() as conn:
        row = conn.execute(select(M.state, M.token).where(M.id == message_id)).first()
        if row is None or not secrets.compare_digest(row.token, token or ""):
            return None
        values: dict[str, Any] = dict(dlr_status=status, updated_at=now)
        if status == DLR_DELIVERED:
            values.update(state="delivered", delivered_at=now)
        elif status in (DLR_FAILED, DLR_SMSC_REJECT):
            values.update(state="failed", last_error=f"运营商报告失败 / delivery report {status}")
        if row.state in ("delivered", "failed"):
            return row.state
        conn.execute(update(sms_messages).where(M.id == message_id, M.state.notin_(("delivered", "failed")))
                     .values(**values))
        return values.get("state", row.state)


def opt_out(engine, phone: str, word: str, now: datetime) -> bool:
    """Remember that ``phone`` wants no more notifications; True when it was not yet on the list."""
    number = policy.mobile(phone)
    if number is None:
        return False
    with engine.begin() as conn:
        res = conn.execute(_insert(conn, sms_optouts).values(phone=number, word=word[:16], created_at=now)
                           .on_conflict_do_nothing(index_elements=["phone"]))
        return bool(res.rowcount)


def opt_in(engine, phone: str) -> bool:
    number = policy.mobile(phone)
    if number is None:
        return False
    with engine.begin() as conn:
        return bool(conn.execute(sms_optouts.delete().where(sms_optouts.c.phone == number)).rowcount)


def is_opted_out(engine, phone: str) -> bool:
    number = policy.mobile(phone)
    with engine.connect() as conn:
        return number is not None and conn.execute(
            select(sms_optouts.c.phone).where(sms_optouts.c.phone == number)).first() is not None


def counts(engine) -> dict[str, int]:
    """Messages by state (and ``opted_out`` numbers): the demo summary and the metrics."""
    with engine.connect() as conn:
        found = {s: n for s, n in conn.execute(select(M.state, func.count()).group_by(M.state))}
        found["opted_out"] = conn.execute(select(func.count()).select_from(sms_optouts)).scalar_one()
    return found


def messages(engine, *, order_number: str | None = None, limit: int = 200) -> list[dict]:
    q = select(sms_messages).order_by(M.id.desc()).limit(limit)
    if order_number is not None:
        q = q.where(M.order_number == order_number)
    with engine.connect() as conn:
        return [_row(r) for r in conn.execute(q)]


def _lang_of(conn, numbers: set[str]) -> dict[str, str]:
    """The language each order's citizen chose (their first message's), Chinese by default."""
    if not numbers:
        return {}
    rows = conn.execute(select(M.order_number, M.lang).where(M.order_number.in_(numbers)).order_by(M.id))
    found: dict[str, str] = {}
    for number, lang in rows:
        found.setdefault(number, lang)
    return found


def _owed(kind: str, since: datetime, limit: int):
    """Orders that owe their citizen a ``kind`` message and have no row for it yet (the
    dedupe key, computed in SQL, joins them to the outbox)."""
    W = work_orders.c
    if kind == "accepted":
        key = W.number + literal(":accepted")
        where = (W.created_at >= since, W.status.notin_(("resolved_on_call", "merged", "cancelled")))
    else:
        key = W.number + literal(f":{kind}:") + cast(W.reopen_count, String)
        where = (W.status == kind, W.updated_at >= since)
    return (select(W.number, W.caller_phone, W.reply, W.reopen_count)
            .select_from(work_orders.outerjoin(sms_messages, M.dedupe_key == key))
            .where(M.id.is_(None), W.caller_phone.is_not(None), *where)
            .order_by(W.updated_at).limit(limit))


def sweep(engine, now: datetime, *, window: timedelta, link, quiet: policy.QuietHours,
          sign: tuple[str, str] = ("12345热线", "12345 Hotline"), limit: int = 500) -> int:
    """Enqueue the messages orders owe their citizens: accepted (new orders), replied (the
    department's answer, per round) and closed — for orders changed within ``window`` whose
    caller gave a number (a landline gets a ``no_mobile`` row instead).  ``link(kind, number)``
    is the citizen's page for it.  Returns how many messages were added."""
    since = now - window
    added = 0
    with engine.begin() as conn:
        for kind in ("accepted", "replied", "closed"):
            rows = conn.execute(_owed(kind, since, limit)).all()
            langs = _lang_of(conn, {r.number for r in rows})
            for r in rows:
                lang = langs.get(r.number, "zh")
                data = {}
                if kind in ("accepted", "replied"):
                    data["link"] = link(kind, r.number)
                if kind == "replied":
                    data["summary"] = r.reply or ""
                key = f"{r.number}:accepted" if kind == "accepted" else f"{r.number}:{kind}:{r.reopen_count}"
                body = policy.render(kind, lang, sign=sign[0], sign_en=sign[1], number=r.number, **data)
                if enqueue(conn, kind=kind, phone=r.caller_phone, lang=lang, body=body, now=now, quiet=quiet,
                           order_number=r.number, dedupe_key=key) is not None and policy.mobile(r.caller_phone):
                    added += 1
    return added
