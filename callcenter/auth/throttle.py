"""The log-in throttle: too many failed log-ins lock a user name or a client address for a while.

After ``max_per_username`` failures for one user name, or ``max_per_address``
from one client address, inside ``window``, further log-ins (page and token
endpoint) are refused with 429 *before* the password is looked at: a correct
password is refused too, and a locked account answers at once rather than
after a password hash, so the refusal says nothing about the password.  The
lock lifts when enough of those failures have aged out of the window (after
five quick failures: one window after the first).  A successful log-in clears
the user name's failures, not the address's, so an attacker cannot reset their
address by logging into an account of their own between guesses.

Failures are rows in ``login_failures`` rather than process memory because
sessions and tokens already live in the database and production may run
several ``serve`` processes on it (README, Operations): an in-memory counter
would give an attacker N times the guesses by spreading them over the
processes behind the proxy.  It costs one indexed query per log-in, next to
an argon2 hash that costs far more.

Unknown user names are counted like real ones, so a lock-out does not tell
which accounts exist.  Time is always passed in as ``now``; the web layer
reads it from :attr:`LoginThrottle.clock` (the reactor, or a ``task.Clock``).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable

from sqlalchemy import delete, select

from callcenter.auth.tables import login_failures
from callcenter.clock import now_from

SCOPES = ("username", "address")


@dataclass(frozen=True)
class Lockout:
    """Log-ins for ``key`` (a user name or an address, by ``scope``) are refused until ``until``."""

    scope: str
    key: str
    until: datetime
    failures: int

    def retry_after(self, now: datetime) -> int:
        """Whole seconds until the lock lifts (at least 1), for ``Retry-After``."""
        seconds = (self.until - now).total_seconds()
        return max(1, int(seconds) + (0 if seconds == int(seconds) else 1))

    def minutes(self, now: datetime) -> int:
        """Whole minutes until the lock lifts (at least 1), for people."""
        return max(1, -(-self.retry_after(now) // 60))


def lockout_until(failures: Iterable[datetime], limit: int, window: timedelta, now: datetime) -> datetime | None:
    """When the lock ends, if ``limit`` or more of ``failures`` fall in the window ending at ``now``; else None.

    A failure at ``t`` counts while ``now - window < t <= now``.  The lock lasts
    until fewer than ``limit`` count, i.e. until the ``limit``-th most recent
    one ages out.
    """
    recent = sorted((t for t in failures if now - window < t <= now), reverse=True)
    if limit < 1 or len(recent) < limit:
        return None
    return recent[limit - 1] + window


def username_key(username: str | None) -> str:
    """The user name as :meth:`AuthService.check_password` sees it, so "Alice" and "alice" count together."""
    return (username or "").strip().lower()[:40]


class LoginThrottle:
    """Failed log-ins per user name and per client address, in the database."""

    max_per_username = 5
    max_per_address = 20
    window = timedelta(minutes=15)
    purge_interval = timedelta(minutes=1)  # delete expired rows at most this often per process

    def __init__(self, engine, clock, *, max_per_username: int | None = None, max_per_address: int | None = None,
                 window: timedelta | None = None):
        self.engine = engine
        self.clock = clock
        if max_per_username is not None:
            self.max_per_username = int(max_per_username)
        if max_per_address is not None:
            self.max_per_address = int(max_per_address)
        if window is not None:
            self.window = window
        if self.max_per_username < 1 or self.max_per_address < 1 or self.window <= timedelta(0):
            raise ValueError("log-in throttle limits and window must be positive")
        self._last_purge: datetime | None = None

    @classmethod
    def from_config(cls, engine, clock, config) -> "LoginThrottle":
        window = config.get("auth.login_window_minutes")
        return cls(engine, clock,
                   max_per_username=config.get("auth.login_max_failures_per_username"),
                   max_per_address=config.get("auth.login_max_failures_per_address"),
                   window=timedelta(minutes=float(window)) if window is not None else None)

    def now(self) -> datetime:
        return now_from(self.clock)

    def _limits(self, username: str, address: str) -> list[tuple[str, str, int]]:
        return [("username", username_key(username), self.max_per_username),
                ("address", (address or "unknown")[:64], self.max_per_address)]

    def check(self, username: str, address: str, now: datetime) -> Lockout | None:
        """The lock that refuses this log-in (the longer one if both apply), or None to go ahead."""
        now = _utc(now)
        found = None
        with self.engine.connect() as conn:
            for scope, key, limit in self._limits(username, address):
                c = login_failures.c
                times = [_utc(row.at) for row in conn.execute(
                    select(c.at).where(c.scope == scope, c.key == key, c.at > now - self.window)
                    .order_by(c.at.desc()).limit(limit))]
                until = lockout_until(times, limit, self.window, now)
                if until is not None and (found is None or until > found.until):
                    found = Lockout(scope, key, until, limit)
        return found

    def record_failure(self, username: str, address: str, now: datetime) -> Lockout | None:
        """Count a failed log-in; returns the lock it starts, if it was the one too many."""
        now = _utc(now)
        with self.engine.begin() as conn:
            conn.execute(login_failures.insert(), [{"scope": scope, "key": key, "at": now}
                                                   for scope, key, _ in self._limits(username, address)])
            if self._last_purge is None or now - self._last_purge >= self.purge_interval:
                conn.execute(delete(login_failures).where(login_failures.c.at <= now - self.window))
                self._last_purge = now
        return self.check(username, address, now)

    def record_success(self, username: str) -> None:
        """A correct password: forget this user name's failures (the address keeps its count)."""
        with self.engine.begin() as conn:
            conn.execute(delete(login_failures).where(login_failures.c.scope == "username",
                                                      login_failures.c.key == username_key(username)))


def _utc(value: datetime) -> datetime:
    """Aware UTC (SQLite hands back naive datetimes; they were stored as UTC)."""
    return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)
