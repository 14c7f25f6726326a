"""Reading the report figures from the database (SQLAlchemy Core; blocking — run in a thread pool).

Days and months are Beijing time (UTC+8, no DST).  Rows are selected with a
one-day margin and filtered exactly in Python after normalising instants, so
the same code is right on SQLite (naive UTC text) and PostgreSQL (timestamptz).
"""
from __future__ import annotations

import calendar as _calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import and_, select

from callcenter.errors import HotlineError
from callcenter.reports.figures import (
    Report, add_order, add_queue_call, add_rating, handle_times,
)
from callcenter.reports.hottopics import Thresholds, rising

CST = timezone(timedelta(hours=8))
UTC = timezone.utc
DIMENSIONS = ("queue", "agent", "department", "category")
CALL_DIMENSIONS = ("queue", "agent")


class ReportError(HotlineError, ValueError):
    """A report asked for an unknown period or dimension."""


@dataclass(frozen=True)
class Period:
    """A Beijing-time day or month: ``[start, end)`` as aware instants."""

    kind: str  # "day" | "month"
    first: date

    @classmethod
    def parse(cls, kind: str, value: str) -> "Period":
        try:
            if kind == "day":
                return cls("day", date.fromisoformat(value))
            if kind == "month":
                year, month = value.split("-")
                return cls("month", date(int(year), int(month), 1))
        except (ValueError, TypeError):
            raise ReportError("reports.bad_date", "日期格式错误（日：2026-11-23，月：2026-11） / bad date "
                              "(day: 2026-11-23, month: 2026-11)", value=str(value)[:20]) from None
        raise ReportError("reports.bad_period", "周期须为 day 或 month / period must be day or month",
                          period=str(kind)[:20])

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(), CST)

    @property
    def end(self) -> datetime:
        if self.kind == "day":
            return self.start + timedelta(days=1)
        days = _calendar.monthrange(self.first.year, self.first.month)[1]
        return self.start + timedelta(days=days)

    @property
    def label(self) -> str:
        return self.first.isoformat() if self.kind == "day" else self.first.strftime("%Y-%m")


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _rows(conn, table, column, period: Period, *columns):
    """Rows of ``table`` whose ``column`` lies in the period (see the module doc)."""
    margin = timedelta(days=1)
    query = select(*columns, column).where(and_(column >= period.start - margin, column < period.end + margin))
    for row in conn.execute(query):
        at = _aware(row[-1])
        if period.start <= at < period.end:
            yield row


def report(engine, period: Period, dimension: str) -> Report:
    """One row per queue / agent / department / category with every figure that applies to it."""
    if dimension not in DIMENSIONS:
        raise ReportError("reports.bad_dimension", "未知的报表维度 / unknown report dimension",
                          dimension=str(dimension)[:20], allowed=list(DIMENSIONS))
    from callcenter.reports.ratings import call_ratings
    from callcenter.routing.store import agent_state_log, queue_calls
    from ticketing.persistence.tables import sla_events, work_orders

    out = Report()
    with engine.connect() as conn:
        if dimension in CALL_DIMENSIONS:
            key_col = queue_calls.c.queue if dimension == "queue" else queue_calls.c.agent_id
            for key, outcome, wait, _ in _rows(conn, queue_calls, queue_calls.c.left_at, period, key_col,
                                               queue_calls.c.outcome, queue_calls.c.wait_seconds):
                add_queue_call(out.row(key), outcome, float(wait))
            rkey = call_ratings.c.queue if dimension == "queue" else call_ratings.c.agent_id
            for key, satisfied, _ in _rows(conn, call_ratings, call_ratings.c.rated_at, period, rkey,
                                           call_ratings.c.satisfied):
                add_rating(out.row(key), bool(satisfied))
            if dimension == "agent":
                changes = [(a, s, _aware(at)) for a, s, at in _rows(conn, agent_state_log, agent_state_log.c.at,
                                                                      period, agent_state_log.c.agent_id,
                                                                      agent_state_log.c.to_state)]
                for agent, (calls, seconds) in handle_times(changes).items():
                    fig = out.row(agent)
                    fig.handled += calls
                    fig.handle_seconds += seconds
        else:
            key_col = work_orders.c.department if dimension == "department" else work_orders.c.category
            breached = {r[0] for r in conn.execute(select(sla_events.c.order_id).where(
                and_(sla_events.c.kind == "resolve", sla_events.c.phase == "breach")))}
            for oid, key, status, reopens, satisfaction, _ in _rows(
                    conn, work_orders, work_orders.c.created_at, period, work_orders.c.id, key_col,
                    work_orders.c.status, work_orders.c.reopen_count, work_orders.c.satisfaction):
                add_order(out.row(key), status, reopens or 0, satisfaction, oid in breached)
    return out


def daily_series(engine, last_day: date, days: int) -> tuple[list[date], dict[tuple[str, str], list[int]]]:
    """Work orders per day by category and by place (subdistrict, else district), ``days`` days to ``last_day``."""
    from ticketing.persistence.tables import work_orders

    first = last_day - timedelta(days=days - 1)
    start, end = Period("day", first).start, Period("day", last_day).end
    series: dict[tuple[str, str], list[int]] = {}
    with engine.connect() as conn:
        margin = timedelta(days=1)
        rows = conn.execute(select(work_orders.c.category, work_orders.c.district, work_orders.c.subdistrict,
                                   work_orders.c.created_at).where(
            and_(work_orders.c.created_at >= start - margin, work_orders.c.created_at < end + margin)))
        for category, district, subdistrict, created in rows:
            at = _aware(created).astimezone(CST)
            if not start <= at < end:
                continue
            i = (at.date() - first).days
            for key in (("category", category), ("place", subdistrict or district)):
                series.setdefault(key, [0] * days)[i] += 1
    return [first + timedelta(days=i) for i in range(days)], series


def hot_topics(engine, today: date, thresholds: Thresholds, *, top: int = 10, show_days: int = 14):
    """``(days, series, trends)``: the series covers the baseline plus today (at least ``show_days``)."""
    days = max(show_days, thresholds.baseline_days + 1)
    labels, series = daily_series(engine, today, days)
    return labels, series, rising(series, thresholds, top=top)
