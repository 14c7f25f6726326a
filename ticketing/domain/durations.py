"""SLA durations as people write them: "5 working days", "4 working hours",
"2 days", "5个工作日".  Working durations count on a :class:`WorkingCalendar`;
plain ones are wall-clock time (emergencies do not wait for Monday)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from ticketing.domain.calendar import WorkingCalendar
from ticketing.domain.errors import ValidationFailed

_UNITS = {
    "day": "days", "days": "days", "d": "days", "天": "days", "日": "days",
    "hour": "hours", "hours": "hours", "h": "hours", "小时": "hours",
    "minute": "minutes", "minutes": "minutes", "min": "minutes", "分钟": "minutes",
}
_EN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(working\s+|work\s+)?(days?|d|hours?|h|minutes?|min)\s*$", re.I)
_ZH = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*个?\s*(工作)?\s*(日|天|小时|分钟)\s*$")


@dataclass(frozen=True)
class Duration:
    amount: float
    unit: str  # days | hours | minutes
    working: bool

    def __str__(self) -> str:
        amount = int(self.amount) if float(self.amount).is_integer() else self.amount
        return f"{amount} {'working ' if self.working else ''}{self.unit}"

    def seconds(self, calendar: WorkingCalendar | None = None) -> float:
        """Length in (working) seconds; a working day is the calendar's daily hours."""
        if self.unit == "days":
            per_day = calendar.workday_seconds if self.working else 86400.0
            if self.working and calendar is None:
                raise ValueError("a calendar is needed for working days")
            return self.amount * per_day
        return self.amount * (3600.0 if self.unit == "hours" else 60.0)

    def after(self, start: datetime, calendar: WorkingCalendar, share: float = 1.0) -> datetime:
        """The instant ``share`` of this duration after ``start``."""
        seconds = self.seconds(calendar) * share
        if self.working:
            return calendar.add_working_time(start, timedelta(seconds=seconds))
        return start + timedelta(seconds=seconds)


def parse_duration(text: str) -> Duration:
    """Parse a duration or raise ValidationFailed naming the accepted forms."""
    if not isinstance(text, str) or len(text) > 64:
        raise ValidationFailed("时长格式错误 / bad duration", {"duration": "expected text like '5 working days'"})
    m = _EN.match(text)
    if m:
        amount, working, unit = float(m.group(1)), bool(m.group(2)), _UNITS[m.group(3).lower()]
    else:
        m = _ZH.match(text)
        if not m:
            raise ValidationFailed(
                f"无法识别的时长 / unrecognised duration {text!r}",
                {"duration": "use e.g. '5 working days', '4 working hours', '2 days', '5个工作日'"},
            )
        amount, working, unit = float(m.group(1)), bool(m.group(2)), _UNITS[m.group(3)]
    if amount <= 0:
        raise ValidationFailed("时长必须为正 / duration must be positive", {"duration": text})
    return Duration(amount, unit, working)
