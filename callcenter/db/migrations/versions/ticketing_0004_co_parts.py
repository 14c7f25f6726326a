"""Work orders: each co-handling department's part (协办: acknowledged / answered / released)
and the sub-unit of a two-level dispatch (二级派单).

Existing co-handling departments start "assigned", as they have not answered.

Revision ID: ticketing_0004
Revises: ticketing_0003
Create Date: 2026-12-07
"""
import json

import sqlalchemy as sa
from alembic import op

revision = "ticketing_0004"
down_revision = "ticketing_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("work_orders") as batch:
        batch.add_column(sa.Column("co_parts", sa.JSON, nullable=False, server_default="{}"))
        batch.add_column(sa.Column("sub_unit", sa.String(32), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, co_departments, updated_at FROM work_orders "
                                "WHERE CAST(co_departments AS VARCHAR) <> '[]'")).all()
    for order_id, co, updated_at in rows:
        co = json.loads(co) if isinstance(co, str) else (co or [])
        at = updated_at.isoformat() if hasattr(updated_at, "isoformat") else str(updated_at)
        parts = {code: {"state": "assigned", "at": at} for code in co}
        conn.execute(sa.text("UPDATE work_orders SET co_parts = :p WHERE id = :i"),
                     {"p": json.dumps(parts), "i": order_id})


def downgrade() -> None:
    with op.batch_alter_table("work_orders") as batch:
        batch.drop_column("sub_unit")
        batch.drop_column("co_parts")
