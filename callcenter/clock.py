"""The one place where reactor time becomes domain time.

Schedulers hold an ``IReactorTime`` (a real reactor, or ``task.Clock`` in
tests); the pure domain takes ``now`` as an aware ``datetime``.  Everything
converts through :func:`now_from`, so a fake clock moves both together.
"""
from __future__ import annotations

from datetime import datetime, timezone

UTC = timezone.utc


def now_from(clock) -> datetime:
    """The current instant of an ``IReactorTime`` as an aware UTC datetime."""
    return datetime.fromtimestamp(clock.seconds(), tz=UTC)


def stored_utc(value: datetime | None) -> datetime | None:
    """A datetime read back from the database as aware UTC (SQLite hands back naive datetimes;
    everything is stored in UTC)."""
    if value is None:
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
