"""Per-call IVR paths, kept for reports: which menus callers used, where they
gave up, how many reached self-service.  One row per IVR visit; the caller's
number is stored masked (reports never need it in full).
"""
from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Column, DateTime, Index, Integer, String, Table, Text, func, insert, select

from callcenter.db import metadata
from callcenter.personal_data import mask_phone

ivr_visits = Table(
    "ivr_visits",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("call_id", String(64), nullable=False),
    Column("channel", String(128), nullable=False),
    Column("flow", String(64), nullable=False),
    Column("caller", String(32), nullable=False),
    Column("lang", String(8), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("queue", String(64), nullable=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=False),
    Column("steps", Integer, nullable=False),
    Column("path", Text, nullable=False),
    Index("ix_ivr_visits_started_at", "started_at"),
    Index("ix_ivr_visits_call_id", "call_id"),
)

MAX_PATH_STEPS = 200  # a path longer than this is cut (the validator rules out endless loops)


class IvrVisitStore:
    """Blocking (call it from a thread pool)."""

    def __init__(self, engine):
        self.engine = engine

    def record(self, call) -> int:
        path = list(call.path)[:MAX_PATH_STEPS]
        row = {
            "call_id": (call.uniqueid or "")[:64], "channel": call.channel[:128], "flow": call.flow[:64],
            "caller": mask_phone(call.caller or "")[:32], "lang": (call.lang or "")[:8],
            "outcome": (call.outcome or "unknown")[:16], "queue": call.queue,
            "started_at": call.started_at, "ended_at": call.ended_at or call.started_at,
            "steps": len(path), "path": json.dumps(path, ensure_ascii=False),
        }
        with self.engine.begin() as conn:
            return conn.execute(insert(ivr_visits).returning(ivr_visits.c.id), row).scalar_one()

    def visits(self, since: datetime, until: datetime, limit: int = 100) -> list[dict]:
        stmt = (select(ivr_visits).where(ivr_visits.c.started_at >= since, ivr_visits.c.started_at < until)
                .order_by(ivr_visits.c.started_at.desc()).limit(max(1, min(limit, 1000))))
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(stmt)]
        for row in rows:
            row["path"] = json.loads(row["path"])
        return rows

    def outcome_counts(self, since: datetime, until: datetime, flow: str | None = None) -> dict[str, int]:
        """Visits per outcome (transfer, hangup, caller_hangup, …) in ``[since, until)``."""
        stmt = (select(ivr_visits.c.outcome, func.count()).where(ivr_visits.c.started_at >= since,
                                                                 ivr_visits.c.started_at < until)
                .group_by(ivr_visits.c.outcome))
        if flow is not None:
            stmt = stmt.where(ivr_visits.c.flow == flow)
        with self.engine.connect() as conn:
            return {outcome: n for outcome, n in conn.execute(stmt)}
