"""Running the demo on the global reactor: start, run for a span or until Ctrl-C, summarise."""
from __future__ import annotations

import json
import signal

from twisted.internet import defer

from callcenter.errors import HotlineError


class DemoError(HotlineError):
    """Options the demo cannot run with (``error_id`` demo.bad_option)."""

    error_id = "demo.bad_option"


def check(options) -> None:
    problems = []
    if options.minutes is not None and not 0 < options.minutes <= 24 * 60:
        problems.append("--minutes must be between 0 and 1440 / 分钟数须在 0–1440 之间")
    if not 0 < options.speed <= 600:
        problems.append("--speed must be between 0 and 600 / 倍速须在 0–600 之间")
    if not 0 < options.rate <= 20000:
        problems.append("--rate must be between 0 and 20000 calls per hour / 来电率须在 0–20000 之间")
    if not 1 <= options.agents <= 200:
        problems.append("--agents must be between 1 and 200 / 坐席数须在 1–200 之间")
    if not 0 <= options.port <= 65535 or not 0 <= options.ami_port <= 65535:
        problems.append("ports must be 0-65535 / 端口须在 0–65535 之间")
    if problems:
        raise DemoError("; ".join(problems))


def run_demo(config, options) -> int:
    """Run until the span ends or SIGINT/SIGTERM; print the summary as one JSON line."""
    from twisted.internet import reactor

    from callcenter.demo.world import DemoWorld
    from callcenter.config import ConfigError
    from callcenter.runtime import parse_gc_threshold, tune_gc

    check(options)
    try:
        gc_threshold = parse_gc_threshold(config.get("runtime.gc_threshold"))
    except ConfigError as exc:
        raise DemoError(str(exc)) from None
    world = DemoWorld(reactor, config, options)
    outcome = {"code": 0}
    stopping = []

    def finish(result):
        print(json.dumps(result, ensure_ascii=False, sort_keys=True), flush=True)

    def failed(failure):
        outcome["code"] = 1
        print(f"callcenter demo: failed: {failure.getErrorMessage()}", flush=True)

    def shutdown(*_):
        if stopping:
            return stopping[0]
        print("stopping: finishing in-flight work … / 正在停止", flush=True)
        d = world.stop()
        d.addCallbacks(finish, failed)
        d.addBoth(lambda _: reactor.stop())
        stopping.append(d)
        return d

    @defer.inlineCallbacks
    def main():
        try:
            yield world.start()
        except Exception as exc:
            print(f"callcenter demo: could not start: {exc}", flush=True)
            outcome["code"] = 1
            try:
                yield world.abandon()
            finally:
                reactor.stop()
            return
        tune_gc(gc_threshold)
        if options.minutes is not None:
            reactor.callLater(options.minutes * 60, shutdown)

    def on_signal(signum, frame):
        reactor.callFromThread(shutdown)

    reactor.callWhenRunning(main)
    reactor.callWhenRunning(lambda: signal.signal(signal.SIGINT, on_signal))
    reactor.callWhenRunning(lambda: signal.signal(signal.SIGTERM, on_signal))
    reactor.run(installSignalHandlers=False)
    return outcome["code"]
