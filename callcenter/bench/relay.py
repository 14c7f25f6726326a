"""Calls relay: what a web process that drives no calls pays to reach the leader, on PostgreSQL.

One process plays both sides on a scratch database (``--pg-url`` or CALLCENTER_TEST_PG): the leader's
:class:`~callcenter.web.pgcalls.CallsHost` in front of a small local web server (the relay's overhead only:
the page the leader renders costs what it costs on the leader itself), and a web process's
:class:`~callcenter.web.pgcalls.CallsRelay`.

``requests``: ``--requests`` relayed GETs one after another (store, NOTIFY, claim, loopback HTTP, answer,
NOTIFY, read, delete), then the same number spread over ``--concurrency`` parallel browsers: round trip
p50/p95 and requests per second.  ``frames``: ``--frames`` frames of ``--frame-bytes`` (a wallboard
snapshot is about 3 KB) published on the leader ``--gap`` seconds apart, timed until the web process's
copy of the stream publishes them.
"""
from __future__ import annotations

import os
import statistics
import time

from callcenter.bench.tickets import DEFAULT_PG, scratch_database


def add_arguments(parser) -> None:
    parser.add_argument("--requests", type=int, default=300, help="relayed requests per run (default 300)")
    parser.add_argument("--concurrency", type=int, default=10, help="parallel browsers in the second run")
    parser.add_argument("--frames", type=int, default=300, help="frames timed (default 300)")
    parser.add_argument("--frame-bytes", type=int, default=3000, help="size of one frame's data (default 3000)")
    parser.add_argument("--gap", type=float, default=0.02, help="seconds between frames (default 0.02)")
    parser.add_argument("--pg-url", default=os.environ.get("CALLCENTER_TEST_PG", DEFAULT_PG))


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def _ms(values: list[float]) -> dict:
    if not values:
        return {"p50_ms": None, "p95_ms": None, "max_ms": None}
    return {"p50_ms": round(1000 * statistics.median(values), 1), "p95_ms": round(1000 * _pct(values, 95), 1),
            "max_ms": round(1000 * max(values), 1)}


class _Browser:
    """What :meth:`CallsRelay.forward` reads of a request."""

    hotline_client = "192.0.2.10"

    def __init__(self):
        from twisted.web.http_headers import Headers

        self.requestHeaders = Headers({b"host": [b"hotline.example"], b"cookie": [b"session=bench"]})

    def getClientAddress(self):
        return None

    def isSecure(self):
        return True


def run(args):
    from twisted.internet import defer, reactor
    from twisted.web.resource import Resource
    from twisted.web.server import Site

    from callcenter.db import make_engine
    from callcenter.web.pgcalls import CallsHost, CallsRelay

    results: list[dict] = []

    class Page(Resource):
        isLeaf = True

        def render_GET(self, request):
            request.setHeader(b"Content-Type", b"application/json")
            return b'{"agent": {"state": "ready"}, "call": null}'

    async def main(url):
        engine = make_engine(url, pool_size=args.concurrency + 5)
        site = reactor.listenTCP(0, Site(Page()), interface="127.0.0.1")
        address = ("127.0.0.1", site.getHost().port)
        host = CallsHost(reactor, engine, group="bench", secret=b"k", web_address=lambda: address)
        relay = CallsRelay(reactor, engine, group="bench", secret=b"k")
        host.start()
        relay.start()
        try:
            await host.when_listening()
            await relay.when_listening()
            while relay.last_frame is None:
                await _sleep(reactor, 0.02)
            browser = _Browser()
            one = []
            for _ in range(args.requests):
                started = time.perf_counter()
                status, _, _ = await relay.forward(browser, "GET", "/agent/api/screen", b"")
                assert status == 200, status
                one.append(time.perf_counter() - started)
            results.append({"bench": "relay.requests", "concurrency": 1, "requests": len(one),
                            "per_second": round(len(one) / sum(one), 1), **_ms(one)})
            many: list[float] = []

            async def browse(n):
                for _ in range(n):
                    started = time.perf_counter()
                    status, _, _ = await relay.forward(browser, "GET", "/agent/api/screen", b"")
                    assert status == 200, status
                    many.append(time.perf_counter() - started)

            began = time.perf_counter()
            share = max(1, args.requests // args.concurrency)
            await defer.gatherResults([defer.ensureDeferred(browse(share)) for _ in range(args.concurrency)])
            took = time.perf_counter() - began
            results.append({"bench": "relay.requests", "concurrency": args.concurrency, "requests": len(many),
                            "per_second": round(len(many) / took, 1), **_ms(many)})

            stream = relay.stream("bench")
            sent: dict[int, float] = {}
            arrived: dict[int, float] = {}
            stream.mirror = lambda event, data: arrived.setdefault(data["n"], time.perf_counter())
            filler = "x" * max(0, args.frame_bytes - 20)
            for n in range(args.frames):
                sent[n] = time.perf_counter()
                host.frame("bench", "tick", {"n": n, "pad": filler})
                await _sleep(reactor, args.gap)
            deadline = time.perf_counter() + 10
            while len(arrived) < len(sent) and time.perf_counter() < deadline:
                await _sleep(reactor, 0.05)
            latencies = [arrived[n] - sent[n] for n in sent if n in arrived]
            results.append({"bench": "relay.frames", "frames": len(sent), "arrived": len(arrived),
                            "frame_bytes": args.frame_bytes, "gap_ms": int(args.gap * 1000),
                            "frames_written": host.frames_written, "flush_interval_ms": int(host.flush_interval * 1000),
                            **_ms(latencies)})
        finally:
            await relay.stop()
            await host.stop()
            await site.stopListening()
            engine.dispose()

    with scratch_database("postgresql", args.pg_url) as url:
        def go():
            d = defer.ensureDeferred(main(url))
            d.addErrback(lambda f: results.append({"bench": "relay", "error": f.getErrorMessage()}))
            d.addBoth(lambda _: reactor.stop())

        reactor.callWhenRunning(go)
        reactor.run()
    yield from results


def _sleep(reactor, seconds):
    from twisted.internet import task

    return task.deferLater(reactor, seconds, lambda: None)
