"""Knowledge base: supervisors' added and edited entries (over the shipped YAML).

Revision ID: knowledge_0001_entries
Revises: 0001_base
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "knowledge_0001_entries"
down_revision = "0001_base"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "knowledge_entries",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("title_zh", sa.String(200), nullable=False),
        sa.Column("title_en", sa.String(200), nullable=False),
        sa.Column("body_zh", sa.Text, nullable=False),
        sa.Column("body_en", sa.Text, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("line", sa.String(20), nullable=True),
        sa.Column("retired", sa.Boolean, nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_knowledge_entries"),
    )


def downgrade() -> None:
    op.drop_table("knowledge_entries")
