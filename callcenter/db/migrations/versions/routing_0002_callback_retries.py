"""Routing: in-queue callbacks are retried — when the next attempt is due, why the last one
failed, and the priority/skill the caller is queued with again.

Revision ID: routing_0002_callback_retries
Revises: routing_0001_acd
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "routing_0002_callback_retries"
down_revision = "routing_0001_acd"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("queue_callbacks") as batch:
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("last_reason", sa.String(32), nullable=True))
        batch.add_column(sa.Column("priority", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("skill", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("queue_callbacks") as batch:
        batch.drop_column("skill")
        batch.drop_column("priority")
        batch.drop_column("last_reason")
        batch.drop_column("next_attempt_at")
