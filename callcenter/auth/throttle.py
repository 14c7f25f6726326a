"""The log-in throttle: too many failed log-ins lock a user name at an address, a user name, or an address.

Three counts run inside ``window``, and reaching any limit refuses further
log-ins (page and token endpoint) with 429 *before* the password is looked at:

- ``max_per_name_and_address`` (5) failures for one user name from one client
  address lock that name *from that address*.  This is the lock a guesser
  meets.  The agent at their own desk can still log in, so nobody can lock a
  colleague or a supervisor out by typing their name wrong five times.
- ``max_per_username`` (50) failures for one name from any addresses lock the
  name everywhere: the ceiling on guessing spread over many addresses.  Each
  address adds at most five, so it takes ten addresses to reach it.
- ``max_per_address`` (20) failures from one address over any names lock the
  address: one client trying many accounts.

A correct password is refused too while locked, and a locked log-in answers at
once rather than after a password hash, so the refusal says nothing about the
password.  A lock lifts when enough of its failures have aged out of the window
(after five quick failures: one window after the first).  A successful log-in
clears the user name's failures, not the address's, so an attacker cannot reset
their address by logging into an account of their own between guesses.  An
operator lifts a name's locks with ``callcenter users unlock NAME``.

Failures are rows in ``login_failures`` rather than process memory because
sessions and tokens already live in the database and production may run
several ``serve`` processes on it (README, Operations): an in-memory counter
would give an attacker N times the guesses by spreading them over the
processes behind the proxy.  It costs one indexed query per log-in, next to
an argon2 hash that costs far more.

Counting is atomic: :meth:`LoginThrottle.begin_attempt` checks the limits and
counts the attempt as a failure in one transaction, serialised per key (a
PostgreSQL advisory lock; SQLite's ``BEGIN IMMEDIATE``), *before* the password
is hashed.  A right password then takes its rows back
(:meth:`LoginThrottle.attempt_succeeded`).  So a burst of parallel guesses is
counted one by one: the sixth of thirty simultaneous wrong passwords is
already refused.  A crash between the two steps leaves the attempt counted as
a failure, the safe side.

The user-name-wide lock does not apply at an address the user name has logged
in from successfully within ``known_address_days`` (their own desk): guesses
spread over other addresses cannot lock an agent out of their own desk.  The
pair and address limits still apply there.

Unknown user names are counted like real ones, so a lock-out does not tell
which accounts exist.  Time is always passed in as ``now``; the web layer
reads it from :attr:`LoginThrottle.clock` (the reactor, or a ``task.Clock``).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Iterable

from sqlalchemy import delete, select, text, update

from callcenter.auth.tables import login_failures, login_known_addresses
from callcenter.clock import now_from, stored_utc

SCOPES = ("pair", "username", "address")


@dataclass(frozen=True)
class Lockout:
    """Log-ins for ``key`` are refused until ``until``.

    ``scope`` says what ``key`` is: ``pair`` (a digest of a user name and an
    address, see :func:`pair_key`), ``username`` or ``address``.
    """

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


def address_key(address: str | None) -> str:
    return (address or "unknown")[:64]


def pair_key(username: str | None, address: str | None) -> str:
    """One user name at one address: the name, ``|`` and a digest of the address.

    Name and address together can be longer than the key column, so the address
    is digested; the name stays readable so that all of a name's rows can be
    found (:meth:`LoginThrottle.unlock`).
    """
    digest = hashlib.sha256(address_key(address).encode("utf-8")).hexdigest()[:16]
    return f"{username_key(username)}|{digest}"


@dataclass(frozen=True)
class Attempt:
    """A log-in attempt counted by :meth:`LoginThrottle.begin_attempt`: refused (``lock``) or going ahead,
    with the ids of the failure rows it wrote (taken back if the password is right)."""

    lock: Lockout | None
    row_ids: tuple[int, ...] = field(default=())


def advisory_key(scope: str, key: str) -> int:
    """A signed 64-bit number for ``pg_advisory_xact_lock`` from a throttle key."""
    return int.from_bytes(hashlib.sha256(f"login:{scope}:{key}".encode("utf-8")).digest()[:8], "big", signed=True)


class LoginThrottle:
    """Failed log-ins per user name at an address, per user name and per client address, in the database."""

    max_per_name_and_address = 5
    max_per_username = 50
    max_per_address = 20
    window = timedelta(minutes=15)
    known_address_days = 30  # a user name's successful log-in address is exempt from its name-wide lock this long
    purge_interval = timedelta(minutes=1)  # delete expired rows at most this often per process

    def __init__(self, engine, clock, *, max_per_name_and_address: int | None = None,
                 max_per_username: int | None = None, max_per_address: int | None = None,
                 window: timedelta | None = None, known_address_days: float | None = None):
        self.engine = engine
        self.clock = clock
        if max_per_name_and_address is not None:
            self.max_per_name_and_address = int(max_per_name_and_address)
        if max_per_username is not None:
            self.max_per_username = int(max_per_username)
        if max_per_address is not None:
            self.max_per_address = int(max_per_address)
        if window is not None:
            self.window = window
        if known_address_days is not None:
            self.known_address_days = float(known_address_days)
        if min(self.max_per_name_and_address, self.max_per_username, self.max_per_address) < 1 \
                or self.window <= timedelta(0):
            raise ValueError("log-in throttle limits and window must be positive")
        self._last_purge: datetime | None = None

    @classmethod
    def from_config(cls, engine, clock, config) -> "LoginThrottle":
        window = config.get("auth.login_window_minutes")
        return cls(engine, clock,
                   max_per_name_and_address=config.get("auth.login_max_failures_per_name_and_address"),
                   max_per_username=config.get("auth.login_max_failures_per_username"),
                   max_per_address=config.get("auth.login_max_failures_per_address"),
                   window=timedelta(minutes=float(window)) if window is not None else None,
                   known_address_days=config.get("auth.login_known_address_days"))

    def now(self) -> datetime:
        return now_from(self.clock)

    def _limits(self, username: str, address: str) -> list[tuple[str, str, int]]:
        return [("pair", pair_key(username, address), self.max_per_name_and_address),
                ("username", username_key(username), self.max_per_username),
                ("address", address_key(address), self.max_per_address)]

    def check(self, username: str, address: str, now: datetime) -> Lockout | None:
        """The lock that refuses this log-in (the longest if several apply), or None to go ahead."""
        now = stored_utc(now)
        with self.engine.connect() as conn:
            return self._check(conn, username, address, now)

    def _check(self, conn, username: str, address: str, now: datetime) -> Lockout | None:
        found = None
        known = self._known_address(conn, username, address, now)
        for scope, key, limit in self._limits(username, address):
            if scope == "username" and known:
                continue
            c = login_failures.c
            times = [stored_utc(row.at) for row in conn.execute(
                select(c.at).where(c.scope == scope, c.key == key, c.at > now - self.window)
                .order_by(c.at.desc()).limit(limit))]
            until = lockout_until(times, limit, self.window, now)
            if until is not None and (found is None or until > found.until):
                found = Lockout(scope, key, until, limit)
        return found

    def _known_address(self, conn, username: str, address: str, now: datetime) -> bool:
        c = login_known_addresses.c
        return conn.execute(select(c.key).where(
            c.key == pair_key(username, address),
            c.last_login_at > now - timedelta(days=self.known_address_days))).first() is not None

    def _serialise(self, conn, username: str, address: str) -> None:
        """Make check-and-count atomic per key: PostgreSQL advisory locks held to the end of the transaction
        (in one order, so two attempts never deadlock); SQLite's ``BEGIN IMMEDIATE`` already admits one writer."""
        if conn.dialect.name != "postgresql":
            return
        for number in sorted(advisory_key(scope, key) for scope, key, _ in self._limits(username, address)):
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": number})

    def begin_attempt(self, username: str, address: str, now: datetime) -> Attempt:
        """Check the limits and, if none refuses, count this attempt as a failure — one atomic step.

        Call it before the password is looked at; on a right password hand the attempt to
        :meth:`attempt_succeeded`.  A refused attempt writes nothing.
        """
        now = stored_utc(now)
        with self.engine.begin() as conn:
            self._serialise(conn, username, address)
            lock = self._check(conn, username, address, now)
            if lock is not None:
                return Attempt(lock)
            ids = tuple(conn.execute(login_failures.insert().values(scope=scope, key=key, at=now)
                                     .returning(login_failures.c.id)).scalar_one()
                        for scope, key, _ in self._limits(username, address))
            self._purge(conn, now)
        return Attempt(None, ids)

    def attempt_succeeded(self, attempt: Attempt, username: str, address: str, now: datetime) -> None:
        """The password was right: take back the attempt's rows, clear the user name's failures (here and from
        anywhere; the address keeps its other failures) and remember this address as the user's own."""
        now, c, k = stored_utc(now), login_failures.c, login_known_addresses.c
        key = pair_key(username, address)
        with self.engine.begin() as conn:
            if attempt.row_ids:
                conn.execute(delete(login_failures).where(c.id.in_(attempt.row_ids)))
            conn.execute(delete(login_failures).where(
                ((c.scope == "username") & (c.key == username_key(username)))
                | ((c.scope == "pair") & (c.key == key))))
            if conn.execute(update(login_known_addresses).where(k.key == key)
                            .values(last_login_at=now)).rowcount == 0:
                conn.execute(login_known_addresses.insert().values(key=key, last_login_at=now))

    def _purge(self, conn, now: datetime) -> None:
        if self._last_purge is None or now - self._last_purge >= self.purge_interval:
            conn.execute(delete(login_failures).where(login_failures.c.at <= now - self.window))
            conn.execute(delete(login_known_addresses).where(
                login_known_addresses.c.last_login_at <= now - timedelta(days=self.known_address_days)))
            self._last_purge = now

    def locked_names(self, now: datetime) -> dict[str, datetime]:
        """The user names a lock refuses now, from some address or from all, each with the end of its
        longest lock (for the accounts page)."""
        now, c = stored_utc(now), login_failures.c
        limits = {"pair": self.max_per_name_and_address, "username": self.max_per_username}
        times: dict[tuple[str, str], list[datetime]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(select(c.scope, c.key, c.at).where(c.scope.in_(tuple(limits)),
                                                                       c.at > now - self.window)):
                times.setdefault((row.scope, row.key), []).append(stored_utc(row.at))
        found: dict[str, datetime] = {}
        for (scope, key), ats in times.items():
            until = lockout_until(ats, limits[scope], self.window, now)
            name = key.rsplit("|", 1)[0] if scope == "pair" else key
            if until is not None and (name not in found or until > found[name]):
                found[name] = until
        return found

    def record_failure(self, username: str, address: str, now: datetime) -> Lockout | None:
        """Count a failed log-in; returns the lock it starts, if it was the one too many."""
        now = stored_utc(now)
        with self.engine.begin() as conn:
            conn.execute(login_failures.insert(), [{"scope": scope, "key": key, "at": now}
                                                   for scope, key, _ in self._limits(username, address)])
            self._purge(conn, now)
        return self.check(username, address, now)

    def unlock(self, username: str) -> int:
        """Forget every failure counted against this user name, from any address (an operator's
        ``callcenter users unlock``); the addresses keep theirs.  Returns how many failures that was."""
        c, name = login_failures.c, username_key(username)
        with self.engine.begin() as conn:
            forgotten = conn.execute(delete(login_failures).where(c.scope == "username", c.key == name)).rowcount
            conn.execute(delete(login_failures).where(c.scope == "pair",
                                                      c.key.startswith(name + "|", autoescape=True)))
        return forgotten
