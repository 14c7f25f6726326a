"""One PostgreSQL ``LISTEN`` loop for the live features that cross processes (no other broker).

Both bridges between ``serve`` processes — work-order events (:mod:`callcenter.web.pgevents`) and the
calls pages (:mod:`callcenter.web.pgcalls`) — hear the other processes through :class:`PgListener`:

* one dedicated thread holds an autocommit psycopg connection (TCP keepalives on, so a cut network is
  noticed) that ``LISTEN``\\ s on the given channels, and waits in psycopg's ``notifies()`` generator,
  woken every :attr:`PgListener.wait_timeout` seconds to notice :meth:`PgListener.stop`;
* every notification is handed to the reactor with ``callFromThread`` as ``on_notify(channel, payload)``:
  the owner parses and acts on it in the reactor thread, in the order PostgreSQL delivered them;
* a connection that cannot be made or breaks is retried after a pause that starts at
  :attr:`PgListener.reconnect_initial` and doubles up to :attr:`PgListener.reconnect_max`
  (:func:`next_delay`), back to the start once ``LISTEN`` succeeded;
* after each ``LISTEN`` the reactor hears ``on_listening(reconnected)``: ``reconnected`` is true from the
  second time on, when notifications sent while nobody listened are gone and the owner must catch up
  (re-read, resync, read on from the last row it had).

The ``listening`` state is the owner's Prometheus gauge (``gauge``: 1 while listening, 0 otherwise).
"""
from __future__ import annotations

import logging
import threading
from typing import Callable

from twisted.internet import defer
from twisted.internet.threads import deferToThreadPool

from callcenter.failover.leadership import psycopg_conninfo

log = logging.getLogger(__name__)


def first_line(exc: BaseException) -> str:
    """An exception in one short line for a log (psycopg's messages run over several)."""
    text = str(exc)
    return text.splitlines()[0][:200] if text else type(exc).__name__


def next_delay(delay: float, maximum: float) -> float:
    """The pause after ``delay`` when the next attempt fails too: doubled, at most ``maximum``."""
    return min(delay * 2, maximum)


class PgListener:
    """One thread ``LISTEN``ing on ``channels``; notifications, (re)connections and losses reach the
    reactor (module docs).  ``label`` names the feature in the log lines; ``application`` starts the
    connection's ``application_name`` (seen in ``pg_stat_activity``), followed by ``name``."""

    #: seconds the listening thread waits for a notification before looking at the stop flag
    wait_timeout = 1.0
    #: first and longest pause before connecting again
    reconnect_initial = 0.5
    reconnect_max = 30.0
    #: seconds a connection attempt may take
    connect_timeout = 5

    def __init__(self, reactor, url: str, channels: tuple[str, ...], on_notify: Callable[[str, str], None], *,
                 on_listening: Callable[[bool], None] | None = None, gauge=None, label: str = "pg listen",
                 application: str = "hotline-listen", name: str = "", pool=None):
        self.reactor = reactor
        self.conninfo = psycopg_conninfo(url)
        self.channels = tuple(channels)
        self.on_notify = on_notify
        self.on_listening = on_listening
        #: a Prometheus gauge (or anything with ``set``) showing 1 while listening
        self.gauge = gauge
        self.label = label
        self.application = application
        self.name = name
        self.pool = pool if pool is not None else reactor.getThreadPool()
        self.listening = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn = None
        self._waiters: list[defer.Deferred] = []

    # -- lifecycle (reactor thread) --------------------------------------------------------------
    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"pg-listen {','.join(self.channels)}", daemon=True)
        self._thread.start()

    def stop(self) -> defer.Deferred:
        """Stop listening; fires once the thread has ended (it notices within :attr:`wait_timeout`)."""
        self._stop.set()
        self._set_listening(False)
        thread, self._thread = self._thread, None
        if thread is None:
            return defer.succeed(None)
        return deferToThreadPool(self.reactor, self.pool, thread.join,
                                 self.wait_timeout + self.connect_timeout + 1)

    def when_listening(self) -> defer.Deferred:
        """Fires once the listening connection has run ``LISTEN`` (at once if it has)."""
        if self.listening:
            return defer.succeed(None)
        d = defer.Deferred()
        self._waiters.append(d)
        return d

    @property
    def backend_pid(self) -> int | None:
        """The listening connection's server process (tests end it to prove the reconnect)."""
        conn = self._conn
        return conn.info.backend_pid if conn is not None else None

    # -- the listening thread --------------------------------------------------------------------
    def _connect(self):
        import psycopg

        return psycopg.connect(self.conninfo, autocommit=True, connect_timeout=self.connect_timeout,
                               application_name=f"{self.application} {self.name}".strip()[:63],
                               keepalives=1, keepalives_idle=5, keepalives_interval=2, keepalives_count=2)

    def _listen(self, conn) -> None:
        from psycopg import sql

        for channel in self.channels:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))

    def _pause(self, seconds: float) -> None:
        self._stop.wait(seconds)  # returns at once when stopped

    def _run(self) -> None:
        delay = self.reconnect_initial
        reconnected = False
        while not self._stop.is_set():
            try:
                conn = self._connect()
            except Exception as exc:  # noqa: BLE001 - database unreachable: try again later
                log.warning("%s: cannot listen (%s); retrying in %.1fs", self.label, first_line(exc), delay)
            else:
                self._conn = conn
                try:
                    self._listen(conn)
                    delay = self.reconnect_initial
                    self.reactor.callFromThread(self._listening, reconnected)
                    reconnected = True
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=self.wait_timeout):
                            self.reactor.callFromThread(self.on_notify, note.channel, note.payload)
                except Exception as exc:  # noqa: BLE001 - connection lost: reconnect
                    if not self._stop.is_set():
                        log.warning("%s: listening connection lost (%s); reconnecting", self.label, first_line(exc))
                        self.reactor.callFromThread(self._set_listening, False)
                finally:
                    self._conn = None
                    try:
                        conn.close()
                    except Exception:  # noqa: BLE001 - closing a broken connection
                        pass
            if not self._stop.is_set():
                self._pause(delay)
                delay = next_delay(delay, self.reconnect_max)

    # -- reactor thread --------------------------------------------------------------------------
    def _listening(self, reconnected: bool) -> None:
        if self._stop.is_set():
            return  # stopped meanwhile: no longer listening for anybody
        self._set_listening(True)
        waiters, self._waiters = self._waiters, []
        for d in waiters:
            d.callback(None)
        if self.on_listening is not None:
            self.on_listening(reconnected)

    def _set_listening(self, listening: bool) -> None:
        self.listening = listening
        if self.gauge is not None:
            self.gauge.set(1 if listening else 0)
