"""Routing decision latency (caller arriving / agent becoming ready) at scale.

Builds a router with N waiting callers, M agents and K skills (default
1,000 × 500 × 20), then runs a steady state: a busy agent becomes ready and
takes the best caller (timed), a new caller arrives (timed).  Reports p50, p99
and max per decision kind in microseconds.  Then a simulated busy hour through
the PBX simulator and the queue controller (see
:mod:`callcenter.routing.busyhour`); ``--part`` picks one of the two.
"""
from __future__ import annotations

import gc
import random
import time
from datetime import datetime, timedelta, timezone

from callcenter.routing.policy import Router
from callcenter.routing.skills import Agent, Caller, QueueRules, Relax

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


def add_arguments(parser) -> None:
    parser.add_argument("--waiting", type=int, default=1000, help="callers waiting (default 1000)")
    parser.add_argument("--agents", type=int, default=500, help="agents (default 500)")
    parser.add_argument("--skills", type=int, default=20, help="skills / queues (default 20)")
    parser.add_argument("--decisions", type=int, default=20000, help="timed decisions of each kind")
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--part", choices=("all", "decisions", "busy-hour"), default="all",
                        help="decision latency, the simulated busy hour, or both (default)")
    parser.add_argument("--calls-per-hour", type=float, default=2300)
    parser.add_argument("--busy-agents", type=int, default=60, help="agents in the busy hour (default 60)")
    parser.add_argument("--hours", type=float, default=1.0, help="simulated hours (default 1)")
    parser.add_argument("--speed", type=float, default=60.0, help="time acceleration (default 60: an hour a minute)")
    parser.add_argument("--talk-mean", type=float, default=70.0, help="mean talk seconds")
    parser.add_argument("--wrap-up", type=float, default=10.0, help="wrap-up seconds")
    parser.add_argument("--patience-mean", type=float, default=120.0, help="mean seconds a caller waits")


def _percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return 0.0
    i = min(len(sorted_values) - 1, int(round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[i]


def build(waiting: int, agents: int, skills: int, seed: int):
    """A loaded router: every agent busy, ``waiting`` callers spread over the skills."""
    rnd = random.Random(seed)
    names = [f"skill{i:02d}" for i in range(skills)]
    queues = [QueueRules(f"q{i:02d}", s, min_level=60, relax=(Relax(60, min_level=30), Relax(120, group="backup")),
                         max_wait=600, overflow_to=None) for i, s in enumerate(names)]
    router = Router(queues)
    pool = []
    for i in range(agents):
        own = rnd.sample(names, rnd.randint(min(2, skills), min(5, skills)))
        groups = frozenset({"backup"}) if i % 10 == 0 else frozenset({"front"})
        agent = Agent(f"agent{i:04d}", {s: rnd.randint(20, 100) for s in own}, groups=groups)
        router.add_agent(agent)
        router.agent_busy(agent.agent_id)
        pool.append(agent.agent_id)
    for n in range(waiting):
        q = rnd.choice(queues)
        t = T0 + timedelta(seconds=rnd.uniform(0, 300))
        router.enqueue(Caller(f"w{n}", q.name, q.skill, rnd.choice((0, 0, 0, 2, 3, 10)), t), t)
    return router, queues, pool, rnd


def run(args):
    if args.part in ("all", "decisions"):
        yield from decisions(args)
    if args.part in ("all", "busy-hour"):
        yield run_busy_hour(args)


def run_busy_hour(args) -> dict:
    """Run the simulated busy hour on the global reactor (the CLI's process owns it)."""
    from twisted.internet import reactor

    from callcenter.routing.busyhour import busy_hour

    out: dict = {}

    def start():
        d = busy_hour(reactor, calls_per_hour=args.calls_per_hour, agents=args.busy_agents, hours=args.hours,
                      speed=args.speed, talk_mean=args.talk_mean, wrap_up=args.wrap_up,
                      patience_mean=args.patience_mean, seed=args.seed)
        d.addCallback(out.update)
        d.addErrback(lambda f: out.update(error=str(f.value)))
        d.addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(start)
    reactor.run()
    return out


def decisions(args):
    router, queues, busy, rnd = build(args.waiting, args.agents, args.skills, args.seed)
    now = T0 + timedelta(seconds=300)
    ready_times, arrive_times = [], []
    matched_ready = matched_arrive = 0
    busy_set = list(busy)
    gc.disable()
    try:
        for n in range(args.decisions):
            now += timedelta(milliseconds=50)
            # An agent finishes a call.
            aid = busy_set[rnd.randrange(len(busy_set))]
            t0 = time.perf_counter()
            match = router.agent_ready(aid, now)
            ready_times.append(time.perf_counter() - t0)
            if match is not None:
                matched_ready += 1
                router.agent_busy(aid)
            else:
                busy_set.remove(aid)
            # A caller arrives (keeps the waiting count steady when one was served).
            q = queues[rnd.randrange(len(queues))]
            caller = Caller(f"n{n}", q.name, q.skill, rnd.choice((0, 0, 0, 2, 3, 10)), now)
            t0 = time.perf_counter()
            match = router.enqueue(caller, now)
            arrive_times.append(time.perf_counter() - t0)
            if match is not None:
                matched_arrive += 1
                router.agent_busy(match.agent.agent_id)
                busy_set.append(match.agent.agent_id)
            if not busy_set:
                break
            if router.waiting_count() > args.waiting:
                # keep the load steady: the oldest lowest-priority caller gives up
                router.abandon(next(router.waiting_calls()))
    finally:
        gc.enable()
    # Quiet hour: no one waiting, every agent ready; each arriving caller is
    # matched at once against the full ready index (then the agent is freed).
    quiet, queues, pool, rnd = build(0, args.agents, args.skills, args.seed + 1)
    for aid in pool:
        quiet.agent_ready(aid, now)
    free_times, matched_free = [], 0
    gc.disable()
    try:
        for n in range(args.decisions):
            now += timedelta(milliseconds=50)
            q = queues[rnd.randrange(len(queues))]
            caller = Caller(f"f{n}", q.name, q.skill, 0, now)
            t0 = time.perf_counter()
            match = quiet.enqueue(caller, now)
            free_times.append(time.perf_counter() - t0)
            if match is not None:
                matched_free += 1
                quiet.agent_ready(match.agent.agent_id, now)
            else:
                quiet.abandon(caller.call_id)
    finally:
        gc.enable()
    for kind, times, matched in (("agent_ready", ready_times, matched_ready),
                                 ("caller_arrival", arrive_times, matched_arrive),
                                 ("caller_arrival_agents_free", free_times, matched_free)):
        times.sort()
        yield {
            "bench": "routing", "decision": kind,
            "waiting": 0 if kind == "caller_arrival_agents_free" else args.waiting, "agents": args.agents,
            "skills": args.skills, "decisions": len(times), "matched": matched,
            "p50_us": round(_percentile(times, 50) * 1e6, 1),
            "p99_us": round(_percentile(times, 99) * 1e6, 1),
            "max_us": round(times[-1] * 1e6, 1) if times else 0.0,
        }
