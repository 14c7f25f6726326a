"""Attachments: photos and PDFs of work orders (files stored by SHA-256).

Revision ID: attachments_0001_files
Revises: 0001_base
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "attachments_0001_files"
down_revision = "0001_base"
branch_labels = None
depends_on = None


def upgrade() -> None:
    big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "attachments",
        sa.Column("id", big, primary_key=True, autoincrement=True),
        sa.Column("order_number", sa.String(20), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("media_type", sa.String(40), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("width", sa.Integer, nullable=True),
        sa.Column("height", sa.Integer, nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("uploaded_by", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_attachments"),
    )
    op.create_index("ix_attachments_order_number", "attachments", ["order_number"])


def downgrade() -> None:
    op.drop_index("ix_attachments_order_number", table_name="attachments")
    op.drop_table("attachments")
