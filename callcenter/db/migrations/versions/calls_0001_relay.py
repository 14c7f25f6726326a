"""Calls relay: the leader's live frames and the requests other web processes relay to it.

Revision ID: calls_0001_relay
Revises: 0001_base
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "calls_0001_relay"
down_revision = "0001_base"
branch_labels = None
depends_on = None


def upgrade() -> None:
    big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "calls_frames",
        sa.Column("id", big, primary_key=True, autoincrement=True),
        sa.Column("grp", sa.String(64), nullable=False),
        sa.Column("stream", sa.String(96), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_calls_frames_grp_id", "calls_frames", ["grp", "id"])
    op.create_table(
        "calls_relay_requests",
        sa.Column("id", big, primary_key=True, autoincrement=True),
        sa.Column("grp", sa.String(64), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("headers", sa.Text, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=True),
        sa.Column("status", sa.Integer, nullable=True),
        sa.Column("response_headers", sa.Text, nullable=True),
        sa.Column("response_body", sa.LargeBinary, nullable=True),
        sa.Column("executed_by", sa.String(128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_calls_relay_requests_grp_state", "calls_relay_requests", ["grp", "state"])


def downgrade() -> None:
    op.drop_index("ix_calls_relay_requests_grp_state", table_name="calls_relay_requests")
    op.drop_table("calls_relay_requests")
    op.drop_index("ix_calls_frames_grp_id", table_name="calls_frames")
    op.drop_table("calls_frames")
