"""Audit: the log of reads and exports of citizens' personal data (and retention's anonymisations).

Revision ID: audit_0001_access_log
Revises: 0001_base
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "audit_0001_access_log"
down_revision = "0001_base"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("record", sa.String(64), nullable=True),
        sa.Column("detail", sa.String(200), nullable=True),
        sa.Column("address", sa.String(64), nullable=False),
    )
    op.create_index("ix_access_log_at", "access_log", ["at"])
    op.create_index("ix_access_log_username_at", "access_log", ["username", "at"])
    op.create_index("ix_access_log_kind_record", "access_log", ["kind", "record"])


def downgrade() -> None:
    op.drop_index("ix_access_log_kind_record", table_name="access_log")
    op.drop_index("ix_access_log_username_at", table_name="access_log")
    op.drop_index("ix_access_log_at", table_name="access_log")
    op.drop_table("access_log")
