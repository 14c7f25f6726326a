"""When to call a citizen back, and what a failed call means.

Pure policy (stdlib only, ``now`` passed in): calling hours on the working
calendar (default 08:00–20:00 on working days), urgent orders the same day,
others from the next working day (or, with ``next_day`` off, as soon as calling
hours allow); after a failed attempt (OriginateResponse
reason 3 no answer, 5 busy, 8 congestion, 0 failure) the next try is spaced
out, and after the last allowed attempt the order is unreachable.

An attempt *interrupted* by the controller (it died, or lost its AMI link, after the call was
placed, and no channel of the call is left) is never dialled again at once as if it had not
happened — :meth:`CallbackPolicy.after_interrupted` is the rule, the same for every controller:

* **satisfaction callback** (回访): the attempt counts as made (outcome ``interrupted``); the
  normal retry schedule applies (the next try no sooner than ``retry_spacing[0]``, 30 minutes,
  inside calling hours; after the last attempt the order is unreachable).  A citizen who may
  just have heard the survey must never get a second survey call minutes later.
* **queue callback** (排队回拨): the citizen asked to be called back and is still owed help, so
  the *first* interruption of a callback is retried once promptly (``queue_interrupted_retry``,
  60 s, inside calling hours), whatever attempt it was; a second interruption of the same
  callback follows the normal schedule (spacing, unreachable after the last attempt → the
  callback list for a person to call by hand).
* a call that reached an agent (queue callback) or recorded an answer (survey) is done, not
  interrupted; a placed call whose channel ended while another controller watched it is a
  normal failed attempt with the reason its hang-up cause gives (:func:`reason_of_hangup`).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone

from ticketing.domain.errors import ValidationFailed

UTC = timezone.utc
ANSWERED = 4
REASONS = {0: "failed", 1: "hung up", 3: "no answer", 4: "answered", 5: "busy", 8: "congestion"}
#: the outcome word of an attempt cut by the controller's death or a lost AMI link
INTERRUPTED = "interrupted"
SATISFACTION, QUEUE = "survey", "queue"
# Hangup cause of an unanswered originated channel → the OriginateResponse reason it stands for
_CAUSE_REASONS = {19: 3, 18: 3, 21: 0, 17: 5, 34: 8, 38: 8, 1: 0, 16: 3}


def reason_of_hangup(cause) -> int:
    """The Originate reason (3 no answer, 5 busy, 8 congestion, 0 failed) an unanswered call's
    Hangup cause means; 16 (normal clearing) before any answer is a ring-out."""
    try:
        return _CAUSE_REASONS.get(int(cause), 0)
    except (TypeError, ValueError):
        return 0

# survey flow answer → (callback-result outcome, satisfaction 1..5)
_SURVEY = {"satisfied": ("satisfied", 5), "basic": ("satisfied", 4), "basically_satisfied": ("satisfied", 4),
           "dissatisfied": ("dissatisfied", 1)}


def survey_result(answer: str) -> tuple[str, int] | None:
    """The work-order outcome of a survey answer; ``None`` when the citizen gave none."""
    return _SURVEY.get(answer)


@dataclass(frozen=True)
class Decision:
    """After an attempt: ``retry`` at ``at``, or ``unreachable`` (no more attempts)."""

    kind: str
    at: datetime | None = None


@dataclass(frozen=True)
class CallbackPolicy:
    calling_start: time = time(8, 0)
    calling_end: time = time(20, 0)
    max_attempts: int = 3
    retry_spacing: tuple[float, ...] = (1800.0, 7200.0)  # seconds after the 1st, 2nd… failed attempt
    urgent_same_day: bool = True
    queue_interrupted_retry: float = 60.0  # seconds: the one prompt retry of a queue callback cut by a crash
    next_day: bool = True   # non-urgent orders wait for the next working day (the answer reaches the citizen first)
    max_days_scanned = 60

    def __post_init__(self):
        if not self.calling_start < self.calling_end:
            raise ValidationFailed("回访时段无效 / calling hours must start before they end",
                                   {"calling_hours": f"{self.calling_start:%H:%M}-{self.calling_end:%H:%M}"})
        if not 1 <= self.max_attempts <= 10 or not self.retry_spacing or min(self.retry_spacing) <= 0:
            raise ValidationFailed("回访重试设置无效 / max_attempts must be 1..10 and spacing positive",
                                   {"max_attempts": self.max_attempts, "retry_spacing": list(self.retry_spacing)})

    @classmethod
    def from_config(cls, section: dict) -> "CallbackPolicy":
        """From ``[callbacks]``: calling_start/calling_end "HH:MM", max_attempts, retry_minutes list,
        next_day (bool)."""
        try:
            kw = {}
            if section.get("calling_start"):
                kw["calling_start"] = time.fromisoformat(section["calling_start"])
            if section.get("calling_end"):
                kw["calling_end"] = time.fromisoformat(section["calling_end"])
            if section.get("max_attempts") is not None:
                kw["max_attempts"] = int(section["max_attempts"])
            if section.get("retry_minutes"):
                kw["retry_spacing"] = tuple(float(m) * 60 for m in section["retry_minutes"])
            if section.get("next_day") is not None:
                if not isinstance(section["next_day"], bool):
                    raise ValueError(f"next_day must be true or false, not {section['next_day']!r}")
                kw["next_day"] = section["next_day"]
        except (TypeError, ValueError) as exc:
            raise ValidationFailed(f"[callbacks] 配置无效 / invalid callbacks settings: {exc}",
                                   {"callbacks": {k: str(v) for k, v in section.items()}}) from None
        return cls(**kw)

    # -- calling hours ---------------------------------------------------------
    def may_call(self, instant: datetime, calendar) -> bool:
        """Inside calling hours of a working day (local time of the calendar)."""
        local = instant.astimezone(calendar.tz)
        return calendar.is_workday(local.date()) and self.calling_start <= local.time() < self.calling_end

    def next_calling_time(self, instant: datetime, calendar) -> datetime:
        """The earliest instant not before ``instant`` at which a citizen may be called (UTC)."""
        local = instant.astimezone(calendar.tz)
        day = local.date()
        for _ in range(self.max_days_scanned):
            if calendar.is_workday(day):
                opens = datetime.combine(day, self.calling_start, calendar.tz)
                closes = datetime.combine(day, self.calling_end, calendar.tz)
                if local < closes:
                    return max(local, opens).astimezone(UTC)
            day += timedelta(days=1)
            local = datetime.combine(day, time(0), calendar.tz)
        raise ValidationFailed("找不到可回访的时间 / no calling time in the next 60 days",
                               {"from": instant.isoformat()})

    # -- scheduling ----------------------------------------------------------------
    def first_attempt(self, replied_at: datetime, urgency: str, calendar, *,
                      due_by: datetime | None = None) -> datetime:
        """Urgent orders are called the same day when calling hours allow; others from the next
        working day's opening, so the department's answer has reached the citizen first — unless
        that would miss the category's callback deadline ``due_by``, then as soon as allowed.
        With ``next_day`` off every order is called as soon as calling hours allow."""
        soonest = self.next_calling_time(replied_at, calendar)
        if (urgency == "urgent" and self.urgent_same_day) or not self.next_day:
            return soonest
        local = replied_at.astimezone(calendar.tz)
        tomorrow = datetime.combine(local.date() + timedelta(days=1), time(0), calendar.tz)
        later = self.next_calling_time(tomorrow, calendar)
        return soonest if due_by is not None and later > due_by else later

    def after_attempt(self, attempt: int, reason: int, now: datetime, calendar) -> Decision:
        """What follows a failed attempt number ``attempt`` (1-based) that ended with ``reason``."""
        if reason == ANSWERED:
            raise ValidationFailed("已接通的回访不需要重试 / an answered call is not retried", {"reason": reason})
        if attempt >= self.max_attempts:
            return Decision("unreachable")
        spacing = self.retry_spacing[min(attempt, len(self.retry_spacing)) - 1]
        return Decision("retry", self.next_calling_time(now + timedelta(seconds=spacing), calendar))

    def after_interrupted(self, kind: str, attempt: int, now: datetime, calendar, *,
                          interrupted_before: bool = False) -> Decision:
        """What follows attempt number ``attempt`` (1-based, counted) of a ``kind`` callback
        (``"survey"`` or ``"queue"``) that a controller placed and lost (see the module text)."""
        if kind not in (SATISFACTION, QUEUE):
            raise ValidationFailed("未知的回访类型 / unknown callback kind", {"kind": kind})
        if kind == QUEUE and not interrupted_before:
            return Decision("retry", self.next_calling_time(now + timedelta(seconds=self.queue_interrupted_retry),
                                                            calendar))
        if attempt >= self.max_attempts:
            return Decision("unreachable")
        spacing = self.retry_spacing[min(attempt, len(self.retry_spacing)) - 1]
        return Decision("retry", self.next_calling_time(now + timedelta(seconds=spacing), calendar))
