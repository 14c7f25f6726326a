"""Screening: the supervisors' list of restricted (nuisance) callers.

Revision ID: screening_0001_restricted
Revises: 0001_base
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "screening_0001_restricted"
down_revision = "0001_base"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "restricted_callers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("created_by", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lifted_by", sa.String(40), nullable=True),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_restricted_callers_number", "restricted_callers", ["number"])
    op.create_index("ix_restricted_callers_until", "restricted_callers", ["until"])


def downgrade() -> None:
    op.drop_index("ix_restricted_callers_until", table_name="restricted_callers")
    op.drop_index("ix_restricted_callers_number", table_name="restricted_callers")
    op.drop_table("restricted_callers")
