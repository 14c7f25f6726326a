"""Routing: an in-queue callback's attempt in flight — when its Originate went out and which
controller (PBX scope) placed it, so a controller that takes over recognises the call and never
dials the citizen a second time (cleared when the attempt's outcome is known).

Revision ID: routing_0003_callback_in_flight
Revises: routing_0002_callback_retries
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "routing_0003_callback_in_flight"
down_revision = "routing_0002_callback_retries"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("queue_callbacks") as batch:
        batch.add_column(sa.Column("dialled_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("dialled_by", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("queue_callbacks") as batch:
        batch.drop_column("dialled_by")
        batch.drop_column("dialled_at")
