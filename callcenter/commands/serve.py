"""`callcenter serve --config FILE`: the production process — :class:`callcenter.app.Hotline` on the real reactor against Asterisk."""
from __future__ import annotations

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
    hotline = Hotline(reactor, args.cfg)
    outcome = {"code": 0}
    stopping = []

    def shutdown(*_):
        if not stopping:
            stopping.append(True)
            hotline.stop().addErrback(lambda f: print(f"callcenter serve: stop failed: {f.getErrorMessage()}",
                                                      file=sys.stderr)).addBoth(lambda _: reactor.stop())

    @defer.inlineCallbacks
    def main():
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
        print(f"serving on http://{args.cfg.get('web.host')}:{hotline.web_port.getHost().port}/ "
              f"(AMI {args.cfg.get('ami.host')}:{args.cfg.get('ami.port')})", flush=True)

    def on_signal(signum, frame):
        reactor.callFromThread(shutdown)

    reactor.callWhenRunning(main)
    reactor.callWhenRunning(lambda: signal.signal(signal.SIGINT, on_signal))
    reactor.callWhenRunning(lambda: signal.signal(signal.SIGTERM, on_signal))
    reactor.run(installSignalHandlers=False)
    return outcome["code"]
