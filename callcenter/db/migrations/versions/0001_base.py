"""Base revision: every feature's first migration revises this one.

Revision ID: 0001_base
Revises:
Create Date: 2026-11-23
"""
revision = "0001_base"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing: the root the feature branches grow from."""


def downgrade() -> None:
    """Nothing."""
