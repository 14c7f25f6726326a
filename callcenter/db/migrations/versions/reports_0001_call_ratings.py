"""Reports: 一次一评 per-call ratings.

Revision ID: reports_0001_call_ratings
Revises: 0001_base
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "reports_0001_call_ratings"
down_revision = "0001_base"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_ratings",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("call_id", sa.String(64), nullable=False, unique=True),
        sa.Column("queue", sa.String(64), nullable=True),
        sa.Column("agent_id", sa.String(64), nullable=True),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("satisfied", sa.Boolean, nullable=False),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_call_ratings_rated_at", "call_ratings", ["rated_at"])


def downgrade() -> None:
    op.drop_index("ix_call_ratings_rated_at", table_name="call_ratings")
    op.drop_table("call_ratings")
