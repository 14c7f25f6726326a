"""Tables of the SMS outbox (migration ``sms_0001_outbox``)."""
from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, String, Table, Text, UniqueConstraint

from callcenter.db import metadata
from ticketing.persistence.tables import UtcDateTime

# state: pending → sending → sent (Kannel took it) → delivered | failed (DLR);
#        sending → pending (retry at next_at) | dead (last attempt, or refused for good);
#        pending → suppressed (the number opted out; verification codes are still sent)
sms_messages = Table(
    "sms_messages", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),          # accepted | replied | closed | code
    Column("phone", String(20), nullable=False),
    Column("lang", String(2), nullable=False),
    Column("body", Text, nullable=False),
    Column("urgent", Boolean, nullable=False),           # urgent messages ignore quiet hours
    Column("order_number", String(20)),
    Column("dedupe_key", String(64)),                   # one message per order, kind and round
    Column("token", String(32), nullable=False),         # proves a delivery report is Kannel's
    Column("state", String(12), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_at", UtcDateTime, nullable=False),
    Column("claimed_by", String(64)),
    Column("claimed_at", UtcDateTime),
    Column("last_error", String(300)),
    Column("dlr_status", Integer),                       # Kannel's last report type (1, 2, 4, 8, 16)
    Column("sent_at", UtcDateTime),
    Column("delivered_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("dedupe_key", name="uq_sms_messages_dedupe"),
)
Index("ix_sms_messages_state_next", sms_messages.c.state, sms_messages.c.next_at)
Index("ix_sms_messages_order", sms_messages.c.order_number)

# numbers that replied TD / STOP (退订): no more notifications to them
sms_optouts = Table(
    "sms_optouts", metadata,
    Column("phone", String(20), primary_key=True),
    Column("word", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)
