"""Who drives the calls: the one ``serve`` process holding a PostgreSQL advisory lock.

Run two (or more) ``serve`` processes on one PostgreSQL with ``[failover] enabled``:
each asks for a session-level advisory lock on its own connection
(``pg_try_advisory_lock``) every :attr:`Leadership.poll_interval` seconds.  The
holder is the leader and starts the hotline; the others wait as standbys.  When the
leader dies — kill -9, a crash, the host going down — PostgreSQL ends its session and
releases the lock, and the next standby's attempt gets it.  No other coordination
service is involved.

The leader checks its lock connection every :attr:`check_interval`; if that
connection fails (the database restarted, the network between them broke) it can no
longer know it is the only leader, so it *fences itself*: ``on_lost`` stops the
process (``serve`` exits with status 3 and its supervisor restarts it as a standby).
The lock key is derived from ``[failover] group``, so several hotlines (one per
Asterisk) can share one database, each with its own pair.

Blocking database calls run in the reactor's thread pool; everything else on the reactor.
"""
from __future__ import annotations

import hashlib
import logging
import time

from twisted.internet import defer, task
from twisted.internet.threads import deferToThreadPool

log = logging.getLogger(__name__)


def lock_key(group: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``group``."""
    digest = hashlib.sha256(f"hotline-controller:{group}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def psycopg_conninfo(url: str) -> str:
    """A libpq connection string from a SQLAlchemy URL (``postgresql+psycopg://…``)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError("failover needs PostgreSQL (database.url is not postgresql://…)")
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


class Leadership:
    """Campaign for the lock; ``on_elected()`` once it is held, ``on_lost()`` if it may be lost."""

    #: seconds between a standby's attempts to take the lock
    poll_interval = 1.0
    #: seconds between the leader's checks of its lock connection
    check_interval = 2.0
    #: seconds a connection attempt or a check may take
    connect_timeout = 3.0

    def __init__(self, reactor, url: str, *, group: str = "default", pool=None, on_elected=None, on_lost=None,
                 name: str = ""):
        self.reactor = reactor
        self.conninfo = psycopg_conninfo(url)
        self.key = lock_key(group)
        self.group = group
        self.pool = pool if pool is not None else reactor.getThreadPool()
        self.on_elected = on_elected
        self.on_lost = on_lost
        self.name = name
        self.leader = False
        self.elected_at: float | None = None
        self._conn = None
        self._loop: task.LoopingCall | None = None
        self._busy = False
        self._stopped = False

    # -- blocking parts (thread pool) --------------------------------------------------------------
    def _try_lock(self) -> bool:
        import psycopg

        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.conninfo, autocommit=True, connect_timeout=int(self.connect_timeout),
                                         application_name=f"hotline-leader {self.name}".strip(),
                                         keepalives=1, keepalives_idle=5, keepalives_interval=2, keepalives_count=2)
        row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
        return bool(row and row[0])

    def _still_held(self) -> bool:
        high, low = (self.key >> 32) & 0xFFFFFFFF, self.key & 0xFFFFFFFF
        row = self._conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted "
            "AND classid = %s::bigint::oid AND objid = %s::bigint::oid AND objsubid = 1", (high, low)).fetchone()
        return bool(row and row[0])

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                pass

    # -- the loop ------------------------------------------------------------------------------
    def start(self) -> None:
        self._stopped = False
        self._loop = task.LoopingCall(self._tick)
        self._loop.clock = self.reactor
        self._loop.start(self.poll_interval, now=True)

    @defer.inlineCallbacks
    def stop(self):
        """Stop campaigning and release the lock (closing the connection releases it)."""
        self._stopped = True
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self.leader = False
        yield deferToThreadPool(self.reactor, self.pool, self._close)

    @defer.inlineCallbacks
    def _tick(self):
        if self._busy or self._stopped:
            return
        self._busy = True
        try:
            if not self.leader:
                try:
                    got = yield deferToThreadPool(self.reactor, self.pool, self._try_lock)
                except Exception as exc:  # noqa: BLE001 - database down: keep trying
                    log.warning("leadership: database unreachable; still standby",
                                extra={"fields": {"error": str(exc).splitlines()[0][:200] if str(exc) else
                                                  type(exc).__name__}})
                    yield deferToThreadPool(self.reactor, self.pool, self._close)
                    return
                if got and not self._stopped:
                    self.leader = True
                    self.elected_at = time.monotonic()
                    log.info("leadership: elected; this process drives the calls",
                             extra={"fields": {"group": self.group, "name": self.name}})
                    self._loop.stop()
                    self._loop = task.LoopingCall(self._tick)
                    self._loop.clock = self.reactor
                    self._loop.start(self.check_interval, now=False)
                    if self.on_elected is not None:
                        self.on_elected()
                return
            try:
                held = yield deferToThreadPool(self.reactor, self.pool, self._still_held)
            except Exception as exc:  # noqa: BLE001 - the lock connection broke
                held = False
                log.error("leadership: lock connection failed", extra={"fields": {"error": str(exc)[:200]}})
            if not held and not self._stopped:
                self.leader = False
                log.error("leadership: lost the lock; fencing this process (another may lead now)",
                          extra={"fields": {"group": self.group, "name": self.name}})
                if self._loop.running:
                    self._loop.stop()
                yield deferToThreadPool(self.reactor, self.pool, self._close)
                if self.on_lost is not None:
                    self.on_lost()
        finally:
            self._busy = False
