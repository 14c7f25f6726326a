"""Work orders, their history, numbering, idempotency keys, SLA timers and
events, and the working-calendar override table.

Revision ID: ticketing_0001
Revises: 0001_base
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "ticketing_0001"
down_revision = "0001_base"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "work_orders",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("number", sa.String(20), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("district", sa.String(32), nullable=False),
        sa.Column("subdistrict", sa.String(32)),
        sa.Column("address", sa.String(300)),
        sa.Column("urgency", sa.String(10), nullable=False),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("caller_name", sa.String(100)),
        sa.Column("caller_phone", sa.String(32)),
        sa.Column("summary", sa.String(200), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("call_ids", sa.JSON, nullable=False),
        sa.Column("department", sa.String(64)),
        sa.Column("co_departments", sa.JSON, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("supervised", sa.Boolean, nullable=False),
        sa.Column("reminders", sa.Integer, nullable=False),
        sa.Column("reopen_count", sa.Integer, nullable=False),
        sa.Column("merged_into", sa.String(20)),
        sa.Column("reply", sa.Text),
        sa.Column("satisfaction", sa.Integer),
        sa.Column("pending", sa.JSON, nullable=False),
        sa.Column("deadlines", sa.JSON, nullable=False),
        sa.Column("next_due_at", When),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.UniqueConstraint("number", name="uq_work_orders_number"),
    )
    op.create_index("ix_work_orders_department_status", "work_orders", ["department", "status"])
    op.create_index("ix_work_orders_status", "work_orders", ["status"])
    op.create_table(
        "work_order_history",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("order_id", BigId, sa.ForeignKey("work_orders.id", ondelete="CASCADE"), nullable=False),
        sa.Column("at", When, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_status", sa.String(32)),
        sa.Column("to_status", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("details", sa.JSON, nullable=False),
    )
    op.create_index("ix_work_order_history_order_id", "work_order_history", ["order_id"])
    op.create_table(
        "work_order_sequences",
        sa.Column("day", sa.String(8), primary_key=True),
        sa.Column("last", sa.Integer, nullable=False),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("order_id", BigId, sa.ForeignKey("work_orders.id", ondelete="CASCADE")),
        sa.Column("created_at", When, nullable=False),
    )
    op.create_table(
        "sla_timers",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("order_id", BigId, sa.ForeignKey("work_orders.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("phase", sa.String(8), nullable=False),
        sa.Column("due_at", When, nullable=False),
        sa.Column("fired_at", When),
    )
    op.create_index("ix_sla_timers_order_id", "sla_timers", ["order_id"])
    op.create_index("ix_sla_timers_pending_due", "sla_timers", ["due_at"],
                    postgresql_where=sa.text("fired_at IS NULL"), sqlite_where=sa.text("fired_at IS NULL"))
    op.create_table(
        "sla_events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("timer_id", BigId, nullable=False),
        sa.Column("order_id", BigId, sa.ForeignKey("work_orders.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("phase", sa.String(8), nullable=False),
        sa.Column("due_at", When, nullable=False),
        sa.Column("fired_at", When, nullable=False),
        sa.Column("worker", sa.String(64), nullable=False),
        sa.UniqueConstraint("timer_id", name="uq_sla_events_timer_id"),
    )
    op.create_index("ix_sla_events_order_id", "sla_events", ["order_id"])
    op.create_table(
        "calendar_overrides",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("is_workday", sa.Boolean, nullable=False),
        sa.Column("note", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    for name in ("calendar_overrides", "sla_events", "sla_timers", "idempotency_keys",
                 "work_order_sequences", "work_order_history", "work_orders"):
        op.drop_table(name)
