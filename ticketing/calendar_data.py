"""Adapter: the working calendar from the ``chinese-calendar`` package plus
the ``calendar_overrides`` table (years the package does not know yet, and
local days such as a typhoon closure).  A year with neither package data nor
any override row is unknown, and the calendar raises for its dates.
"""
from __future__ import annotations

from datetime import date, time
from zoneinfo import ZoneInfo

import chinese_calendar
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from ticketing.domain.calendar import WorkingCalendar
from ticketing.domain.errors import ValidationFailed
from ticketing.persistence.tables import calendar_overrides

DEFAULT_HOURS = {"timezone": "Asia/Shanghai", "work_start": "09:00", "work_end": "17:30",
                 "lunch_start": "12:00", "lunch_end": "13:30"}


def _clock(value: str, key: str) -> time:
    try:
        return time.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValidationFailed(f"calendar.{key}: expected HH:MM, got {value!r}", {key: value}) from None


def periods_from(hours: dict) -> list[tuple[time, time]]:
    """Working periods from ``[calendar]`` settings (a lunch break splits the day)."""
    h = {**DEFAULT_HOURS, **{k: v for k, v in hours.items() if v not in (None, "")}}
    start, end = _clock(h["work_start"], "work_start"), _clock(h["work_end"], "work_end")
    lunch = h.get("lunch_start"), h.get("lunch_end")
    if lunch[0] and lunch[1]:
        ls, le = _clock(lunch[0], "lunch_start"), _clock(lunch[1], "lunch_end")
        return [(start, ls), (le, end)]
    return [(start, end)]


def package_days() -> tuple[set[date], set[date], set[int]]:
    """Holidays, adjusted working days and the years the package covers."""
    holidays, workdays = set(chinese_calendar.holidays), set(chinese_calendar.workdays)
    years = {d.year for d in holidays | workdays}
    return holidays, workdays, years


def read_overrides(engine) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(select(calendar_overrides).order_by(calendar_overrides.c.day)).mappings().all()
    return [dict(r) for r in rows]


def build_calendar(hours: dict | None = None, overrides: list[dict] = ()) -> WorkingCalendar:
    hours = hours or {}
    holidays, workdays, years = package_days()
    for row in overrides:
        day = row["day"]
        (workdays if row["is_workday"] else holidays).add(day)
        (holidays if row["is_workday"] else workdays).discard(day)
        years.add(day.year)
    tz = ZoneInfo(hours.get("timezone") or DEFAULT_HOURS["timezone"])
    return WorkingCalendar(tz=tz, periods=periods_from(hours), holidays=holidays, workdays=workdays, known_years=years)


def load_calendar(engine=None, hours: dict | None = None) -> WorkingCalendar:
    """The calendar for a deployment: package data, then the DB overrides."""
    return build_calendar(hours, read_overrides(engine) if engine is not None else [])


def set_override(engine, day: date, is_workday: bool, note: str) -> None:
    """Add or replace one override day (e.g. 2027's holidays before the package knows them)."""
    if not isinstance(day, date) or not isinstance(is_workday, bool) or not isinstance(note, str) or len(note) > 200:
        raise ValidationFailed("无效的日历调整 / invalid calendar override",
                               {"day": str(day), "is_workday": str(is_workday), "note": "text up to 200 chars"})
    with engine.begin() as conn:
        ins = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(calendar_overrides)
        conn.execute(ins.values(day=day, is_workday=is_workday, note=note).on_conflict_do_update(
            index_elements=["day"], set_={"is_workday": is_workday, "note": note}))


def delete_override(engine, day: date) -> None:
    with engine.begin() as conn:
        conn.execute(delete(calendar_overrides).where(calendar_overrides.c.day == day))
