"""PBX simulator throughput: full hotline calls per wall-clock second.

Each call dials in, answers an IVR prompt over AsyncAGI (the AGI action and
its events go through a real AMI session), is redirected to
``hotline-connect``, rings an agent phone, talks and hangs up — the same
work the simulator does in the demo and in end-to-end tests.  Time is a
``task.Clock`` advanced as fast as the CPU allows, so the figure is the
simulator's own cost (event building, serialising, dialplan), not sleeping.
"""
from __future__ import annotations

import os
import tempfile
import time


def add_arguments(parser) -> None:
    parser.add_argument("--calls", type=int, default=2000, help="calls to simulate (default 2000)")
    parser.add_argument("--agents", type=int, default=50, help="agent phones (default 50)")
    parser.add_argument("--rate", type=float, default=20.0, help="new calls per simulated second")


class HeapClock:
    """``IReactorTime`` on a heap: ``task.Clock`` re-sorts every call, which
    would dominate a run with thousands of timers."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self._heap: list = []
        self._seq = 0

    def seconds(self) -> float:
        return self.now

    def callLater(self, delay, fn, *args, **kw):
        from twisted.internet.base import DelayedCall

        call = DelayedCall(self.now + max(0.0, delay), fn, args, kw, lambda c: None, self._reset,
                           seconds=self.seconds)
        self._push(call)
        return call

    def _push(self, call) -> None:
        import heapq

        self._seq += 1
        heapq.heappush(self._heap, (call.getTime(), self._seq, call))

    def _reset(self, call) -> None:
        self._push(call)

    def getDelayedCalls(self):
        return [c for _, _, c in self._heap if c.active()]

    def run_next(self) -> bool:
        """Run the earliest pending call; False when nothing is left."""
        import heapq

        while self._heap:
            when, _, call = heapq.heappop(self._heap)
            if not call.active() or call.getTime() != when:
                continue
            self.now = max(self.now, when)
            call.called = 1
            call.func(*call.args, **call.kw)
            return True
        return False


class _Sink:
    """A transport that counts what the AMI session writes and keeps nothing."""

    def __init__(self) -> None:
        self.bytes = 0
        self.frames = 0
        self.disconnecting = False

    def write(self, data: bytes) -> None:
        self.bytes += len(data)
        self.frames += data.count(b"\r\n\r\n")

    def writeSequence(self, seq) -> None:
        for data in seq:
            self.write(data)

    def loseConnection(self) -> None:
        self.disconnecting = True

    def getHost(self):
        from twisted.internet.address import IPv4Address

        return IPv4Address("TCP", "127.0.0.1", 5038)

    getPeer = getHost


def run(args):
    import psutil
    from callcenter.pbxsim import CallerScript, PBXSimulator
    from callcenter.pbxsim.server import AMIServerFactory

    clock = HeapClock(1_795_421_285.0)
    sim = PBXSimulator(clock, spool_dir=tempfile.mkdtemp(prefix="bench-pbxsim-"))
    sim.prompt_seconds["bench/menu"] = 1.0
    for n in range(args.agents):
        sim.add_device(f"PJSIP/{1000 + n}", answer_after=1.0, talk_seconds=5.0)
    session = AMIServerFactory(sim).buildProtocol(None)
    sink = _Sink()
    session.makeConnection(sink)
    session.dataReceived(b"Action: Login\r\nUsername: hotline\r\nSecret: hotline-secret\r\nEvents: on\r\n\r\n")
    state = {"started": 0, "agent": 0, "ended": 0}

    def send(text: str) -> None:
        session.dataReceived(text.encode())

    def new_call():
        if state["started"] >= args.calls:
            return
        state["started"] += 1
        ch = sim.dial_in(f"139{state['started']:08d}", script=CallerScript(keys=["1"], key_delay=0.2))
        ch.on_hangup.append(lambda _c: state.__setitem__("ended", state["ended"] + 1))
        clock.callLater(0.2, ivr, ch)
        clock.callLater(1.0 / args.rate, new_call)

    def ivr(ch):
        if ch.agi is None:
            clock.callLater(0.1, ivr, ch)
            return
        send(f"Action: AGI\r\nChannel: {ch.name}\r\nCommand: GET DATA vm-enter-num-to-call 3000 1\r\nCommandID: m\r\n\r\n")
        clock.callLater(2.0, connect, ch)

    def connect(ch):
        device = f"PJSIP/{1000 + state['agent'] % args.agents}"
        state["agent"] += 1
        send(f"Action: Setvar\r\nChannel: {ch.name}\r\nVariable: AGENT_DEVICE\r\nValue: {device}\r\n\r\n"
             f"Action: Redirect\r\nChannel: {ch.name}\r\nContext: hotline-connect\r\nExten: s\r\nPriority: 1\r\n\r\n")
        clock.callLater(8.0, finish, ch)

    def finish(ch):
        if ch.agi is not None:
            send(f"Action: AGI\r\nChannel: {ch.name}\r\nCommand: HANGUP\r\nCommandID: h\r\n\r\n")
        elif not ch.hungup:
            sim.hangup(ch)

    proc = psutil.Process(os.getpid())
    rss_before = proc.memory_info().rss
    wall = time.perf_counter()
    cpu = time.process_time()
    new_call()
    sim_start = clock.seconds()
    limit = sim_start + args.calls / args.rate + 3600
    while clock.run_next() and clock.seconds() < limit:
        pass
    wall = time.perf_counter() - wall
    cpu = time.process_time() - cpu
    yield {
        "bench": "pbxsim",
        "calls": args.calls,
        "completed_calls": state["ended"],
        "simulated_seconds": round(clock.seconds() - sim_start, 1),
        "wall_seconds": round(wall, 3),
        "cpu_seconds": round(cpu, 3),
        "calls_per_second": round(args.calls / wall, 1),
        "ami_events": sink.frames,
        "ami_events_per_second": round(sink.frames / wall),
        "ami_bytes": sink.bytes,
        "speedup_vs_real_time": round((clock.seconds() - sim_start) / wall, 1),
        "rss_growth_mb": round((proc.memory_info().rss - rss_before) / 2**20, 1),
    }
