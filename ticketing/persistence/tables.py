"""Tables of the work-order engine, on the project's shared ``metadata``.

The schema itself is created only by the Alembic revisions
``ticketing_*.py``; these definitions are what queries are written against.
Instants are stored in UTC (naive on SQLite, timestamptz on PostgreSQL) and
always come back as aware UTC datetimes.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON, BigInteger, Boolean, Column, Date, DateTime, ForeignKey, Index, Integer, String, Table, Text, text,
)
from sqlalchemy.types import TypeDecorator

from callcenter.db import metadata

UTC = timezone.utc
BigId = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER PRIMARY KEY only


class UtcDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on both databases."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"aware datetime required, got {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


work_orders = Table(
    "work_orders", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("number", String(20), nullable=False, unique=True),
    Column("type", String(20), nullable=False),
    Column("category", String(64), nullable=False),
    Column("district", String(32), nullable=False),
    Column("subdistrict", String(32)),
    Column("address", String(300)),
    Column("urgency", String(10), nullable=False),
    Column("channel", String(10), nullable=False),
    Column("caller_name", String(100)),
    Column("caller_phone", String(32)),
    Column("summary", String(200), nullable=False),
    Column("description", Text),
    Column("call_ids", JSON, nullable=False),
    Column("department", String(64)),
    Column("co_departments", JSON, nullable=False),
    Column("co_parts", JSON, nullable=False),  # migration ticketing_0004 (协办 parts)
    Column("sub_unit", String(32)),             # migration ticketing_0004 (二级派单)
    Column("status", String(32), nullable=False),
    Column("supervised", Boolean, nullable=False),
    Column("reminders", Integer, nullable=False),
    Column("reopen_count", Integer, nullable=False),
    Column("merged_into", String(20)),
    Column("reply", Text),
    Column("satisfaction", Integer),
    Column("pending", JSON, nullable=False),
    Column("deadlines", JSON, nullable=False),
    Column("next_due_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
)
Index("ix_work_orders_department_status", work_orders.c.department, work_orders.c.status)
Index("ix_work_orders_status", work_orders.c.status)
Index("ix_work_orders_created_at", work_orders.c.created_at)  # migration ticketing_0003 (reports, Open311 date filters)

work_order_history = Table(
    "work_order_history", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("order_id", BigId, ForeignKey("work_orders.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("action", String(32), nullable=False),
    Column("from_status", String(32)),
    Column("to_status", String(32), nullable=False),
    Column("reason", Text),
    Column("details", JSON, nullable=False),
)

work_order_sequences = Table(
    "work_order_sequences", metadata,
    Column("day", String(8), primary_key=True),
    Column("last", Integer, nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys", metadata,
    Column("key", String(128), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("order_id", BigId, ForeignKey("work_orders.id", ondelete="CASCADE")),
    Column("created_at", UtcDateTime, nullable=False),
)

sla_timers = Table(
    "sla_timers", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("order_id", BigId, ForeignKey("work_orders.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),   # acknowledge | resolve | callback
    Column("phase", String(8), nullable=False),   # warning | breach
    Column("due_at", UtcDateTime, nullable=False),
    Column("fired_at", UtcDateTime),
)
Index("ix_sla_timers_pending_due", sla_timers.c.due_at,
      postgresql_where=text("fired_at IS NULL"), sqlite_where=text("fired_at IS NULL"))

sla_events = Table(
    "sla_events", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("timer_id", BigId, nullable=False, unique=True),  # the unique key is the exactly-once proof
    Column("order_id", BigId, ForeignKey("work_orders.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("phase", String(8), nullable=False),
    Column("due_at", UtcDateTime, nullable=False),
    Column("fired_at", UtcDateTime, nullable=False),
    Column("worker", String(64), nullable=False),
)

calendar_overrides = Table(
    "calendar_overrides", metadata,
    Column("day", Date, primary_key=True),
    Column("is_workday", Boolean, nullable=False),
    Column("note", String(200), nullable=False),
)
