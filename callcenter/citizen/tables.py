"""Tables of the citizen portal (migration ``citizen_0001_portal``)."""
from __future__ import annotations

from sqlalchemy import JSON, Column, Index, Integer, String, Table

from callcenter.db import metadata
from ticketing.persistence.tables import UtcDateTime

# one SMS verification code: for a report (its draft waits here until the code is given)
# or for reading an order (order_number set only when number and phone matched)
citizen_codes = Table(
    "citizen_codes", metadata,
    Column("ticket", String(32), primary_key=True),      # random; the pages carry it, never the code
    Column("purpose", String(8), nullable=False),        # report | track
    Column("phone", String(20), nullable=False),
    Column("order_number", String(20)),
    Column("code_hash", String(64), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("draft", JSON),
    Column("client", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("used_at", UtcDateTime),
)
Index("ix_citizen_codes_phone_created", citizen_codes.c.phone, citizen_codes.c.created_at)
Index("ix_citizen_codes_client_created", citizen_codes.c.client, citizen_codes.c.created_at)

# orders citizens filed on the portal: for the per-phone and per-address limits
citizen_reports = Table(
    "citizen_reports", metadata,
    Column("order_number", String(20), primary_key=True),
    Column("phone", String(20), nullable=False),
    Column("client", String(64), nullable=False),
    Column("lang", String(2), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)
Index("ix_citizen_reports_phone_created", citizen_reports.c.phone, citizen_reports.c.created_at)
Index("ix_citizen_reports_client_created", citizen_reports.c.client, citizen_reports.c.created_at)
