"""Table of the audit feature (migration ``audit_0001_access_log``)."""
from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Table

from callcenter.db import metadata
from ticketing.persistence.tables import UtcDateTime

# One row per read or export of personal data (or anonymisation by retention); never updated.
access_log = Table(
    "access_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UtcDateTime, nullable=False),
    Column("username", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("kind", String(40), nullable=False),        # order.view, recording.play, reports.export …
    Column("record", String(64), nullable=True),       # the order number, or what was exported
    Column("detail", String(200), nullable=True),
    Column("address", String(64), nullable=False),     # the client's address ("-" for jobs)
    Index("ix_access_log_at", "at"),
    Index("ix_access_log_username_at", "username", "at"),
    Index("ix_access_log_kind_record", "kind", "record"),
)
