"""Index work_orders.created_at: Open311's start_date/end_date filters and the
reports select and sort work orders by creation time, which was a full scan.

Revision ID: ticketing_0003
Revises: ticketing_0002
Create Date: 2026-11-23
"""
from alembic import op

revision = "ticketing_0003"
down_revision = "ticketing_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_work_orders_created_at", "work_orders", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_work_orders_created_at", table_name="work_orders")
