"""Auth: a user's ACD agent id and phone device (desk account ↔ ACD agent, supervisor's ChanSpy phone).

Revision ID: auth_0003_agent_profile
Revises: auth_0002_login_failures
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "auth_0003_agent_profile"
down_revision = "auth_0002_login_failures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Both nullable: existing accounts keep working (the desk falls back to the user name).
    op.add_column("users", sa.Column("agent_id", sa.String(64), nullable=True))
    op.add_column("users", sa.Column("device", sa.String(80), nullable=True))
    op.create_index("uq_users_agent_id", "users", ["agent_id"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_users_agent_id", table_name="users")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("device")
        batch.drop_column("agent_id")
