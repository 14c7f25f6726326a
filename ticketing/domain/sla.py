"""SLA clocks: acknowledge, resolve and callback deadlines of one order.

Each deadline keeps its due and warning instants; while the order is in a
paused status the remaining (working) time is frozen and the instants are
cleared, so a returned order does not burn the department's time.

An instant that had already passed when the order was paused keeps its
original value across the pause: resuming an overdue order does not move its
breach (or warning) to "now".  The SLA timer of that instant is stored under
the same ``(kind, phase, due_at)`` key, which already fired, so a warning, a
breach and its automatic 督办 fire once per deadline however often the order
is paused and resumed.  Only a new deadline (restarted, or extended) arms them
again.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from ticketing.domain.calendar import WorkingCalendar
from ticketing.domain.durations import Duration, parse_duration

KINDS = ("acknowledge", "resolve", "callback")
DEFAULT_WARNING_SHARE = 0.75


@dataclass(frozen=True)
class SlaTargets:
    """The three targets of a category at one urgency."""

    acknowledge: Duration
    resolve: Duration
    callback: Duration

    @classmethod
    def parse(cls, data: dict[str, str]) -> "SlaTargets":
        return cls(**{kind: parse_duration(data[kind]) for kind in KINDS})

    def as_dict(self) -> dict[str, str]:
        return {kind: str(getattr(self, kind)) for kind in KINDS}


@dataclass(frozen=True)
class SlaContext:
    """What a transition needs to compute deadlines for one order."""

    calendar: WorkingCalendar
    targets: SlaTargets
    warning_share: float = DEFAULT_WARNING_SHARE


@dataclass(frozen=True)
class Deadline:
    kind: str
    working: bool
    started_at: datetime
    due_at: datetime | None
    warn_at: datetime | None
    remaining: float | None = None  # seconds left when paused (working seconds if working)
    warn_remaining: float | None = None
    extended: int = 0
    provisional: bool = False  # reaches a year without holiday data (Mon–Fri rule)
    passed_due_at: datetime | None = None  # while paused: the due instant, if it had passed at the pause
    passed_warn_at: datetime | None = None  # while paused: the warning instant, if it had passed at the pause

    @property
    def paused(self) -> bool:
        return self.due_at is None

    @classmethod
    def start(cls, kind: str, duration: Duration, now: datetime, ctx: SlaContext) -> "Deadline":
        due_at = duration.after(now, ctx.calendar)
        return cls(
            kind=kind,
            working=duration.working,
            started_at=now,
            due_at=due_at,
            warn_at=duration.after(now, ctx.calendar, ctx.warning_share),
            provisional=duration.working and ctx.calendar.touches_unknown(now, due_at),
        )

    def _left(self, until: datetime, now: datetime, cal: WorkingCalendar) -> float:
        if self.working:
            return max(0.0, cal.working_seconds_between(now, until))
        return max(0.0, (until - now).total_seconds())

    def _after(self, now: datetime, seconds: float, cal: WorkingCalendar) -> datetime:
        if self.working:
            return cal.add_working_time(now, timedelta(seconds=seconds))
        return now + timedelta(seconds=seconds)

    def pause(self, now: datetime, cal: WorkingCalendar) -> "Deadline":
        if self.paused:
            return self
        return replace(
            self,
            due_at=None,
            warn_at=None,
            remaining=self._left(self.due_at, now, cal),
            warn_remaining=self._left(self.warn_at, now, cal),
            passed_due_at=self.due_at if self.due_at <= now else None,
            passed_warn_at=self.warn_at if self.warn_at <= now else None,
        )

    def resume(self, now: datetime, cal: WorkingCalendar) -> "Deadline":
        if not self.paused:
            return self
        due_at = self.passed_due_at or self._after(now, self.remaining, cal)
        return replace(
            self,
            due_at=due_at,
            warn_at=self.passed_warn_at or self._after(now, self.warn_remaining, cal),
            remaining=None,
            warn_remaining=None,
            passed_due_at=None,
            passed_warn_at=None,
            provisional=self.working and cal.touches_unknown(now, due_at),
        )

    def extend(self, duration: Duration, cal: WorkingCalendar) -> "Deadline":
        """Move the deadline (and its warning) later by ``duration``."""
        seconds = duration.seconds(cal)
        if self.paused:  # a new deadline: its instants are computed afresh on resume
            return replace(self, remaining=self.remaining + seconds,
                           warn_remaining=self.warn_remaining + seconds, extended=self.extended + 1,
                           passed_due_at=None, passed_warn_at=None)
        if duration.working == self.working:
            due, warn = self._after(self.due_at, seconds, cal), self._after(self.warn_at, seconds, cal)
        else:
            due, warn = duration.after(self.due_at, cal), duration.after(self.warn_at, cal)
        return replace(self, due_at=due, warn_at=warn, extended=self.extended + 1,
                       provisional=self.provisional or cal.touches_unknown(self.started_at, due))

    def level(self, now: datetime) -> str:
        """green / yellow (past the warning share) / red (breached) / paused."""
        if self.paused:
            return "paused"
        if now >= self.due_at:
            return "red"
        if now >= self.warn_at:
            return "yellow"
        return "green"

    def to_dict(self) -> dict[str, Any]:
        iso = lambda v: v.isoformat() if v else None  # noqa: E731
        return {
            "kind": self.kind, "working": self.working, "started_at": iso(self.started_at),
            "due_at": iso(self.due_at), "warn_at": iso(self.warn_at), "remaining": self.remaining,
            "warn_remaining": self.warn_remaining, "extended": self.extended,
            "provisional": self.provisional,
            "passed_due_at": iso(self.passed_due_at), "passed_warn_at": iso(self.passed_warn_at),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Deadline":
        parse = lambda v: datetime.fromisoformat(v) if v else None  # noqa: E731
        return cls(
            kind=data["kind"], working=data["working"], started_at=parse(data["started_at"]),
            due_at=parse(data["due_at"]), warn_at=parse(data["warn_at"]), remaining=data.get("remaining"),
            warn_remaining=data.get("warn_remaining"), extended=data.get("extended", 0),
            provisional=data.get("provisional", False),
            passed_due_at=parse(data.get("passed_due_at")), passed_warn_at=parse(data.get("passed_warn_at")),
        )
