"""A simulated busy hour: synthetic callers through the PBX simulator and the ACD.

Poisson arrivals (default 2,300 calls/hour, a real district peak) dial the
hotline; a stand-in for the IVR hands each caller to the queue controller
(general or urgent desk); 60 scripted agent phones answer after 1-3 s;
callers talk for an exponential time and give up after an exponential
patience.  Simulator and controller share accelerated time (``speed``).

Reported: service level (answered within 15 s and 20 s, of all offered),
abandonment, average speed of answer, and the controller's CPU — thread CPU
time spent in the controller's side only (its AMI connection's reads and the
timers it schedules), not the simulator's.
"""
from __future__ import annotations

import random
import statistics
import time

from twisted.internet import defer, task
from twisted.internet.endpoints import TCP4ClientEndpoint

from callcenter.routing.acd import CallHandle, QueueController
from callcenter.routing.policy import Router
from callcenter.routing.skills import Agent, QueueRules, Relax
from callcenter.routing.timewarp import ScaledClock


class _MeteredClock(ScaledClock):
    """A ScaledClock that adds up the CPU time of the calls it schedules."""

    def __init__(self, reactor, speed: float) -> None:
        super().__init__(reactor, speed)
        self.cpu = 0.0

    def metered(self, fn):
        def run(*args, **kw):
            started = time.thread_time()
            try:
                return fn(*args, **kw)
            finally:
                self.cpu += time.thread_time() - started
        return run

    def callLater(self, delay, callable, *args, **kw):
        return super().callLater(delay, self.metered(callable), *args, **kw)


@defer.inlineCallbacks
def busy_hour(reactor, *, calls_per_hour: float = 2300, agents: int = 60, hours: float = 1.0,
              speed: float = 60.0, talk_mean: float = 70.0, wrap_up: float = 10.0, patience_mean: float = 120.0,
              urgent_share: float = 0.15, ring_timeout: float = 15.0, seed: int = 1):
    """Run the simulation; fires with a dict of results."""
    from callcenter.pbxsim.participants import CallerScript
    from callcenter.pbxsim.simulator import PBXSimulator
    from callcenter.ami.client import AMIClient
    from callcenter.ami.events import parse_agi_env

    import tempfile
    from pathlib import Path

    from twisted.internet import threads

    from ivr.sounds import build_sounds

    rnd = random.Random(seed)
    # the simulator plays only sounds that exist (as Asterisk): the queue announcements rendered first
    sounds = Path(tempfile.mkdtemp(prefix="busyhour-sounds-"))
    yield threads.deferToThread(build_sounds, sounds / "hotline")
    sim = PBXSimulator(reactor, speed=speed, sounds_dir=sounds)
    port = yield sim.listen(0)
    clock = _MeteredClock(reactor, speed)
    ami = AMIClient(TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port), "hotline", "hotline-secret",
                    clock=clock, resync=False, ping_interval=None)
    router = Router([
        QueueRules("hotline-general", "general", announce_every=30),
        QueueRules("hotline-urgent", "urgent", min_level=50, relax=(Relax(20, group="front"),), announce_every=20),
    ])
    acd = QueueController(ami, clock, router, ring_timeout=ring_timeout, wrap_up_seconds=wrap_up)
    urgent_desk = max(1, agents // 5)
    for i in range(agents):
        ext = str(3000 + i)
        skills = {"general": rnd.randint(40, 100)}
        if i < urgent_desk:
            skills["urgent"] = rnd.randint(60, 100)
        acd.add_agent(Agent(ext, skills, frozenset({"front"}), device=f"PJSIP/{ext}"))
        sim.add_device(f"PJSIP/{ext}", answer_after=rnd.uniform(1.0, 3.0))

    enqueued: dict[str, float] = {}
    answered: dict[str, float] = {}
    abandoned: dict[str, float] = {}

    def on_call(kind, data):
        if kind != "call":
            return
        cid, state = data["call_id"], data.get("state")
        if state == "queued":
            enqueued.setdefault(cid, clock.seconds())
        elif state == "connected" and cid not in answered:
            answered[cid] = clock.seconds()
        elif state == "abandoned":
            abandoned[cid] = clock.seconds()

    acd.add_listener(on_call)
    queue_of = {"12345": ("hotline-general", "general"), "12399": ("hotline-urgent", "urgent")}

    def ivr(message):
        env = parse_agi_env(message.get("Env"))
        if env.get("agi_arg_1") == "ivr":
            queue, skill = queue_of.get(env.get("agi_extension"), queue_of["12345"])
            acd.enqueue(CallHandle(message.get("Uniqueid"), message.get("Channel"), env.get("agi_callerid", "")),
                        queue, skill, 10 if skill == "urgent" else 0)

    ami.subscribe(clock.metered(ivr), names=("AsyncAGIStart",))
    ami.start()
    yield ami.when_connected()
    proto = ami.protocol
    proto.dataReceived = clock.metered(proto.dataReceived)
    acd.startService()
    for a in list(acd.sessions):
        acd.agent_login(a)
        acd.agent_ready(a)

    duration = hours * 3600.0
    started_sim, started_wall = clock.seconds(), time.monotonic()
    state = {"calls": 0, "lag": 0.0}
    # reactor lag: how late a 50 ms heartbeat fires (the simulation is only
    # faithful while the machine keeps up with the accelerated time)
    last = [reactor.seconds()]

    def heartbeat():
        now = reactor.seconds()
        state["lag"] = max(state["lag"], now - last[0] - 0.05)
        last[0] = now

    beat = task.LoopingCall(heartbeat)
    beat.clock = reactor
    beat.start(0.05, now=False)

    # Arrivals keep to a schedule in simulated time, so reactor latency delays
    # single calls but never thins the offered load.
    next_at = [started_sim]

    def arrive():
        if next_at[0] - started_sim >= duration:
            return
        state["calls"] += 1
        urgent = rnd.random() < urgent_share
        script = CallerScript(patience=rnd.expovariate(1 / patience_mean),
                              talk_seconds=5 + rnd.expovariate(1 / max(1.0, talk_mean - 5)))
        sim.dial_in(f"139{state['calls']:08d}", exten="12399" if urgent else "12345", script=script)
        next_at[0] += rnd.expovariate(calls_per_hour / 3600.0)
        # the world's timer, not the controller's: not metered
        reactor.callLater(max(0.0, next_at[0] - clock.seconds()) / speed, arrive)

    next_at[0] += rnd.expovariate(calls_per_hour / 3600.0)
    reactor.callLater(max(0.0, next_at[0] - clock.seconds()) / speed, arrive)
    while clock.seconds() - started_sim < duration:
        yield task.deferLater(reactor, 0.2, lambda: None)
    drain_until = clock.seconds() + 600
    while (router.waiting_count() or len(answered) + len(abandoned) < len(enqueued)) and clock.seconds() < drain_until:
        yield task.deferLater(reactor, 0.2, lambda: None)
    wall = time.monotonic() - started_wall
    beat.stop()
    yield acd.stopService()
    yield ami.stop()
    yield port.stopListening()

    waits = [answered[c] - enqueued[c] for c in answered if c in enqueued]
    offered = len(enqueued)
    within = lambda s: sum(1 for w in waits if w <= s)  # noqa: E731
    return {
        "bench": "routing", "decision": "busy_hour", "calls_per_hour": calls_per_hour, "agents": agents,
        "sim_hours": hours, "speed": speed, "talk_mean_s": talk_mean, "wrap_up_s": wrap_up,
        "patience_mean_s": patience_mean, "offered": offered, "answered": len(waits),
        "abandoned": len(abandoned),
        "service_level_15s": round(within(15) / offered, 4) if offered else None,
        "service_level_20s": round(within(20) / offered, 4) if offered else None,
        "abandon_rate": round(len(abandoned) / offered, 4) if offered else None,
        "asa_s": round(statistics.fmean(waits), 2) if waits else None,
        "max_wait_s": round(max(waits), 1) if waits else None,
        "no_answer_rings": acd.stats["no_answer"],
        "controller_cpu_s": round(clock.cpu, 3),
        "controller_cpu_ms_per_call": round(clock.cpu * 1000 / offered, 3) if offered else None,
        "controller_cpu_pct_of_core": round(100 * clock.cpu / wall, 1) if wall else None,
        "wall_s": round(wall, 1), "max_reactor_lag_ms": round(state["lag"] * 1000, 1),
    }
