"""IVR cost: pure engine steps, and concurrent callers through the runner over AMI.

Part ``engine``: N calls stepped through the shipped hotline flow with random
keys (no I/O); reports steps per second and p50/p99 microseconds per step.
Part ``calls``: the PBX simulator on loopback TCP runs the hotline dialplan,
``--concurrent`` scripted callers at a time press keys to a queue, the real
AMI client and the runner serve them; reports calls per second, AGI commands
per second and the IVR's own latency per AGI round trip (time in the
simulator is accelerated by ``--speed``, so the figures are the controller's).
"""
from __future__ import annotations

import random
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ivr.engine import Digits, Engine, Recorded, Result, Timeout
from ivr.library import FlowLibrary
from ivr.prompts import OrderStatus

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)


def add_arguments(parser) -> None:
    parser.add_argument("--part", choices=("all", "engine", "calls"), default="all")
    parser.add_argument("--engine-calls", type=int, default=20000, help="calls stepped by the pure engine")
    parser.add_argument("--calls", type=int, default=300, help="callers through the simulator (default 300)")
    parser.add_argument("--concurrent", type=int, default=50, help="callers in the IVR at once (default 50)")
    parser.add_argument("--speed", type=float, default=50.0, help="simulator time acceleration (default 50)")
    parser.add_argument("--seed", type=int, default=4)


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else 0.0


def _event_for(command, rnd: random.Random):
    name = type(command).__name__
    if name == "CollectDigits":
        if command.max_digits > 1:
            return Digits("2026112300001") if rnd.random() < 0.8 else Digits("123")
        return Digits(rnd.choice("0123456789#")) if rnd.random() < 0.9 else Timeout()
    if name == "Record":
        return Recorded("/tmp/x.wav", 12.0)
    if name == "Lookup":
        return Result(OrderStatus(command.order_number, "in_progress", T0 + timedelta(days=3)))
    if name in ("RequestCallback",):
        return Result(True)
    if name == "Understand":
        return Result(rnd.choice([{"understood": True, "urgency": "urgent"}, {"understood": True, "urgency": "normal"},
                                  {"understood": False}, None]))
    if name == "Speech":
        return Result(rnd.choice(["停水了", "查询工单", "", "人工服务"]) or None)
    return None


def bench_engine(calls: int, seed: int) -> dict:
    flow = FlowLibrary().get("ivr")
    rnd = random.Random(seed)
    engines = [Engine(flow, lambda now: True), Engine(flow, lambda now: False)]
    latencies, steps, unfinished = [], 0, 0
    started = time.perf_counter()
    for i in range(calls):
        engine = engines[i % 10 == 0]
        t = time.perf_counter()
        state, commands = engine.start("13800001234", T0)
        latencies.append(time.perf_counter() - t)
        steps += 1
        while not state.done:
            event = next((e for e in (_event_for(c, rnd) for c in commands) if e is not None), None)
            if event is None:
                unfinished += 1
                break
            t = time.perf_counter()
            state, commands = engine.step(state, event, T0)
            latencies.append(time.perf_counter() - t)
            steps += 1
    elapsed = time.perf_counter() - started
    return {"bench": "ivr", "part": "engine", "calls": calls, "steps": steps, "unfinished": unfinished,
            "steps_per_s": round(steps / elapsed), "step_us_p50": round(_pct(latencies, 50) * 1e6, 1),
            "step_us_p99": round(_pct(latencies, 99) * 1e6, 1)}


def bench_calls(calls: int, concurrent: int, speed: float) -> dict:
    from twisted.internet import defer, reactor, threads
    from twisted.internet.endpoints import TCP4ClientEndpoint

    from callcenter.ami.client import AMIClient
    from callcenter.pbxsim.participants import CallerScript
    from callcenter.pbxsim.simulator import PBXSimulator
    from ivr.runner import IvrRunner

    out: dict = {}
    tmp = Path(tempfile.mkdtemp(prefix="bench-ivr-"))

    @defer.inlineCallbacks
    def main(_reactor):
        # the simulator plays only sounds that exist (as Asterisk): every prompt rendered first, untimed
        from ivr.sounds import build_sounds

        yield threads.deferToThread(build_sounds, tmp / "asterisk-sounds" / "hotline")
        sim = PBXSimulator(reactor, speed=speed, spool_dir=tmp / "spool", sounds_dir=tmp / "asterisk-sounds")
        port = yield sim.listen(0)
        client = AMIClient(TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port), "hotline",
                           "hotline-secret", clock=reactor, resync=False, ping_interval=None)
        client.start()
        yield client.when_connected()
        sent = {"n": 0}
        real_agi = client.agi

        def timed_agi(*args, **kw):
            sent["n"] += 1
            return real_agi(*args, **kw)

        client.agi = timed_agi
        finished: list = []
        waiters: list = []

        def on_finished(call):
            finished.append(call)
            if waiters:
                waiters.pop(0).callback(None)

        runner = IvrRunner(client, FlowLibrary(), clock=reactor, sounds_dir=tmp / "asterisk-sounds" / "hotline",
                           recordings_dir=tmp / "rec", on_finished=on_finished)
        runner.start()
        started = time.perf_counter()
        placed = 0
        in_flight = 0
        rnd = random.Random(7)
        while len(finished) < calls:
            while placed < calls and in_flight < concurrent:
                keys = [rnd.choice("12"), rnd.choice("130")]
                sim.dial_in(f"138{placed:08d}", "12345", script=CallerScript(keys=keys, key_delay=0.1))
                placed += 1
                in_flight += 1
            d = defer.Deferred()
            waiters.append(d)
            yield d
            in_flight -= 1
        elapsed = time.perf_counter() - started
        wrong = sum(1 for c in finished if c.outcome != "transfer")
        out.update({"bench": "ivr", "part": "calls", "calls": calls, "concurrent": concurrent, "speed": speed,
                    "calls_per_s": round(calls / elapsed, 1), "agi_commands": sent["n"],
                    "agi_per_s": round(sent["n"] / elapsed), "not_transferred": wrong,
                    "ivr_wall_seconds_p50": round(_pct([(c.ended_at - c.started_at).total_seconds()
                                                   for c in finished], 50), 3)})
        runner.stop()
        for ch in list(sim.channels.values()):
            if not ch.hungup:
                sim.hangup(ch, 16)
        yield client.stop()
        yield port.stopListening()

    _run_reactor(main)
    return out


def _run_reactor(main) -> None:
    """Run ``main(reactor)`` to completion on the global reactor (a CLI process runs it once)."""
    from twisted.internet import reactor

    errors = []

    def go():
        d = main(reactor)
        d.addErrback(errors.append)
        d.addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(go)
    reactor.run()
    if errors:
        errors[0].raiseException()


def run(args):
    if args.part in ("all", "engine"):
        yield bench_engine(args.engine_calls, args.seed)
    if args.part in ("all", "calls"):
        yield bench_calls(args.calls, args.concurrent, args.speed)
