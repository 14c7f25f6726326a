"""Wallboard: event → SSE screen latency with many screens, and /metrics render time.

``latency``: a real :class:`WallboardFeed` and its EventStream served over
TCP on 127.0.0.1; ``--clients`` raw HTTP readers (200 by default) hold the
stream open; ``--events`` ACD call events are fed to the projection one by
one, and for each we time event → frame fully received by every screen
(including the feed's coalescing interval).  Screens and server share one
process and reactor, so the figure includes the clients' own parsing.

``metrics``: the service registry filled with a full label set
(``--queues`` queues × dispositions, ``--departments`` departments, HTTP
areas × methods × statuses), rendered ``--renders`` times.
"""
from __future__ import annotations

import statistics
import time


def add_arguments(parser) -> None:
    parser.add_argument("--clients", type=int, default=200, help="connected SSE screens (default 200)")
    parser.add_argument("--events", type=int, default=50, help="call events to time (default 50)")
    parser.add_argument("--gap", type=float, default=0.2, help="seconds between events (default 0.2)")
    parser.add_argument("--queues", type=int, default=20)
    parser.add_argument("--departments", type=int, default=60)
    parser.add_argument("--renders", type=int, default=50)


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def latency(args) -> dict:
    from twisted.internet import protocol, reactor
    from twisted.web.server import Site

    from callcenter.clock import now_from
    from callcenter.wallboard.feed import WallboardFeed
    from callcenter.wallboard.projection import Wallboard
    from callcenter.web.sse import EventStream

    stream = EventStream(reactor)
    stream.max_clients = max(stream.max_clients, args.clients + 10)
    feed = WallboardFeed(Wallboard(), stream, reactor)
    port = reactor.listenTCP(0, Site(stream), interface="127.0.0.1", backlog=max(50, args.clients))
    sent_at: dict[int, float] = {}
    received: dict[int, list[float]] = {}
    screens: list = []

    class Screen(protocol.Protocol):
        def connectionMade(self):
            self.buffer = b""
            self.newest = 0
            self.transport.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            screens.append(self)

        def dataReceived(self, data):
            self.buffer += data
            while b"\n\n" in self.buffer:
                frame, _, self.buffer = self.buffer.partition(b"\n\n")
                marker = frame.find(b'"offered": ')
                if marker >= 0:
                    n = int(frame[marker + 11:frame.index(b",", marker)])
                    arrived = time.perf_counter()
                    # a frame showing offered=n carries every event up to n (bursts coalesce)
                    for m in range(self.newest + 1, n + 1):
                        if m in sent_at:
                            received.setdefault(m, []).append(arrived - sent_at[m])
                    self.newest = max(self.newest, n)

    factory = protocol.ClientFactory.forProtocol(Screen)
    host = port.getHost()
    for _ in range(args.clients):
        reactor.connectTCP("127.0.0.1", host.port, factory)
    state = {"n": 0}

    def fire():
        state["n"] += 1
        n = state["n"]
        sent_at[n] = time.perf_counter()
        feed.wallboard.on_acd_event("call", {"call_id": f"c{n}", "state": "queued", "queue": "hotline-general"},
                                    now_from(reactor))
        feed._changed()
        if n < args.events:
            reactor.callLater(args.gap, fire)
        else:
            reactor.callLater(max(2.0, args.gap * 5), finish)

    def start():
        if len(stream.clients) < args.clients:
            reactor.callLater(0.05, start)
            return
        reactor.callLater(0.5, fire)

    def finish():
        reactor.stop()

    reactor.callWhenRunning(start)
    reactor.run()
    port.stopListening()
    samples = [s for values in received.values() for s in values]
    complete = sum(1 for n in sent_at if len(received.get(n, [])) >= args.clients)
    return {"bench": "wallboard.latency", "clients": args.clients, "events": len(sent_at),
            "events_reaching_all_screens": complete, "samples": len(samples),
            "p50_ms": round(1000 * statistics.median(samples), 1) if samples else None,
            "p95_ms": round(1000 * _pct(samples, 95), 1) if samples else None,
            "max_ms": round(1000 * max(samples), 1) if samples else None,
            "target_p95_ms": 1000, "publish_interval_ms": int(feed.publish_interval * 1000)}


def metrics_render(args) -> dict:
    from callcenter import metrics

    dispositions = ("answered", "abandoned", "callback_booked")
    for q in range(args.queues):
        queue = f"queue-{q:02d}"
        metrics.CALLS_WAITING.labels(queue).set(q)
        for rule in ("gbt_15s", "sla_80_20", "connection"):
            metrics.SERVICE_LEVEL.labels(queue, rule).set(0.9)
        for d in dispositions:
            metrics.CALLS_TOTAL.labels(queue, d).inc(q)
        metrics.CALL_WAIT_SECONDS.labels(queue).observe(q)
    for d in range(args.departments):
        metrics.WORKORDERS_OPEN.labels(f"dept-{d:03d}").set(d)
    for kind in ("acknowledge", "resolve", "callback"):
        metrics.WORKORDERS_SLA_BREACHES.labels(kind).inc()
    for level in ("yellow", "red"):
        metrics.WORKORDERS_AT_RISK.labels(level).set(1)
    for area in ("api", "dept", "wallboard", "supervisor", "agent", "open311", "metrics", "login"):
        metrics.HTTP_LATENCY.labels(area).observe(0.01)
        for method in ("GET", "POST"):
            for status in ("200", "303", "400", "403", "404", "500"):
                metrics.HTTP_REQUESTS.labels(area, f"/{area}/<path:__rest__>", method, status).inc()
    metrics.ASR_REALTIME_FACTOR.set(0.4)
    times = []
    size = 0
    for _ in range(args.renders):
        t0 = time.perf_counter()
        payload, _ = metrics.exposition()
        times.append(time.perf_counter() - t0)
        size = len(payload)
    series = sum(1 for line in payload.decode().splitlines() if line and not line.startswith("#"))
    return {"bench": "wallboard.metrics_render", "series": series, "bytes": size, "renders": args.renders,
            "mean_ms": round(1000 * statistics.mean(times), 2), "p95_ms": round(1000 * _pct(times, 95), 2),
            "target_ms": 50}


def run(args):
    yield metrics_render(args)
    yield latency(args)
