"""Satisfaction callbacks: when the current attempt's Originate was sent (``dialled_at``), written
before it is sent — so a claim that never dialled (the worker died in between) is told apart from
a call that may have reached the citizen, which is never dialled again at once.

Revision ID: callbacks_0003_dialled_at
Revises: callbacks_0002_webhook_outbox
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "callbacks_0003_dialled_at"
down_revision = "callbacks_0002_webhook_outbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("callback_jobs") as batch:
        batch.add_column(sa.Column("dialled_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("callback_jobs") as batch:
        batch.drop_column("dialled_at")
