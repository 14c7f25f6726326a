"""``WallboardFeed``: wires the sources to the projection, the screens and Prometheus.

* ACD listener events fold into the :class:`Wallboard` at once; a publish to
  every connected screen (SSE) follows within ``publish_interval`` — bursts
  of events coalesce into one frame, so 200 screens cost one JSON encoding.
* Work-order events (service ``subscribe``, fired from the database thread
  after commit) hop to the reactor and trigger a refresh of the work-order
  figures in the thread pool — at most one per ``min_refresh_interval``, so tens
  of orders a second do not re-read the figures back to back (CPU and garbage
  the reactor pays for, `callcenter bench capacity`); a slow timer refreshes
  them anyway (``refresh_seconds``) so SLA levels that change with time alone show up.
* Prometheus children are looked up once per label set and cached: the
  per-event cost on the AMI hot path is an attribute load and an ``inc``.
"""
from __future__ import annotations

import logging

from twisted.internet import defer, task

from callcenter import metrics
from callcenter.clock import now_from
from callcenter.wallboard.projection import Wallboard

log = logging.getLogger(__name__)


class WallboardFeed:
    publish_interval = 0.1
    live_interval = 1.0
    refresh_seconds = 5.0
    min_refresh_interval = 1.0

    def __init__(self, wallboard: Wallboard, stream, clock, *, acd=None, engine=None, db_runner=None,
                 workorders=None, callbacks_source=None, call_from_thread=None, time_source=None) -> None:
        self.wallboard = wallboard
        self.stream = stream
        self.clock = clock
        #: whose time stamps the events: the ACD's clock (a ScaledClock in the demo), else ``clock``
        self.time_source = time_source or clock
        self.acd = acd
        self.engine = engine
        self.db_runner = db_runner or defer.maybeDeferred
        self.workorders = workorders
        #: optional blocking ``fn() -> int``: callbacks waiting in the callback table (issue 7)
        self.callbacks_source = callbacks_source
        self.call_from_thread = call_from_thread or getattr(clock, "callFromThread", None) or (lambda f, *a: f(*a))
        self._pending = None
        self._refreshing: defer.Deferred | None = None
        self._refresh_again = False
        self._last_refresh: float | None = None
        self._soon = None
        self._loops: list[task.LoopingCall] = []
        self._children: dict[tuple, object] = {}
        self._queue_gauges: dict[str, tuple] = {}
        self._known_departments: set[str] = set()

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        if self.acd is not None:
            self.acd.add_listener(self.on_acd)
            if self.engine is not None:
                self.restore_today()
        if self.workorders is not None and hasattr(self.workorders, "subscribe"):
            self.workorders.subscribe(self.on_workorder_events)
        for interval, fn in ((self.live_interval, self._changed), (self.refresh_seconds, self.refresh)):
            loop = task.LoopingCall(fn)
            loop.clock = self.clock
            loop.start(interval, now=True)
            self._loops.append(loop)

    def stop(self) -> None:
        for loop in self._loops:
            if loop.running:
                loop.stop()
        self._loops.clear()
        if self._pending is not None and self._pending.active():
            self._pending.cancel()
        self._pending = None
        if self._soon is not None and self._soon.active():
            self._soon.cancel()
        self._soon = None

    # -- ACD ---------------------------------------------------------------------------
    def on_acd(self, kind: str, data: dict) -> None:
        number = ""
        if kind == "call" and data.get("state") == "queued" and self.acd is not None:
            qc = self.acd.calls.get(data.get("call_id", ""))
            number = getattr(getattr(qc, "caller", None), "number", "") or ""
        outcome = self.wallboard.on_acd_event(kind, data, now_from(self.time_source), number)
        if outcome is not None:
            self._count(outcome["queue"], outcome["disposition"], outcome["wait"])
        self._changed()

    def _count(self, queue: str, disposition: str, wait: float) -> None:
        key = (queue, disposition)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (metrics.CALLS_TOTAL.labels(queue, disposition),
                                               metrics.CALL_WAIT_SECONDS.labels(queue))
        children[0].inc()
        children[1].observe(wait)

    def restore_today(self) -> defer.Deferred:
        """Fold today's stored queue calls (before now) into the board: "today" survives a restart.
        Calls finishing from now on arrive as ACD events, so none is counted twice."""
        now = now_from(self.time_source)
        d = self.db_runner(self._read_queue_calls, self.wallboard.day_start(now), now)
        d.addCallback(self.wallboard.restore, now)
        d.addCallback(lambda _: self._changed())
        d.addErrback(lambda f: log.error("wallboard: today's queue calls not restored: %s", f.getErrorMessage()))
        return d

    def _read_queue_calls(self, day_start, now) -> list[dict]:
        from sqlalchemy import select

        from callcenter.routing.store import queue_calls as qc

        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(
                select(qc.c.call_id, qc.c.queue, qc.c.number, qc.c.left_at, qc.c.outcome, qc.c.wait_seconds)
                .where(qc.c.left_at >= day_start, qc.c.left_at < now).order_by(qc.c.left_at)).mappings()]

    # -- work orders ---------------------------------------------------------------------
    def on_workorder_events(self, events: list[dict]) -> None:
        """Called after commit, possibly from a pool thread: count breaches, refresh soon."""
        for event in events:
            if event.get("event") == "sla_breach" and not event.get("remote"):  # counted where it happened
                metrics.WORKORDERS_SLA_BREACHES.labels(str(event.get("kind") or "unknown")).inc()
        self.call_from_thread(self.refresh_soon)

    def refresh_soon(self) -> None:
        """Refresh now, or, within ``min_refresh_interval`` of the last refresh, once that has passed
        (one refresh however many events arrive meanwhile)."""
        if self._soon is not None and self._soon.active():
            return
        wait = 0.0
        if self._last_refresh is not None:
            wait = self._last_refresh + self.min_refresh_interval - self.clock.seconds()
        if wait <= 0:
            self.refresh()
        else:
            self._soon = self.clock.callLater(wait, self.refresh)

    def refresh(self) -> defer.Deferred:
        """Re-read work-order figures (and pending callbacks) off the reactor thread."""
        if self._refreshing is not None:
            self._refresh_again = True
            return self._refreshing
        if self.engine is None and self.callbacks_source is None:
            return defer.succeed(None)
        self._last_refresh = self.clock.seconds()
        now = now_from(self.time_source)
        day_start = self.wallboard.day_start(now)
        self._refreshing = d = self.db_runner(self._read, now, day_start)
        d.addCallback(self._apply)
        d.addErrback(lambda f: log.error("wallboard refresh failed: %s", f.getErrorMessage()))
        d.addBoth(self._refreshed)
        return d

    def _read(self, now, day_start) -> tuple:
        from callcenter.wallboard.workorders import workorder_figures

        figures = workorder_figures(self.engine, now, day_start) if self.engine is not None else None
        callbacks = int(self.callbacks_source()) if self.callbacks_source is not None else None
        return figures, callbacks

    def _apply(self, result) -> None:
        figures, callbacks = result
        if figures is not None:
            self.wallboard.set_workorders(figures)
            for dept, n in figures["open_by_department"].items():
                metrics.WORKORDERS_OPEN.labels(dept).set(n)
            for dept in self._known_departments - set(figures["open_by_department"]):
                metrics.WORKORDERS_OPEN.labels(dept).set(0)
            self._known_departments = set(figures["open_by_department"])
            metrics.WORKORDERS_AT_RISK.labels("yellow").set(figures["sla_yellow"])
            metrics.WORKORDERS_AT_RISK.labels("red").set(figures["sla_red"])
        if callbacks is not None:
            self.wallboard.set_callbacks_pending(callbacks)
        self._changed()

    def _refreshed(self, _):
        self._refreshing = None
        if self._refresh_again:
            self._refresh_again = False
            self.refresh()

    # -- publishing ------------------------------------------------------------------------
    def _changed(self) -> None:
        if self._pending is None or not self._pending.active():
            self._pending = self.clock.callLater(self.publish_interval, self.publish)

    def current(self) -> dict:
        """The snapshot with the ACD's live figures freshly read."""
        if self.acd is not None:
            self.wallboard.set_live(self.acd.snapshot(), self.agent_rows())
        return self.wallboard.snapshot(now_from(self.time_source))

    def agent_rows(self) -> list[dict]:
        if self.acd is None:
            return []
        now = now_from(self.time_source)
        rows = []
        for agent_id, session in sorted(self.acd.sessions.items()):
            since = getattr(session, "since", None)
            rows.append({"agent_id": agent_id, "state": session.state.value, "reason": session.reason,
                         "call_id": session.call_id,
                         "seconds_in_state": round((now - since).total_seconds()) if since else None})
        return rows

    def publish(self) -> dict:
        self._pending = None
        snap = self.current()
        for q in snap["queues"]:
            gauges = self._queue_gauges.get(q["name"])
            if gauges is None:
                name = q["name"]
                gauges = self._queue_gauges[name] = (
                    metrics.CALLS_WAITING.labels(name), metrics.SERVICE_LEVEL.labels(name, "gbt_15s"),
                    metrics.SERVICE_LEVEL.labels(name, "sla_80_20"), metrics.SERVICE_LEVEL.labels(name, "connection"))
            gauges[0].set(q["waiting"])
            for gauge, key in zip(gauges[1:], ("service_level_15s", "service_level_80_20", "connection_rate")):
                if q[key] is not None:
                    gauge.set(q[key])
        metrics.WALLBOARD_CLIENTS.set(len(self.stream.clients))
        if self.stream.clients or getattr(self.stream, "mirror", None) is not None:  # mirror: viewers on other web processes
            self.stream.publish("wallboard", snap)
        return snap
