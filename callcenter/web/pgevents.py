"""Work-order events across processes: PostgreSQL ``LISTEN``/``NOTIFY``, no other broker.

Several ``serve`` processes (one per PBX, or more web processes behind a proxy) share one
PostgreSQL database.  A work order changed through one of them must reach the live pages
open on the others (the dispatcher console's stream, the wallboard's work-order figures).
:class:`WorkOrderEventBridge` does that:

* **out**: it subscribes to the process's :class:`~ticketing.service.WorkOrderService`; what the
  service publishes after a commit is sent as ``NOTIFY hotline_workorders`` in the reactor's
  thread pool.  The payload is small — this process's origin id and ``[event, order number]``
  pairs, split to stay far below PostgreSQL's 8000-byte limit; receivers re-read what they show.
* **in**: a :class:`~callcenter.web.pglisten.PgListener` (one thread ``LISTEN``\\ ing, the one loop
  shared with the calls pages) hands each notification to the reactor; there the events are published to the
  local subscribers marked ``"remote": True`` (so they are not sent out again, and counters such
  as SLA breaches are counted once, by the process that saw them happen).  Notifications from this
  process's own origin are dropped: its subscribers already had them, so there are no echoes.
* **loss**: if the listening connection breaks (database restart, network), the listener reconnects
  with doubling back-off up to :attr:`PgListener.reconnect_max`; after a reconnect the bridge publishes one
  ``{"event": "resync"}`` so pages that aggregate (the wallboard) re-read everything they show,
  since notifications sent while nobody listened are gone.
"""
from __future__ import annotations

import json
import logging
import uuid

from twisted.internet import defer
from twisted.internet.threads import deferToThreadPool

from callcenter.metrics import WORKORDER_EVENTS_LISTENING, WORKORDER_EVENTS_RECEIVED
from callcenter.web.pglisten import PgListener

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

    def __init__(self, reactor, url: str, service, engine, *, channel: str = CHANNEL, pool=None, name: str = ""):
        self.reactor = reactor
        self.service = service
        self.engine = engine
        self.channel = channel
        self.pool = pool if pool is not None else reactor.getThreadPool()
        self.name = name
        #: tells this process's notifications from the others' (a process may hold several bridges in tests)
        self.origin = uuid.uuid4().hex[:16]
        #: the listening thread, its limits and its reconnects (:class:`~callcenter.web.pglisten.PgListener`)
        self.listener = PgListener(reactor, url, (channel,), self._arrived, on_listening=self._listening,
                                   gauge=WORKORDER_EVENTS_LISTENING, label="work-order events",
                                   application="hotline-listen", name=name, pool=self.pool)
        self.received = 0
        #: this process's own notifications heard back and dropped
        self.echoes = 0
        self.sent = 0
        self._stopped = False
        self._subscribed = False

    # -- lifecycle (reactor thread) --------------------------------------------------------------
    def start(self) -> None:
        if not self._subscribed:
            self.service.subscribe(self._outgoing)
            self._subscribed = True
        self._stopped = False
        self.listener.start()

    def when_listening(self) -> defer.Deferred:
        """Fires once the listening connection has run ``LISTEN`` (at once if it has)."""
        return self.listener.when_listening()

    def stop(self) -> defer.Deferred:
        self._stopped = True
        return self.listener.stop()

    @property
    def listening(self) -> bool:
        return self.listener.listening

    @property
    def backend_pid(self) -> int | None:
        """The listening connection's server process (tests end it to prove the reconnect)."""
        return self.listener.backend_pid

    # -- out ---------------------------------------------------------------------------------------
    def _outgoing(self, events: list[dict]) -> None:
        """A service subscriber (any thread): queue this process's own events for NOTIFY."""
        if self._stopped:
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

    # -- in (reactor thread, handed over by the listener) ------------------------------------------
    def _arrived(self, channel: str, payload: str) -> None:
        parsed = parse(payload)
        if parsed is None:
            log.warning("work-order events: ignored a malformed notification")
            return
        origin, events = parsed
        if origin == self.origin:
            self.echoes += 1  # our own: the local subscribers already had them
            return
        if not events:
            return
        self.received += len(events)
        WORKORDER_EVENTS_RECEIVED.inc(len(events))
        self.service.publish(events)

    def _listening(self, reconnected: bool) -> None:
        if reconnected:  # what was sent while nobody listened is gone: pages that aggregate re-read
            self.service.publish([{"event": "resync", "remote": True}])
