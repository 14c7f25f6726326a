"""Auth: failed log-ins for the log-in throttle, shared by every process on the database.

Revision ID: auth_0002_login_failures
Revises: auth_0001_users
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "auth_0002_login_failures"
down_revision = "auth_0001_users"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("scope", sa.String(10), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_login_failures_scope_key_at", "login_failures", ["scope", "key", "at"])
    op.create_index("ix_login_failures_at", "login_failures", ["at"])


def downgrade() -> None:
    op.drop_table("login_failures")
