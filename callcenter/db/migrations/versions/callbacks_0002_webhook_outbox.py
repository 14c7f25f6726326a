"""Callbacks: the webhook outbox (notifications written with the change, delivered with retries).

Revision ID: callbacks_0002_webhook_outbox
Revises: callbacks_0001_jobs
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "callbacks_0002_webhook_outbox"
down_revision = "callbacks_0001_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "callback_webhooks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(64)),
        sa.Column("claimed_at", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.String(300)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("event_id", name="uq_callback_webhooks_event_id"),
    )
    op.create_index("ix_callback_webhooks_state_next", "callback_webhooks", ["state", "next_at"])


def downgrade() -> None:
    op.drop_index("ix_callback_webhooks_state_next", table_name="callback_webhooks")
    op.drop_table("callback_webhooks")
