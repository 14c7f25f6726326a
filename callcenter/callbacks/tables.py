"""Tables of the callback jobs (migration ``callbacks_0001_jobs``) and the webhook outbox."""
from __future__ import annotations

from sqlalchemy import JSON, Column, Index, Integer, String, Table, Text, UniqueConstraint

from callcenter.db import metadata
from ticketing.persistence.tables import UtcDateTime

# state: scheduled → dialing → done | scheduled (retry) | unreachable; skipped (do not call)
callback_jobs = Table(
    "callback_jobs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("order_number", String(20), nullable=False),
    Column("round", Integer, nullable=False),          # the order's reopen_count when replied
    Column("phone", String(32), nullable=False),
    Column("department", String(64)),
    Column("category", String(64), nullable=False),
    Column("urgency", String(10), nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("due_at", UtcDateTime, nullable=False),
    Column("callback_id", String(40)),                   # of the current attempt: "<job id>-<attempt>"
    Column("claimed_by", String(64)),
    Column("claimed_at", UtcDateTime),
    # callbacks_0003: the current attempt's Originate was sent (written just before it is):
    # set → the call may have reached the citizen; never dialled again at once (callcenter.failover.callbacks)
    Column("dialled_at", UtcDateTime),
    Column("last_reason", Integer),
    Column("result", String(16)),
    Column("result_by", String(64)),
    Column("note", Text),
    Column("comment_path", String(500)),                 # the survey's recorded comment, if any
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("order_number", "round", name="uq_callback_jobs_order_round"),
)
Index("ix_callback_jobs_state_due", callback_jobs.c.state, callback_jobs.c.due_at)
Index("ix_callback_jobs_phone_state", callback_jobs.c.phone, callback_jobs.c.state)
# never two callbacks to one number at once, even with two workers racing
Index("uq_callback_jobs_phone_dialing", callback_jobs.c.phone, unique=True,
      sqlite_where=callback_jobs.c.state == "dialing", postgresql_where=callback_jobs.c.state == "dialing")

# citizens who asked not to be called back (不回访)
callback_optouts = Table(
    "callback_optouts", metadata,
    Column("phone", String(32), primary_key=True),
    Column("note", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

# webhook outbox (migration ``callbacks_0002_webhook_outbox``): a notification is written here in the
# transaction of the change that causes it and delivered later, with retries, by
# :class:`callcenter.callbacks.notify.WebhookDelivery`.
# state: pending → sending → delivered | pending (retry, next_at) | dead (after the last attempt)
callback_webhooks = Table(
    "callback_webhooks", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(32), nullable=False),      # the receiver's Idempotency-Key
    Column("kind", String(32), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_at", UtcDateTime, nullable=False),
    Column("claimed_by", String(64)),
    Column("claimed_at", UtcDateTime),
    Column("last_error", String(300)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("event_id", name="uq_callback_webhooks_event_id"),
)
Index("ix_callback_webhooks_state_next", callback_webhooks.c.state, callback_webhooks.c.next_at)
