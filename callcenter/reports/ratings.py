"""一次一评: the caller's one-key rating at the end of an answered call.

The rating AGI (``hotline-connect`` → ``AGI(agi:async,rating)``) hands the
digit to :func:`record_rating`; reports read ``call_ratings``.  Blocking.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Column, DateTime, Index, Integer, String, Table, insert

from callcenter.db import metadata
from callcenter.errors import HotlineError

RATING_DIGITS = {"1": (1, True), "2": (2, True), "3": (3, False)}  # 满意 / 基本满意 / 不满意

call_ratings = Table(
    "call_ratings", metadata,
    Column("id", Integer, primary_key=True),
    Column("call_id", String(64), nullable=False, unique=True),
    Column("queue", String(64), nullable=True),
    Column("agent_id", String(64), nullable=True),
    Column("score", Integer, nullable=False),
    Column("satisfied", Boolean, nullable=False),
    Column("rated_at", DateTime(timezone=True), nullable=False),
    Index("ix_call_ratings_rated_at", "rated_at"),
)


class RatingError(HotlineError, ValueError):
    def __init__(self, digit):
        Exception.__init__(self, "评价按键须为 1、2 或 3 / the rating key must be 1, 2 or 3")
        self.error_id = "reports.bad_rating"
        self.message = str(self)
        self.details = {"digit": str(digit)[:4]}


def record_rating(engine, call_id: str, digit: str, now: datetime, *, queue: str | None = None,
                  agent_id: str | None = None) -> None:
    """Store one rating (1 satisfied, 2 basically satisfied, 3 dissatisfied); a second one for a call is ignored."""
    if digit not in RATING_DIGITS:
        raise RatingError(digit)
    score, satisfied = RATING_DIGITS[digit]
    from sqlalchemy.exc import IntegrityError

    try:
        with engine.begin() as conn:
            conn.execute(insert(call_ratings).values(call_id=call_id, queue=queue, agent_id=agent_id, score=score,
                                                     satisfied=satisfied, rated_at=now))
    except IntegrityError:
        return
