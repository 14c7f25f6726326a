"""PostgreSQL: leave room in work_orders pages so the frequent flag/status
updates (督办 on breach, version bumps) can be HOT updates that skip index
maintenance.  SQLite has no such setting; nothing to do there.

Revision ID: ticketing_0002
Revises: ticketing_0001
Create Date: 2026-11-23
"""
from alembic import op

revision = "ticketing_0002"
down_revision = "ticketing_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE work_orders SET (fillfactor = 85)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE work_orders RESET (fillfactor)")
