"""Repository and unit of work: WorkOrder entities in and out of the tables.

SQLAlchemy Core keeps the mapping explicit and the batched paths fast
(``insertmanyvalues``, and COPY for large batches on PostgreSQL); the unit of
work is one database transaction.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import JSON, and_, delete, func, insert, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from ticketing.domain.errors import ConcurrentUpdate
from ticketing.domain.sla import Deadline
from ticketing.domain.workorder import HistoryEntry, WorkOrder
from ticketing.persistence.tables import (
    idempotency_keys, sla_timers, work_order_history, work_order_sequences, work_orders,
)

_FIELDS = (
    "number", "type", "category", "district", "subdistrict", "address", "urgency", "channel", "caller_name",
    "caller_phone", "summary", "description", "call_ids", "department", "co_departments", "co_parts", "sub_unit",
    "status", "supervised",
    "reminders", "reopen_count", "merged_into", "reply", "satisfaction", "pending", "created_at", "updated_at",
)
_MUTABLE = tuple(f for f in _FIELDS if f not in ("number", "created_at"))


def _row_values(order: WorkOrder) -> dict[str, Any]:
    values = {f: getattr(order, f) for f in _FIELDS}
    values["deadlines"] = {k: d.to_dict() for k, d in order.deadlines.items()}
    nxt = order.next_deadline
    values["next_due_at"] = nxt.due_at if nxt else None
    return values


def _history_values(order_id: int, entry: HistoryEntry) -> dict[str, Any]:
    return {
        "order_id": order_id, "at": entry.at, "actor": entry.actor, "role": entry.role, "action": entry.action,
        "from_status": entry.from_status, "to_status": entry.to_status, "reason": entry.reason,
        "details": entry.details,
    }


def _timer_rows(order: WorkOrder) -> set[tuple[str, str, datetime]]:
    rows = set()
    for kind, d in order.deadlines.items():
        if not d.paused:
            rows.add((kind, "warning", d.warn_at))
            rows.add((kind, "breach", d.due_at))
    return rows


class WorkOrderRepository:
    """Loads and stores work orders on one connection (inside a transaction)."""

    def __init__(self, connection: Connection):
        self.connection = connection
        self.dialect = connection.dialect.name

    # -- numbering ----------------------------------------------------------
    def allocate_numbers(self, day: str, count: int = 1) -> list[str]:
        """``count`` new numbers for ``day`` (YYYYMMDD): an atomic upsert of the
        daily counter, so concurrent creators never get the same number."""
        ins = (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(work_order_sequences)
        stmt = ins.values(day=day, last=count).on_conflict_do_update(
            index_elements=["day"], set_={"last": work_order_sequences.c["last"] + count}
        ).returning(work_order_sequences.c["last"])
        last = self.connection.execute(stmt).scalar_one()
        return [f"{day}{seq:05d}" for seq in range(last - count + 1, last + 1)]

    # -- writing ------------------------------------------------------------
    copy_threshold = 20  # batches at least this big go through COPY on PostgreSQL

    def add_many(self, orders: Sequence[WorkOrder]) -> None:
        if not orders:
            return
        rows = [dict(_row_values(o), version=1) for o in orders]
        if self.dialect == "postgresql" and len(orders) >= self.copy_threshold:
            ids = self.connection.execute(
                text("SELECT nextval(pg_get_serial_sequence('work_orders', 'id')) FROM generate_series(1, :n)"),
                {"n": len(rows)},
            ).scalars().all()
            for row, order_id in zip(rows, ids):
                row["id"] = order_id
            self._copy(work_orders, rows)
        else:
            stmt = insert(work_orders).returning(work_orders.c.id, sort_by_parameter_order=True)
            ids = [r[0] for r in self.connection.execute(stmt, rows)]
        history, timers = [], []
        for order, order_id in zip(orders, ids):
            order.id, order.version = order_id, 1
            history.extend(_history_values(order_id, e) for e in order.new_history)
            order.new_history = []
            timers.extend({"order_id": order_id, "kind": k, "phase": p, "due_at": at} for k, p, at in _timer_rows(order))
        bulk = self._copy if self.dialect == "postgresql" and len(orders) >= self.copy_threshold else \
            (lambda table, rows: self.connection.execute(insert(table), rows))
        if history:
            bulk(work_order_history, history)
        if timers:
            bulk(sla_timers, timers)

    def _copy(self, table, rows: list[dict[str, Any]]) -> None:
        """PostgreSQL COPY of dict rows into ``table`` on this transaction's connection.

        Parsing a many-thousand-placeholder INSERT costs more than the insert
        itself; COPY streams rows with no SQL text at all."""
        columns = list(rows[0])
        json_columns = {c.name for c in table.columns if isinstance(c.type, JSON)}
        raw = self.connection.connection.dbapi_connection
        sql = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
        with raw.cursor() as cur, cur.copy(sql) as copy:
            for row in rows:
                copy.write_row([json.dumps(row[c], ensure_ascii=False) if c in json_columns and row[c] is not None
                                else row[c] for c in columns])

    def add(self, order: WorkOrder) -> None:
        self.add_many([order])

    def save(self, order: WorkOrder) -> None:
        """Write a changed order, its new history and its timers; optimistic on ``version``."""
        values = _row_values(order)
        values = {k: values[k] for k in (*_MUTABLE, "deadlines", "next_due_at")}
        result = self.connection.execute(
            update(work_orders)
            .where(work_orders.c.id == order.id, work_orders.c.version == order.version)
            .values(**values, version=order.version + 1)
        )
        if result.rowcount != 1:
            raise ConcurrentUpdate("工单已被他人修改,请刷新 / the order was changed meanwhile; reload and retry",
                                   {"number": order.number})
        order.version += 1
        if order.new_history:
            self.connection.execute(insert(work_order_history), [_history_values(order.id, e) for e in order.new_history])
            order.new_history = []
        self.sync_timers(order)

    def sync_timers(self, order: WorkOrder) -> None:
        """Make the order's timer rows match its running deadlines.

        Timers that already fired for an unchanged instant are kept, so a
        warning is never raised twice for the same deadline."""
        want = _timer_rows(order)
        existing = self.connection.execute(
            select(sla_timers.c.id, sla_timers.c.kind, sla_timers.c.phase, sla_timers.c.due_at, sla_timers.c.fired_at)
            .where(sla_timers.c.order_id == order.id)
        ).all()
        have = set()
        stale = []
        for row in existing:
            key = (row.kind, row.phase, row.due_at)
            if key in want:
                have.add(key)
            elif row.fired_at is None:
                stale.append(row.id)
        if stale:
            self.connection.execute(delete(sla_timers).where(sla_timers.c.id.in_(stale)))
        new = [{"order_id": order.id, "kind": k, "phase": p, "due_at": at} for k, p, at in want - have]
        if new:
            self.connection.execute(insert(sla_timers), new)

    # -- reading ------------------------------------------------------------
    def get(self, number: str, *, for_update: bool = False) -> WorkOrder | None:
        stmt = select(work_orders).where(work_orders.c.number == number)
        if for_update and self.dialect == "postgresql":
            stmt = stmt.with_for_update()
        row = self.connection.execute(stmt).mappings().first()
        return self._order(row) if row else None

    def latest_open_for_caller(self, phones: Sequence[str], open_statuses: Sequence[str]) -> str | None:
        """The number of the newest order in an open status that one of these phone numbers reported."""
        return self.connection.execute(
            select(work_orders.c.number).where(work_orders.c.caller_phone.in_(list(phones)),
                                               work_orders.c.status.in_(list(open_statuses)))
            .order_by(work_orders.c.created_at.desc(), work_orders.c.id.desc()).limit(1)).scalar()

    def lock_many(self, numbers: Sequence[str]) -> dict[str, WorkOrder]:
        """Load and lock several orders at once, in ascending id order.

        Every path that locks more than one order goes through here, so two
        transactions wanting the same rows queue on the lowest id instead of
        each holding one row and waiting for the other (a deadlock).  PostgreSQL
        takes the locks of ``ORDER BY … FOR UPDATE`` in the sorted order; the
        rows returned are the latest committed versions, so the caller's
        domain checks see what the winner of a race wrote.  (SQLite serialises
        writers with BEGIN IMMEDIATE and needs no row locks.)"""
        stmt = select(work_orders).where(work_orders.c.number.in_(sorted(set(numbers)))).order_by(work_orders.c.id)
        if self.dialect == "postgresql":
            stmt = stmt.with_for_update()
        return {row["number"]: self._order(row) for row in self.connection.execute(stmt).mappings()}

    def get_by_id(self, order_id: int) -> WorkOrder | None:
        row = self.connection.execute(select(work_orders).where(work_orders.c.id == order_id)).mappings().first()
        return self._order(row) if row else None

    @staticmethod
    def _order(row) -> WorkOrder:
        data = {f: row[f] for f in _FIELDS}
        data["call_ids"] = list(data["call_ids"] or [])
        data["co_departments"] = list(data["co_departments"] or [])
        data["pending"] = dict(data["pending"] or {})
        data["co_parts"] = dict(data["co_parts"] or {})
        data["deadlines"] = {k: Deadline.from_dict(v) for k, v in (row["deadlines"] or {}).items()}
        return WorkOrder(id=row["id"], version=row["version"], **data)

    def history(self, order_id: int) -> list[HistoryEntry]:
        rows = self.connection.execute(
            select(work_order_history).where(work_order_history.c.order_id == order_id).order_by(work_order_history.c.id)
        ).mappings()
        return [
            HistoryEntry(r["at"], r["actor"], r["role"], r["action"], r["from_status"], r["to_status"], r["reason"],
                         dict(r["details"] or {}))
            for r in rows
        ]

    def list(self, *, status=None, department=None, visible_to=None, q=None, limit=50, offset=0,
             statuses=None, category=None, created_from=None, created_to=None, numbers=None, with_total=True):
        """A page of orders (newest first) and the total count matching the filters (None
        without ``with_total``).  Every filter is SQL, so a match is found however old it is."""
        conds = []
        if status:
            conds.append(work_orders.c.status == status)
        if statuses is not None:
            conds.append(work_orders.c.status.in_(sorted(statuses)))
        if category:
            conds.append(work_orders.c.category == category)
        if created_from is not None:
            conds.append(work_orders.c.created_at >= created_from)
        if created_to is not None:
            conds.append(work_orders.c.created_at <= created_to)
        if numbers is not None:
            conds.append(work_orders.c.number.in_(sorted(set(numbers))))
        if department:
            conds.append(work_orders.c.department == department)
        if visible_to:
            conds.append(self._visible(visible_to))
        if q:
            pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            conds.append(or_(*(c.like(pattern, escape="\\") for c in (
                work_orders.c.number, work_orders.c.summary, work_orders.c.description, work_orders.c.address))))
        where = and_(*conds) if conds else None
        stmt = select(work_orders).order_by(work_orders.c.id.desc()).limit(limit).offset(offset)
        count = select(func.count()).select_from(work_orders)
        if where is not None:
            stmt, count = stmt.where(where), count.where(where)
        rows = self.connection.execute(stmt).mappings().all()
        total = self.connection.execute(count).scalar_one() if with_total else None
        return [self._order(r) for r in rows], total

    @staticmethod
    def _visible(department: str):
        # co_departments is a JSON list of validated codes ([a-z-] only), so a
        # quoted LIKE is exact; the code is bound, never spliced into SQL.
        from sqlalchemy import String, cast
        return or_(work_orders.c.department == department,
                   cast(work_orders.c.co_departments, String).like('%"' + department + '"%'))

    # -- idempotency --------------------------------------------------------
    def claim_idempotency_key(self, key: str, fingerprint: str, now: datetime) -> None:
        """Insert the key first: a concurrent duplicate blocks or fails here."""
        self.connection.execute(insert(idempotency_keys).values(key=key, fingerprint=fingerprint, created_at=now))

    def bind_idempotency_key(self, key: str, order_id: int) -> None:
        self.connection.execute(update(idempotency_keys).where(idempotency_keys.c.key == key).values(order_id=order_id))

    def idempotency_key(self, key: str):
        return self.connection.execute(select(idempotency_keys).where(idempotency_keys.c.key == key)).mappings().first()


# SQLSTATEs PostgreSQL uses to abort a transaction that collided with another.
_CONFLICT_STATES = {"40P01": "deadlock_detected", "40001": "serialization_failure"}


def _conflict(exc: BaseException | None) -> str | None:
    """The collision reason if ``exc`` is a deadlock/serialisation failure, else None."""
    if not isinstance(exc, DBAPIError):
        return None
    orig = exc.orig
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return _CONFLICT_STATES.get(state)


class SqlAlchemyUnitOfWork:
    """One transaction: ``with uow: ...; uow.commit()``; leaving without commit rolls back."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def __enter__(self) -> "SqlAlchemyUnitOfWork":
        self.connection = self.engine.connect()
        self.transaction = self.connection.begin()
        self.orders = WorkOrderRepository(self.connection)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if self.transaction.is_active:
                self.transaction.rollback()
        finally:
            self.connection.close()
        reason = _conflict(exc)
        if reason is not None:
            # The database gave up on this transaction because of another one
            # (nothing was written): a conflict the client can retry, not a 500.
            raise ConcurrentUpdate("并发冲突，请刷新后重试 / the transaction collided with another one; reload and retry",
                                   {"reason": reason}) from exc

    def commit(self) -> None:
        self.transaction.commit()

    def rollback(self) -> None:
        self.transaction.rollback()
