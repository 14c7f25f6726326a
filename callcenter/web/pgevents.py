"""Work-order events across processes: PostgreSQL ``LISTEN``/``NOTIFY``, no other broker.

Several ``serve`` processes (one per PBX, or more web processes behind a proxy) share one
PostgreSQL database.  A work order changed through one of them must reach the live pages
open on the others (the dispatcher console's stream, the wallboard's work-order figures).
:class:`WorkOrderEventBridge` does that:

* **out**: it subscribes to the process's :class:`~ticketing.service.WorkOrderService`; what the
  service publishes after a commit is sent as ``NOTIFY hotline_workorders`` in the reactor's
  thread pool.  The payload is small — this process's origin id and ``[event, order number]``
  pairs, split to stay far below PostgreSQL's 8000-byte limit; receivers re-read what they show.
* **in**: one dedicated thread holds a connection that ``LISTEN``\\ s (psycopg's ``notifies()``
  generator, woken every :attr:`wait_timeout` seconds to notice :meth:`stop`) and hands each
  notification to the reactor with ``callFromThread``; there the events are published to the
  local subscribers marked ``"remote": True`` (so they are not sent out again, and counters such
  as SLA breaches are counted once, by the process that saw them happen).  Notifications from this
  process's own origin are dropped: its subscribers already had them, so there are no echoes.
* **loss**: if the listening connection breaks (database restart, network), the thread reconnects
  with doubling back-off up to :attr:`reconnect_max`; after a reconnect it publishes one
  ``{"event": "resync"}`` so pages that aggregate (the wallboard) re-read everything they show,
  since notifications sent while nobody listened are gone.
"""
from __future__ import annotations

import json
import logging
import threading
import uuid

from twisted.internet import defer
from twisted.internet.threads import deferToThreadPool

from callcenter.failover.leadership import psycopg_conninfo
from callcenter.metrics import WORKORDER_EVENTS_LISTENING, WORKORDER_EVENTS_RECEIVED

log = logging.getLogger(__name__)

CHANNEL = "hotline_workorders"


def payloads(origin: str, events: list[dict], limit: int) -> list[str]:
    """``events`` as NOTIFY payloads of at most ``limit`` bytes each: ``{"o": origin, "e": [[name, number]…]}``."""
    pairs = [[str(e.get("event") or ""), str(e.get("number") or "")] for e in events
             if e.get("event") and not e.get("remote")]
    out: list[str] = []
    chunk: list[list[str]] = []
    for pair in pairs:
        candidate = json.dumps({"o": origin, "e": chunk + [pair]}, ensure_ascii=False, separators=(",", ":"))
        if chunk and len(candidate.encode("utf-8")) > limit:
            out.append(json.dumps({"o": origin, "e": chunk}, ensure_ascii=False, separators=(",", ":")))
            chunk = [pair]
        else:
            chunk.append(pair)
    if chunk:
        out.append(json.dumps({"o": origin, "e": chunk}, ensure_ascii=False, separators=(",", ":")))
    return out


def parse(payload: str) -> tuple[str, list[dict]] | None:
    """``(origin, events)`` from a payload of :func:`payloads`; None for anything else."""
    try:
        data = json.loads(payload)
        origin, pairs = data["o"], data["e"]
        events = [{"event": str(name), "number": str(number), "remote": True} for name, number in pairs]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(origin, str):
        return None
    return origin, events


class WorkOrderEventBridge:
    """Publish this process's work-order events to PostgreSQL and the other processes' events here."""

    #: bytes per NOTIFY payload (PostgreSQL refuses more than 8000)
    max_payload = 4000
    #: seconds the listening thread waits for a notification before looking at the stop flag
    wait_timeout = 1.0
    #: first and longest pause before reconnecting the listening connection
    reconnect_initial = 0.5
    reconnect_max = 30.0
    connect_timeout = 5

    def __init__(self, reactor, url: str, service, engine, *, channel: str = CHANNEL, pool=None, name: str = ""):
        self.reactor = reactor
        self.conninfo = psycopg_conninfo(url)
        self.service = service
        self.engine = engine
        self.channel = channel
        self.pool = pool if pool is not None else reactor.getThreadPool()
        self.name = name
        #: tells this process's notifications from the others' (a process may hold several bridges in tests)
        self.origin = uuid.uuid4().hex[:16]
        self.listening = False
        self.received = 0
        #: this process's own notifications heard back and dropped
        self.echoes = 0
        self.sent = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn = None
        self._waiters: list[defer.Deferred] = []
        self._subscribed = False

    # -- lifecycle (reactor thread) --------------------------------------------------------------
    def start(self) -> None:
        if not self._subscribed:
            self.service.subscribe(self._outgoing)
            self._subscribed = True
        self._stop.clear()
        self._thread = threading.Thread(target=self._listen_forever, name=f"pg-listen {self.channel}",
                                        daemon=True)
        self._thread.start()

    def when_listening(self) -> defer.Deferred:
        """Fires once the listening connection has run ``LISTEN`` (at once if it has)."""
        if self.listening:
            return defer.succeed(None)
        d = defer.Deferred()
        self._waiters.append(d)
        return d

    def stop(self) -> defer.Deferred:
        self._stop.set()
        self.listening = False
        WORKORDER_EVENTS_LISTENING.set(0)
        thread, self._thread = self._thread, None
        if thread is None:
            return defer.succeed(None)
        return deferToThreadPool(self.reactor, self.pool, thread.join, self.wait_timeout + self.connect_timeout + 1)

    # -- out ---------------------------------------------------------------------------------------
    def _outgoing(self, events: list[dict]) -> None:
        """A service subscriber (any thread): queue this process's own events for NOTIFY."""
        if self._stop.is_set():
            return  # stopped: this process is going away
        texts = payloads(self.origin, events, self.max_payload)
        if texts:
            self.reactor.callFromThread(self._send_later, texts)

    def _send_later(self, texts: list[str]):
        d = deferToThreadPool(self.reactor, self.pool, self._send, texts)
        d.addErrback(lambda f: log.warning("work-order events not sent to other processes: %s",
                                           f.getErrorMessage()))
        return d

    def _send(self, texts: list[str]) -> None:
        from sqlalchemy import text

        with self.engine.begin() as conn:
            for payload in texts:
                conn.execute(text("SELECT pg_notify(:channel, :payload)"), {"channel": self.channel,
                                                                             "payload": payload})
        self.sent += len(texts)

    # -- in (the listening thread) -----------------------------------------------------------------
    def _listen_forever(self) -> None:
        import psycopg
        from psycopg import sql

        delay = self.reconnect_initial
        connected_before = False
        while not self._stop.is_set():
            try:
                conn = psycopg.connect(self.conninfo, autocommit=True, connect_timeout=self.connect_timeout,
                                       application_name=f"hotline-listen {self.name}".strip(),
                                       keepalives=1, keepalives_idle=5, keepalives_interval=2, keepalives_count=2)
            except Exception as exc:  # noqa: BLE001 - database unreachable: try again later
                log.warning("work-order events: cannot listen (%s); retrying in %.1fs",
                            str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, self.reconnect_max)
                continue
            self._conn = conn
            try:
                conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                delay = self.reconnect_initial
                self.reactor.callFromThread(self._listening, connected_before)
                connected_before = True
                while not self._stop.is_set():
                    for note in conn.notifies(timeout=self.wait_timeout):
                        self._arrived(note.payload)
            except Exception as exc:  # noqa: BLE001 - connection lost: reconnect
                if not self._stop.is_set():
                    log.warning("work-order events: listening connection lost (%s); reconnecting",
                                str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__)
                    self.reactor.callFromThread(self._lost)
            finally:
                self._conn = None
                try:
                    conn.close()
                except Exception:  # noqa: BLE001 - closing a broken connection
                    pass
            if not self._stop.is_set():
                self._stop.wait(delay)
                delay = min(delay * 2, self.reconnect_max)

    def _arrived(self, payload: str) -> None:
        parsed = parse(payload)
        if parsed is None:
            log.warning("work-order events: ignored a malformed notification")
            return
        origin, events = parsed
        if origin == self.origin:
            self.reactor.callFromThread(self._echoed)  # our own: the local subscribers already had them
            return
        if not events:
            return
        self.reactor.callFromThread(self._deliver, events)

    # -- reactor thread ----------------------------------------------------------------------------
    def _deliver(self, events: list[dict]) -> None:
        self.received += len(events)
        WORKORDER_EVENTS_RECEIVED.inc(len(events))
        self.service.publish(events)

    def _listening(self, reconnected: bool) -> None:
        self.listening = True
        WORKORDER_EVENTS_LISTENING.set(1)
        waiters, self._waiters = self._waiters, []
        for d in waiters:
            d.callback(None)
        if reconnected:
            self.service.publish([{"event": "resync", "remote": True}])

    def _echoed(self) -> None:
        self.echoes += 1

    def _lost(self) -> None:
        self.listening = False
        WORKORDER_EVENTS_LISTENING.set(0)

    @property
    def backend_pid(self) -> int | None:
        """The listening connection's server process (tests end it to prove the reconnect)."""
        conn = self._conn
        return conn.info.backend_pid if conn is not None else None
