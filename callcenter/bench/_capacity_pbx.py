"""The PBX side of `callcenter bench capacity`, in its own process (so its CPU is not the controller's).

The PBX simulator on a loopback AMI port with ``--agents`` agent phones (``PJSIP/3000``…, answering
after ``--answer`` s) and citizens arriving as a Poisson process at each rate of ``--rates`` for
``--seconds`` each, once the controller writes ``go`` on stdin.  Each citizen presses 1 (Mandarin)
and 0 (operator) in the IVR, waits in the queue, talks ``--talk`` s once an agent answers and hangs up.
Lines on stdout (JSON): ``listening``, ``step`` at the start of each rate, ``step_end`` with the
callers that step offered (their numbers are ``139`` + a sequence number, ``first_seq``..``last_seq``, so
the controller can tell which of them reached an agent), ``done`` with the counts.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time


def _say(**record) -> None:
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def main(argv=None) -> int:
    from twisted.internet import reactor, stdio
    from twisted.protocols.basic import LineReceiver

    from callcenter.pbxsim import CallerScript, PBXSimulator

    p = argparse.ArgumentParser()
    p.add_argument("--agents", type=int, default=750)
    p.add_argument("--rates", default="36000")
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--talk", type=float, default=8.0)
    p.add_argument("--answer", type=float, default=1.0)
    p.add_argument("--sounds-dir", default=None)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second (prompts, talk)")
    args = p.parse_args(argv)
    rates = [float(r) for r in args.rates.split(",") if r]
    rnd = random.Random(args.seed)
    extra = {}
    import inspect

    if args.sounds_dir and "sounds_dir" in inspect.signature(PBXSimulator).parameters:
        extra["sounds_dir"] = args.sounds_dir
    sim = PBXSimulator(reactor, speed=args.speed, **extra)
    sim.calls_log_limit = 10
    for i in range(args.agents):
        sim.add_device(f"PJSIP/{3000 + i}", answer_after=args.answer)
    counts = {"offered": 0}
    seq = [0]
    firsts = []

    def arrive(until: float, rate: float):
        now = time.monotonic()
        if now >= until:
            return
        seq[0] += 1
        counts["offered"] += 1
        sim.dial_in(f"139{seq[0]:08d}", script=CallerScript(keys=["1", "0"], key_delay=0.3, talk_seconds=args.talk))
        reactor.callLater(rnd.expovariate(rate / 3600.0), arrive, until, rate)

    def run_steps(index: int = 0):
        if index:
            _say(event="step_end", index=index - 1, first_seq=firsts[-1], last_seq=seq[0],
                 offered=seq[0] - firsts[-1] + 1)
        firsts.append(seq[0] + 1)
        if index >= len(rates):
            reactor.callLater(args.talk + 30, finish)
            return
        rate = rates[index]
        _say(event="step", index=index, rate=rate, at=time.time())
        arrive(time.monotonic() + args.seconds, rate)
        reactor.callLater(args.seconds, run_steps, index + 1)

    def finish():
        _say(event="done", offered=counts["offered"], processed=getattr(sim, "processed_calls", None),
             live=len(sim.channels))
        reactor.stop()

    class Control(LineReceiver):
        delimiter = b"\n"

        def lineReceived(self, line):
            if line.strip() == b"go":
                run_steps()

    def listening(port):
        _say(event="listening", port=port.getHost().port)

    sim.listen(0).addCallback(listening)
    stdio.StandardIO(Control())
    reactor.run()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
