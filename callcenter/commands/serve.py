"""`callcenter serve --config FILE`: the production process — :class:`callcenter.app.Hotline` on the real reactor against Asterisk.

Before starting it runs every check of `callcenter check` (:mod:`callcenter.preflight`) and
refuses to start (exit 2) on a failed one, except a PBX or search engine that is not answering
yet (it reconnects to those).  With ``[failover] enabled`` on PostgreSQL it first waits to be
the leader (:mod:`callcenter.failover.leadership`): a standby prints ``standby`` and starts the
hotline only when the leader is gone; a leader that loses its lock exits 3 at once (fencing).
While it waits a standby serves the web pages (``Hotline(role="standby")``: the calls pages relayed to the
leader through PostgreSQL, :mod:`callcenter.web.pgcalls`).  ``[serve] role = "web"`` runs a process that
only ever serves the pages and APIs (any number of them behind a proxy; PostgreSQL only).
"""
from __future__ import annotations

import os
import signal
import sys


def register(sub) -> None:
    p = sub.add_parser("serve", help="production: AMI to Asterisk, IVR, ACD, workers, web/API/metrics / 生产服务")
    p.set_defaults(func=_run)


def _run(args) -> int:
    """Run until SIGINT/SIGTERM; exit 2 with a clear message when the schema is behind."""
    from twisted.internet import defer, reactor

    from callcenter.config import ConfigError
    from callcenter.app import Hotline, SchemaBehind
    from callcenter.runtime import parse_gc_threshold, tune_gc

    from callcenter.ami.client import read_coalesce_setting
    from ivr.services import screen_refresh_setting

    try:
        gc_threshold = parse_gc_threshold(args.cfg.get("runtime.gc_threshold"))
        read_coalesce_setting(args.cfg)
        screen_refresh_setting(args.cfg)
    except ConfigError as exc:
        print(f"callcenter serve: configuration error: {exc}", file=sys.stderr)
        return 2
    from callcenter.preflight import blocking_failures, report, run_checks

    role = str(args.cfg.get("serve.role") or "calls")
    if role not in ("calls", "web"):
        print(f"callcenter serve: configuration error: [serve] role = {role!r}: expected \"calls\" or \"web\"",
              file=sys.stderr)
        return 2
    if role == "web" and not _postgresql(args.cfg):
        print("callcenter serve: [serve] role = \"web\" needs PostgreSQL (database.url): the calls pages are "
              "relayed to the controller through it / 纯网页进程需要 PostgreSQL", file=sys.stderr)
        return 2
    hotline = Hotline(reactor, args.cfg, role=role)
    outcome = {"code": 0}
    stopping = []
    leadership = _leadership(args.cfg, reactor) if role == "calls" else None
    waiting: list = []  # the standby's web-only hotline while it waits

    def shutdown(*_):
        if not stopping:
            stopping.append(True)
            d = defer.succeed(None)
            for h in waiting:
                d.addBoth(lambda _, h=h: h.stop() if h.parts else None)
            d.addBoth(lambda _: hotline.stop() if hotline.parts else None)
            if leadership is not None:
                d.addBoth(lambda _: leadership.stop())
            d.addErrback(lambda f: print(f"callcenter serve: stop failed: {f.getErrorMessage()}",
                                         file=sys.stderr)).addBoth(lambda _: reactor.stop())

    @defer.inlineCallbacks
    def main():
        results = yield run_checks(args.cfg, reactor)
        report(results, sys.stderr)
        refused = blocking_failures(results)
        if role == "web":  # plays no prompt, dials no PBX, transcribes nothing
            refused = [r for r in refused if r.name not in ("prompts", "ami", "speech")]
        if refused:
            print(f"callcenter serve: refusing to start / 无法启动: {', '.join(r.name for r in refused)} "
                  "check(s) failed; the FAIL lines above name the fix", file=sys.stderr)
            outcome["code"] = 2
            reactor.stop()
            return
        if leadership is not None:
            print(f"standby: waiting for leadership of group {leadership.group!r} / 备用：等待接管", flush=True)
            standby_port = None
            standby = Hotline(reactor, args.cfg, role="standby")
            try:  # meanwhile the standby serves the web pages, the calls pages through the leader
                yield standby.start()
                waiting.append(standby)
                host = standby.web_port.getHost()
                print("standby: serving the web pages meanwhile / 备用期间提供网页服务", flush=True)
            except Exception as exc:  # noqa: BLE001 - e.g. the port is busy: the standby still waits
                print(f"standby: web pages not served ({exc}); health only", file=sys.stderr, flush=True)
                if standby.parts:
                    yield standby.stop()
                standby_port = _standby_health(reactor, args.cfg, leadership)
                host = standby_port.getHost() if standby_port is not None else None
            if host is not None:
                print(f"standby health on http://{host.host}:{host.port}/healthz", flush=True)
            yield _elected(leadership)
            if waiting:
                yield waiting.pop().stop()  # the hotline's web takes the port over
            if standby_port is not None:
                yield standby_port.stopListening()
            if stopping:
                return
            print("leader: starting the hotline / 主用：接管呼叫", flush=True)
        try:
            yield hotline.start()
        except SchemaBehind as exc:
            print(f"callcenter serve: {exc}", file=sys.stderr)
            outcome["code"] = 2
            reactor.stop()
            return
        except Exception as exc:
            print(f"callcenter serve: could not start / 无法启动: {exc}", file=sys.stderr)
            outcome["code"] = 1
            reactor.stop()
            return
        tune_gc(gc_threshold)
        if role == "web":
            print("web: serving pages and APIs only; the calls pages come from the controller / 纯网页进程", flush=True)
        print(f"serving on http://{args.cfg.get('web.host')}:{hotline.web_port.getHost().port}/ "
              f"(AMI {args.cfg.get('ami.host')}:{args.cfg.get('ami.port')})", flush=True)

    def on_signal(signum, frame):
        reactor.callFromThread(shutdown)

    def fence():
        # Another process may lead now: stop driving calls at once, as if killed; the PBX keeps the
        # calls and the new leader adopts them.  The supervisor restarts this one as a standby.
        print("callcenter serve: lost leadership; exiting (fenced) / 失去主用身份，退出", file=sys.stderr, flush=True)
        os._exit(3)

    if leadership is not None:
        leadership.on_lost = fence
    reactor.callWhenRunning(main)
    reactor.callWhenRunning(lambda: signal.signal(signal.SIGINT, on_signal))
    reactor.callWhenRunning(lambda: signal.signal(signal.SIGTERM, on_signal))
    reactor.run(installSignalHandlers=False)
    return outcome["code"]


def _postgresql(config) -> bool:
    from sqlalchemy.engine import make_url

    from callcenter.db import default_url

    return make_url(default_url(config)).get_backend_name() == "postgresql"


def _leadership(config, reactor):
    """The leadership campaign when ``[failover] enabled`` (PostgreSQL only), else None."""
    if not config.get("failover.enabled"):
        return None
    from callcenter.db import default_url
    from callcenter.failover.leadership import Leadership

    leadership = Leadership(reactor, default_url(config), group=str(config.get("failover.group") or "default"),
                            name=config.get("failover.name") or f"{os.uname().nodename}:{os.getpid()}")
    leadership.poll_interval = config.number("failover.poll_seconds", 0.1, 10, unit="s", default=1.0)
    leadership.check_interval = config.number("failover.check_seconds", 0.5, 30, unit="s", default=2.0)
    return leadership


def _elected(leadership):
    from twisted.internet import defer

    d = defer.Deferred()
    leadership.on_elected = lambda: d.callback(None)
    leadership.start()
    return d


def _standby_health(reactor, config, leadership):
    """While waiting, ``GET /healthz`` on the web port answers 200 ``{"status": "standby"}`` (a
    container health check or load balancer sees a live standby, which serves nothing else)."""
    import json

    from twisted.web.resource import Resource
    from twisted.web.server import Site

    class Health(Resource):
        isLeaf = True

        def render_GET(self, request):
            request.setHeader(b"Content-Type", b"application/json")
            if request.path != b"/healthz":
                request.setResponseCode(503)
            return json.dumps({"status": "standby", "group": leadership.group,
                               "leader": False}).encode()

    try:
        return reactor.listenTCP(int(config.get("web.port")), Site(Health()),
                                 interface=config.get("web.host") or "127.0.0.1")
    except Exception as exc:  # noqa: BLE001 - the port is busy: the standby runs without it
        print(f"standby: no /healthz on the web port ({exc})", file=sys.stderr)
        return None
