"""Table of the screening feature (migration ``screening_0001_restricted``)."""
from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, Integer, String, Table

from callcenter.db import metadata

# One row per restriction; a lifted or expired one stays, as the record of who did what.
restricted_callers = Table(
    "restricted_callers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("number", String(32), nullable=False),      # normalised (screening.service.caller_key)
    Column("reason", String(200), nullable=False),
    Column("created_by", String(40), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("until", DateTime(timezone=True), nullable=False),
    Column("lifted_by", String(40), nullable=True),
    Column("lifted_at", DateTime(timezone=True), nullable=True),
    Index("ix_restricted_callers_number", "number"),
    Index("ix_restricted_callers_until", "until"),
)
