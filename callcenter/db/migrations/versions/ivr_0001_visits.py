"""IVR: one row per IVR visit with the caller's path, for reports.

Revision ID: ivr_0001_visits
Revises: 0001_base
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "ivr_0001_visits"
down_revision = "0001_base"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ivr_visits",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(128), nullable=False),
        sa.Column("flow", sa.String(64), nullable=False),
        sa.Column("caller", sa.String(32), nullable=False),
        sa.Column("lang", sa.String(8), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("queue", sa.String(64), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("steps", sa.Integer, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
    )
    op.create_index("ix_ivr_visits_started_at", "ivr_visits", ["started_at"])
    op.create_index("ix_ivr_visits_call_id", "ivr_visits", ["call_id"])


def downgrade() -> None:
    op.drop_index("ix_ivr_visits_call_id", table_name="ivr_visits")
    op.drop_index("ix_ivr_visits_started_at", table_name="ivr_visits")
    op.drop_table("ivr_visits")
