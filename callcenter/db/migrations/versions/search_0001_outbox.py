"""Search: the outbox of changes to index and the feeder's positions.

Revision ID: search_0001_outbox
Revises: 0001_base
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "search_0001_outbox"
down_revision = "0001_base"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("op", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("ref", sa.String(64), nullable=False),
        sa.Column("document", sa.JSON, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "search_sync_state",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("position", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("search_sync_state")
    op.drop_table("search_outbox")
