"""Callbacks: satisfaction callback jobs and do-not-call numbers.

Revision ID: callbacks_0001_jobs
Revises: 0001_base
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "callbacks_0001_jobs"
down_revision = "0001_base"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "callback_jobs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("order_number", sa.String(20), nullable=False),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("department", sa.String(64)),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("urgency", sa.String(10), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("callback_id", sa.String(40)),
        sa.Column("claimed_by", sa.String(64)),
        sa.Column("claimed_at", sa.DateTime(timezone=True)),
        sa.Column("last_reason", sa.Integer),
        sa.Column("result", sa.String(16)),
        sa.Column("result_by", sa.String(64)),
        sa.Column("note", sa.Text),
        sa.Column("comment_path", sa.String(500)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("order_number", "round", name="uq_callback_jobs_order_round"),
    )
    op.create_index("ix_callback_jobs_state_due", "callback_jobs", ["state", "due_at"])
    op.create_index("ix_callback_jobs_phone_state", "callback_jobs", ["phone", "state"])
    op.create_index("uq_callback_jobs_phone_dialing", "callback_jobs", ["phone"], unique=True,
                    sqlite_where=sa.text("state = 'dialing'"), postgresql_where=sa.text("state = 'dialing'"))
    op.create_table(
        "callback_optouts",
        sa.Column("phone", sa.String(32), primary_key=True),
        sa.Column("note", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("callback_optouts")
    op.drop_index("uq_callback_jobs_phone_dialing", table_name="callback_jobs")
    op.drop_index("ix_callback_jobs_phone_state", table_name="callback_jobs")
    op.drop_index("ix_callback_jobs_state_due", table_name="callback_jobs")
    op.drop_table("callback_jobs")
