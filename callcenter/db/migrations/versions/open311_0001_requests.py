"""Open311: what a GeoReport request carries beyond its work order (coordinates, media, ids).

Revision ID: open311_0001_requests
Revises: 0001_base
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "open311_0001_requests"
down_revision = "0001_base"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "open311_requests",
        sa.Column("order_number", sa.String(20), primary_key=True),
        sa.Column("lat", sa.Float),
        sa.Column("long", sa.Float),
        sa.Column("media_url", sa.String(500)),
        sa.Column("attachment_id", sa.Integer),
        sa.Column("email", sa.String(200)),
        sa.Column("device_id", sa.String(100)),
        sa.Column("account_id", sa.String(100)),
    )


def downgrade() -> None:
    op.drop_table("open311_requests")
