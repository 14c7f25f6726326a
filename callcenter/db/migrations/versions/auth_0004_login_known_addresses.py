"""Auth: the addresses each user name has logged in from, so guesses from elsewhere never lock them out there.

Revision ID: auth_0004_known_addresses
Revises: auth_0003_agent_profile
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "auth_0004_known_addresses"
down_revision = "auth_0003_agent_profile"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_known_addresses",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("login_known_addresses")
