"""Citizen portal: SMS verification codes (with report drafts) and the portal's reports.

Revision ID: citizen_0001_portal
Revises: 0001_base
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "citizen_0001_portal"
down_revision = "0001_base"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "citizen_codes",
        sa.Column("ticket", sa.String(32), primary_key=True),
        sa.Column("purpose", sa.String(8), nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("order_number", sa.String(20)),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("draft", sa.JSON),
        sa.Column("client", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_citizen_codes_phone_created", "citizen_codes", ["phone", "created_at"])
    op.create_index("ix_citizen_codes_client_created", "citizen_codes", ["client", "created_at"])
    op.create_table(
        "citizen_reports",
        sa.Column("order_number", sa.String(20), primary_key=True),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("client", sa.String(64), nullable=False),
        sa.Column("lang", sa.String(2), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_citizen_reports_phone_created", "citizen_reports", ["phone", "created_at"])
    op.create_index("ix_citizen_reports_client_created", "citizen_reports", ["client", "created_at"])


def downgrade() -> None:
    op.drop_table("citizen_reports")
    op.drop_table("citizen_codes")
