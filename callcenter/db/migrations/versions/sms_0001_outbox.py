"""SMS: the outbox of messages to citizens (Kannel) and the opt-out list.

Revision ID: sms_0001_outbox
Revises: 0001_base
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "sms_0001_outbox"
down_revision = "0001_base"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sms_messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("lang", sa.String(2), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("urgent", sa.Boolean, nullable=False),
        sa.Column("order_number", sa.String(20)),
        sa.Column("dedupe_key", sa.String(64)),
        sa.Column("token", sa.String(32), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(64)),
        sa.Column("claimed_at", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.String(300)),
        sa.Column("dlr_status", sa.Integer),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("dedupe_key", name="uq_sms_messages_dedupe"),
    )
    op.create_index("ix_sms_messages_state_next", "sms_messages", ["state", "next_at"])
    op.create_index("ix_sms_messages_order", "sms_messages", ["order_number"])
    op.create_table(
        "sms_optouts",
        sa.Column("phone", sa.String(20), primary_key=True),
        sa.Column("word", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sms_optouts")
    op.drop_index("ix_sms_messages_order", table_name="sms_messages")
    op.drop_index("ix_sms_messages_state_next", table_name="sms_messages")
    op.drop_table("sms_messages")
