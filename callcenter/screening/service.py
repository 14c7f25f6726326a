"""The restricted-callers list: kept in the database, read by the IVR from memory.

:class:`RestrictionList` is blocking (web handlers and the refresh run it in a
thread pool).  :class:`CallerScreen` is what the IVR asks, on the reactor
thread, for every call: a dictionary of restricted numbers and their ends,
replaced as a whole by :meth:`CallerScreen.refresh` every
``refresh_seconds`` (so every ``serve`` process on the database follows a
change within that time) and at once after a change made in this process.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from callcenter.clock import stored_utc
from callcenter.errors import HotlineError
from callcenter.screening.tables import restricted_callers

log = logging.getLogger(__name__)

_DIGITS = re.compile(r"\D")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")


class ScreeningError(HotlineError):
    """A refused change to the list; ``error_id`` is stable, ``details`` names the field."""


def caller_key(number: str | None) -> str:
    """The number as the list keys it: digits only, without China's country code or the trunk
    0 before a mobile number, so "+86 138-1234-5678", "008613812345678" and "013812345678" are
    one caller.  Landlines keep their area code ("057487654321")."""
    digits = _DIGITS.sub("", number or "")
    for prefix in ("0086", "86", "0"):
        if digits.startswith(prefix) and _MOBILE.match(digits[len(prefix):]):
            return digits[len(prefix):]
    return digits


@dataclass(frozen=True)
class Restriction:
    id: int
    number: str
    reason: str
    created_by: str
    created_at: datetime
    until: datetime
    lifted_by: str | None = None
    lifted_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        return self.lifted_at is None and stored_utc(self.until) > now


class RestrictionList:
    """Restrictions in the database (blocking)."""

    max_days = 90          # a restriction is reviewed at least this often: it must end
    max_reason = 200

    def __init__(self, engine):
        self.engine = engine

    def add(self, number: str, reason: str, days: int, by: str, now: datetime) -> Restriction:
        key = caller_key(number)
        if not 5 <= len(key) <= 20:
            raise ScreeningError("screening.bad_number", "号码无效 / not a telephone number", field="number")
        reason = (reason or "").strip()
        if not reason or len(reason) > self.max_reason or any(not c.isprintable() for c in reason):
            raise ScreeningError("screening.bad_reason", f"请填写原因（1-{self.max_reason} 字）/ give a reason "
                                 f"(1-{self.max_reason} characters)", field="reason")
        if not isinstance(days, int) or not 1 <= days <= self.max_days:
            raise ScreeningError("screening.bad_days", f"期限须为 1-{self.max_days} 天 / the restriction lasts "
                                 f"1-{self.max_days} days", field="days")
        c = restricted_callers.c
        with self.engine.begin() as conn:
            current = conn.execute(select(c.id).where(c.number == key, c.lifted_at.is_(None), c.until > now)).first()
            if current is not None:
                raise ScreeningError("screening.already_restricted", "该号码已在限制名单中 / this number is "
                                     "already restricted", field="number", id=current.id)
            row = {"number": key, "reason": reason, "created_by": by, "created_at": now,
                   "until": now + timedelta(days=days)}
            new_id = conn.execute(restricted_callers.insert().values(**row)).inserted_primary_key[0]
        log.info("caller restricted", extra={"fields": {"event": "screening.add", "id": new_id, "by": by,
                                                         "days": days}})
        return Restriction(new_id, **row)

    def lift(self, restriction_id: int, by: str, now: datetime) -> None:
        c = restricted_callers.c
        with self.engine.begin() as conn:
            done = conn.execute(update(restricted_callers).where(
                c.id == restriction_id, c.lifted_at.is_(None), c.until > now).values(lifted_by=by, lifted_at=now))
        if not done.rowcount:
            raise ScreeningError("screening.not_found", "没有这条有效的限制 / no such restriction in force",
                                 http_status=404, id=restriction_id)
        log.info("caller restriction lifted", extra={"fields": {"event": "screening.lift", "id": restriction_id,
                                                                 "by": by}})

    def listing(self, now: datetime, *, recent: timedelta = timedelta(days=30)) -> list[Restriction]:
        """Restrictions in force, then those that ended in the last ``recent``, newest first."""
        c = restricted_callers.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(restricted_callers).where(c.until > now - recent)
                                .order_by(c.created_at.desc(), c.id.desc()).limit(500)).all()
        found = [_restriction(r) for r in rows]
        return [r for r in found if r.active(now)] + [r for r in found if not r.active(now)]

    def in_force(self, now: datetime) -> dict[str, datetime]:
        """Restricted numbers and when each restriction ends (the latest, if several)."""
        c = restricted_callers.c
        found: dict[str, datetime] = {}
        with self.engine.connect() as conn:
            for number, until in conn.execute(select(c.number, c.until).where(c.lifted_at.is_(None), c.until > now)):
                until = stored_utc(until)
                if number not in found or until > found[number]:
                    found[number] = until
        return found


class CallerScreen:
    """The IVR's view of the list: answers from memory; refreshed in a thread."""

    refresh_seconds = 10.0

    def __init__(self, restrictions: RestrictionList, clock, run_blocking):
        self.restrictions = restrictions
        self.clock = clock
        self.run_blocking = run_blocking
        self.numbers: dict[str, datetime] = {}
        self._loop = None

    def is_restricted(self, caller: str, now: datetime) -> bool:
        until = self.numbers.get(caller_key(caller))
        return until is not None and until > now

    def refresh(self):
        """Reload the list (Deferred); a failure keeps the last list and is logged."""
        from callcenter.clock import now_from

        def loaded(numbers):
            self.numbers = numbers

        def failed(failure):
            log.error("restricted callers not reloaded; the last list stays in use",
                      extra={"fields": {"error": failure.getErrorMessage()}})

        return self.run_blocking(self.restrictions.in_force, now_from(self.clock)).addCallbacks(loaded, failed)

    def start(self) -> None:
        from twisted.internet.task import LoopingCall

        self._loop = LoopingCall(self.refresh)
        self._loop.clock = self.clock
        self._loop.start(self.refresh_seconds, now=True)

    def stop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None


def _restriction(row) -> Restriction:
    return Restriction(row.id, row.number, row.reason, row.created_by, stored_utc(row.created_at), stored_utc(row.until),
                       row.lifted_by, stored_utc(row.lifted_at))

