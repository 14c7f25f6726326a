"""Working time on a Chinese public-service calendar.

Deadlines like "5 working days" skip weekends, public holidays and lunch, but
count adjusted working days (调休, e.g. a Saturday worked to bridge a holiday).
The calendar is pure: holidays, adjusted working days and the years they are
known for are passed in (see ``ticketing.calendar_data`` for the adapter).  A
date in a year without data raises :class:`CalendarOutOfRange` instead of being
silently treated as an ordinary weekday.
"""
from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Iterable, Sequence

from ticketing.domain.errors import ValidationFailed

UTC = timezone.utc
log = logging.getLogger(__name__)


class WorkingCalendar:
    """Working hours per day plus the day-level exceptions of known years."""

    max_days_scanned = 3660  # a deadline further than ~10 years away is a bug

    def __init__(
        self,
        *,
        tz: tzinfo,
        periods: Sequence[tuple[time, time]],
        holidays: Iterable[date] = (),
        workdays: Iterable[date] = (),
        known_years: Iterable[int] = (),
    ):
        periods = sorted(periods)
        if not periods:
            raise ValidationFailed("工作时段不能为空 / working periods must not be empty", {"periods": "empty"})
        for (s, e), nxt in zip(periods, periods[1:] + [None]):
            if not s < e or (nxt is not None and nxt[0] < e):
                raise ValidationFailed(
                    "工作时段无效 / working periods must be ordered and not overlap",
                    {"periods": [f"{a:%H:%M}-{b:%H:%M}" for a, b in periods]},
                )
        self.tz = tz
        self.periods = tuple(periods)
        self.holidays = frozenset(holidays)
        self.workdays = frozenset(workdays)
        clash = self.holidays & self.workdays
        if clash:
            raise ValidationFailed(
                "同一天既是假日又是工作日 / a day cannot be both holiday and working day",
                {"dates": sorted(d.isoformat() for d in clash)},
            )
        self.known_years = frozenset(known_years)
        self.warned_years: set[int] = set()
        self._periods_cache: dict[date, tuple[tuple[datetime, datetime], ...]] = {}
        self._add_cache: dict[tuple[datetime, float], datetime] = {}
        self.workday_seconds = sum(
            (datetime.combine(date.min, e) - datetime.combine(date.min, s)).total_seconds() for s, e in self.periods
        )

    # -- days -------------------------------------------------------------

    def touches_unknown(self, start: datetime, end: datetime | None) -> bool:
        """True when [start, end] reaches a year without holiday data (a provisional answer)."""
        if end is None:
            return False
        lo, hi = sorted((self._local(start).year, self._local(end).year))
        return any(year not in self.known_years for year in range(lo, hi + 1))

    def is_workday(self, day: date) -> bool:
        """Adjusted working days work, holidays rest, otherwise Mon–Fri work.

        In a year without holiday data the same rule is provisional; the first
        such date of each year is logged so an operator adds the year's holidays.
        """
        if day.year not in self.known_years and day.year not in self.warned_years:
            self.warned_years.add(day.year)
            log.warning(
                "日历没有 %s 年的节假日数据，按周一至周五临时计算 / no holiday data for %s: deadlines are "
                "provisional (Mon–Fri); add the year's holidays to calendar_overrides (known years: %s)",
                day.year, day.year, sorted(self.known_years))
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5

    # -- instants ---------------------------------------------------------
    def _local(self, instant: datetime) -> datetime:
        if instant.tzinfo is None:
            raise ValidationFailed("时间必须带时区 / datetimes must be timezone-aware", {"instant": instant.isoformat()})
        return instant.astimezone(self.tz)

    def _day_periods(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The day's working periods as local instants (none on a rest day); cached."""
        cached = self._periods_cache.get(day)
        if cached is None:
            cached = tuple(
                (datetime.combine(day, s, self.tz), datetime.combine(day, e, self.tz)) for s, e in self.periods
            ) if self.is_workday(day) else ()
            self._periods_cache[day] = cached
        return cached

    def add_working_time(self, start: datetime, duration: timedelta) -> datetime:
        """The instant when ``duration`` of working time has elapsed after ``start`` (UTC)."""
        remaining = duration.total_seconds()
        if remaining < 0:
            raise ValidationFailed("时长不能为负 / duration must not be negative", {"duration": str(duration)})
        key = (start, remaining)
        hit = self._add_cache.get(key)  # batched intake asks the same question many times
        if hit is not None:
            return hit
        result = self._add(start, remaining, duration)
        if len(self._add_cache) >= 4096:
            self._add_cache.clear()
        self._add_cache[key] = result
        return result

    def _add(self, start: datetime, remaining: float, duration: timedelta) -> datetime:
        cursor = self._local(start)
        if remaining == 0:
            return cursor.astimezone(UTC)
        day = cursor.date()
        for _ in range(self.max_days_scanned):
            for p_start, p_end in self._day_periods(day):
                if cursor >= p_end:
                    continue
                begin = max(cursor, p_start)
                available = (p_end - begin).total_seconds()
                if remaining <= available:
                    return (begin + timedelta(seconds=remaining)).astimezone(UTC)
                remaining -= available
                cursor = p_end
            day += timedelta(days=1)
            cursor = datetime.combine(day, time(0), self.tz)
        raise ValidationFailed("时长过长 / duration too long", {"duration": str(duration)})

    def working_seconds_between(self, start: datetime, end: datetime) -> float:
        """Working seconds in [start, end); negative when end is before start."""
        a, b = self._local(start), self._local(end)
        if b < a:
            return -self.working_seconds_between(end, start)
        total = 0.0
        day = a.date()
        while day <= b.date():
            for p_start, p_end in self._day_periods(day):
                lo, hi = max(a, p_start), min(b, p_end)
                if hi > lo:
                    total += (hi - lo).total_seconds()
            day += timedelta(days=1)
        return total
