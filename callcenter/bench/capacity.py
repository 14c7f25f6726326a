"""Capacity of one controller process: the highest call rate it sustains (IVR + ACD + tracking + orders).

The controller is the production composition root (:class:`callcenter.app.Hotline`, as `serve`
builds it: AMI client with call tracking, IVR runner, ACD, adoption, workers, web) on SQLite in
this process; the PBX simulator with ``--agents`` phones and the callers runs in a child process
(:mod:`callcenter.bench._capacity_pbx`) and talks AMI over loopback TCP.  Callers arrive as a
Poisson process at each rate of ``--rates`` (calls/hour) for ``--seconds``; each goes through the IVR
(welcome, language key, operator key), the queue, rings an agent who answers after 1 s, talks
``--talk`` s (the simulator runs ``--pbx-speed`` times faster than real time, so prompts and talk
are shorter in real time; the controller's own timers run in real time); at the end of each call the agent files a work order (created in the controller's
thread pool, as the desk would).

Per rate (measured over the step, this process only): calls/hour reaching an agent, CPU-milliseconds
per call and the share of one core (user+system time of all the controller's threads), peak RSS,
event → routing decision latency (from the read of the AMI data, or the due time of the timer, that
led to the decision to the Redirect being sent; p50/p99/max), reactor lag (a 50 ms probe; p99/max),
the reactor thread's own CPU, and with ``--profile`` where the reactor thread's busy time goes
(cProfile's own time per function, grouped by package; profiling slows the thread, so run it apart
from the figures).  A rate is *sustained*
when decision p99 ≤ 50 ms, reactor lag max ≤ 100 ms and ≥ 98 % of the calls offered in the step
reached an agent.
"""
from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from twisted.internet import defer, protocol, task


def add_arguments(p) -> None:
    p.add_argument("--rates", default="36000,72000,108000,144000", help="calls/hour, one step each")
    p.add_argument("--seconds", type=float, default=60.0, help="length of each step")
    p.add_argument("--agents", type=int, default=750)
    p.add_argument("--talk", type=float, default=8.0, help="seconds each caller talks")
    p.add_argument("--dir", default=None, help="working directory (default: a temporary one)")
    p.add_argument("--profile", action="store_true",
                   help="sample the reactor thread every 2 ms to say where its time goes (costs some CPU itself)")
    p.add_argument("--pbx-speed", type=float, default=4.0,
                   help="the simulator's speed: prompts (13 s of welcome) and talk pass this much faster, so a "
                        "step reaches its steady state sooner; the controller runs in real time")


def _pct(values, q):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


class _Sampler(threading.Thread):
    """Every 2 ms, which package the reactor thread is in (the innermost frame of ours or a library's)."""

    GROUPS = (("callcenter/ami/", "ami (framing, parsing, dispatch)"), ("callcenter/calls/", "call tracking"),
              ("ivr/", "ivr"), ("callcenter/routing/", "acd (routing)"), ("callcenter/failover/", "adoption"),
              ("ticketing/", "work orders"), ("sqlalchemy/", "sqlalchemy"), ("callcenter/", "callcenter other"),
              ("twisted/internet/epollreactor", "reactor (epoll wait / io)"), ("twisted/", "twisted"),
              ("/json/", "json"), ("logging/", "logging"))

    def __init__(self, thread_id):
        super().__init__(daemon=True)
        self.thread_id = thread_id
        self.counts = Counter()
        self.running = True

    def run(self):
        while self.running:
            frame = sys._current_frames().get(self.thread_id)
            label = "other"
            while frame is not None:
                path = frame.f_code.co_filename.replace("\\", "/")
                found = next((name for key, name in self.GROUPS if key in path), None)
                if found:
                    label = found
                    break
                frame = frame.f_back
            self.counts[label] += 1
            time.sleep(0.002)


class _Pbx(protocol.ProcessProtocol):
    def __init__(self):
        self.buffer = b""
        self.records = []
        self.waiters = []
        self.ended = defer.Deferred()

    def outReceived(self, data):
        self.buffer += data
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            try:
                record = json.loads(line)
            except ValueError:
                continue
            self.records.append(record)
            for predicate, d in list(self.waiters):
                if predicate(record):
                    self.waiters.remove((predicate, d))
                    d.callback(record)

    def wait_for(self, predicate):
        for record in self.records:
            if predicate(record):
                return defer.succeed(record)
        d = defer.Deferred()
        self.waiters.append((predicate, d))
        return d

    def processEnded(self, reason):
        self.ended.callback(None)


def run(args):
    from twisted.internet import reactor

    results = []

    def main():
        d = defer.ensureDeferred(_bench(reactor, args, results))
        d.addErrback(lambda f: results.append({"error": f.getErrorMessage(), "trace": f.getTraceback()[-2000:]}))
        d.addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(main)
    reactor.run()
    yield from results


async def _bench(reactor, args, out):
    from sqlalchemy import insert

    from callcenter.app import Hotline
    from callcenter.config import load_config
    from callcenter.db import make_engine, upgrade
    from callcenter.routing.store import agent_state_log
    from ticketing.service import Actor

    work = Path(args.dir or tempfile.mkdtemp(prefix="bench-capacity-"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / "hotline.sqlite3"
    if db.exists():
        db.unlink()
    url = f"sqlite:///{db}"
    upgrade(url)
    prompts = work / "prompts"
    subprocess.run([sys.executable, "-m", "callcenter.cli", "ivr", "prompts", "build", "--out", str(prompts)],
                   check=True, capture_output=True)
    sounds = work / "asterisk-sounds"
    sounds.mkdir(exist_ok=True)
    if not (sounds / "hotline").exists():
        (sounds / "hotline").symlink_to(prompts)
    agents = [{"id": f"a{i}", "device": f"PJSIP/{3000 + i}", "skills": {"general": 80, "urgent": 80}}
              for i in range(args.agents)]
    engine = make_engine(url)
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:  # agents were ready before the controller started (restored from the log)
        conn.execute(insert(agent_state_log), [dict(agent_id=a["id"], from_state="paused", to_state="ready",
                                                    event="ready", reason="", call_id="", at=now) for a in agents])
    engine.dispose()

    pbx = _Pbx()
    proc = reactor.spawnProcess(pbx, sys.executable, [
        sys.executable, "-m", "callcenter.bench._capacity_pbx", "--agents", str(args.agents), "--rates", args.rates,
        "--seconds", str(args.seconds), "--talk", str(args.talk), "--sounds-dir", str(sounds),
        "--speed", str(args.pbx_speed)],
        env=dict(os.environ), path=os.getcwd())
    port = (await pbx.wait_for(lambda r: r.get("event") == "listening"))["port"]

    config = load_config(None, environ={}).with_overrides({
        "database.url": url, "web.port": 0, "web.secret_key": "b" * 64, "ami.port": port,
        "ami.ping_interval": 20.0, "asr.model": "off", "asr.audiosocket_port": 0,
        "ivr.sounds_dir": str(prompts), "ivr.pbx_sounds_dir": "hotline", "ivr.recordings_dir": str(work / "rec"),
        "search.path": str(work / "search.sqlite3"), "routing.agents": agents, "routing.wrap_up_seconds": 2,
        "logging.level": "WARNING"})
    import logging

    logging.getLogger().setLevel(logging.WARNING)
    ivr_done = Counter()
    hotline = Hotline(reactor, config, speech=False, on_finished=lambda call: ivr_done.update([call.outcome]))
    await hotline.start()
    from callcenter.runtime import parse_gc_threshold, tune_gc

    tune_gc(parse_gc_threshold(config.get("runtime.gc_threshold")))  # as serve does once started
    hotline.runner.is_open = lambda now: True
    await hotline.ami.when_connected()
    while hotline.adoption.rounds < 1:
        await task.deferLater(reactor, 0.1, lambda: None)
    acd = hotline.acd
    ready = sum(1 for s in acd.sessions.values() if s.state.value == "ready")

    # decisions: the ACD's connect, timed from the read or timer that led to it
    decisions = []
    turn = {"start": None}
    proto_read = type(hotline.ami.protocol).dataReceived

    def timed_read(self, data):
        turn["start"] = time.perf_counter()
        try:
            return proto_read(self, data)
        finally:
            turn["start"] = None

    type(hotline.ami.protocol).dataReceived = timed_read
    connect = acd._connect

    def timed_connect(match):
        started = turn["start"]
        result = connect(match)
        if started is not None:
            decisions.append(time.perf_counter() - started)
        return result

    acd._connect = timed_connect
    lags = []
    last = {"t": time.perf_counter()}

    def probe():
        t = time.perf_counter()
        lags.append(max(0.0, t - last["t"] - 0.05))
        last["t"] = t

    prober = task.LoopingCall(probe)
    prober.start(0.05, now=True)

    orders = Counter()
    actor = Actor("bench-agent", "agent")
    fields = {"type": "complaint", "category": "street-vending", "district": "haishu", "summary": "路边占道经营",
              "description": "每天傍晚占用人行道。", "channel": "phone"}

    def file_order(call_id):
        try:
            hotline.workorders.create(dict(fields, call_ids=[call_id]), actor, datetime.now(timezone.utc),
                                      idempotency_key=f"bench:{call_id}")
            orders["filed"] += 1
        except Exception as exc:  # noqa: BLE001 - counted, the run goes on
            orders[f"failed:{type(exc).__name__}"] += 1

    def on_acd(kind, data):
        if kind == "call" and data.get("state") == "ended":
            reactor.getThreadPool().callInThread(file_order, data.get("call_id"))

    acd.add_listener(on_acd)
    sampler = _Sampler(threading.get_ident())  # the groups; with --profile cProfile does the counting
    reactor_clock = time.pthread_getcpuclockid(threading.get_ident())
    rates = [float(r) for r in args.rates.split(",") if r]
    pbx.transport.write(b"go\n")
    for index, rate in enumerate(rates):
        await pbx.wait_for(lambda r, i=index: r.get("event") == "step" and r.get("index") == i)
        decisions.clear()
        lags.clear()
        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        answered0 = acd.stats["answered"]
        orders0 = orders["filed"]
        usage0 = resource.getrusage(resource.RUSAGE_SELF)
        reactor_cpu0 = time.clock_gettime(reactor_clock)
        wall0 = time.perf_counter()
        await task.deferLater(reactor, args.seconds, lambda: None)
        usage1 = resource.getrusage(resource.RUSAGE_SELF)
        where = None
        if profiler is not None:
            profiler.disable()
            where = _where(profiler, sampler.GROUPS)
        reactor_cpu = time.clock_gettime(reactor_clock) - reactor_cpu0
        wall = time.perf_counter() - wall0
        cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
        answered = acd.stats["answered"] - answered0
        offered = rate * args.seconds / 3600.0
        record = {
            "bench": "capacity", "rate_offered_per_hour": rate, "agents": args.agents, "agents_ready_at_start": ready,
            "seconds": round(wall, 1), "answered": answered,
            "answered_per_hour": round(answered * 3600 / wall), "orders_filed": orders["filed"] - orders0,
            "cpu_seconds": round(cpu, 2), "core_share": round(cpu / wall, 3),
            "cpu_ms_per_call": round(1000 * cpu / answered, 2) if answered else None,
            "reactor_thread_cpu_ms_per_call": round(1000 * reactor_cpu / answered, 2) if answered else None,
            "reactor_thread_core_share": round(reactor_cpu / wall, 3),
            "rss_mb_peak": round(usage1.ru_maxrss / 1024, 1),
            "decision_ms": {"n": len(decisions), "p50": _ms(_pct(decisions, 0.5)), "p99": _ms(_pct(decisions, 0.99)),
                            "max": _ms(max(decisions) if decisions else None)},
            "reactor_lag_ms": {"p99": _ms(_pct(lags, 0.99)), "max": _ms(max(lags) if lags else None)},
            "reactor_thread_profile": where,
            "ivr_outcomes": dict(ivr_done), "waiting_in_queue_at_end": acd.waiting(),
            "load_average": os.getloadavg()[0],
        }
        # keeping up: the decisions and the reactor in bounds, the offered calls reaching agents, no queue
        record["sustained"] = bool(
            decisions and _pct(decisions, 0.99) <= 0.050 and lags and max(lags) <= 0.100
            and answered >= 0.85 * offered and acd.waiting() < 10)
        out.append(record)
    prober.stop()
    out.append({"bench": "capacity", "summary": True,
                "highest_sustained_per_hour": max((r["answered_per_hour"] for r in out
                                                   if r.get("sustained")), default=None),
                "orders": dict(orders), "cpu_count": os.cpu_count()})
    await pbx.ended
    await hotline.stop()


def _where(profiler, groups) -> dict:
    """Share of the reactor thread's profiled own time (tottime) by package group."""
    import pstats

    stats = pstats.Stats(profiler).stats
    by_group = Counter()
    for (filename, _, function), (_, _, tottime, _, _) in stats.items():
        path = filename.replace("\\", "/")
        if path == "~":  # a built-in: the epoll wait is idle time, the rest is python's own work
            label = "reactor (epoll wait / io)" if "epoll" in function else "python built-ins"
        else:
            label = next((name for key, name in groups if key in path), "python / other")
        by_group[label] += tottime
    busy = {k: v for k, v in by_group.items() if not k.startswith("reactor (epoll")}
    total = sum(busy.values()) or 1.0
    return {k: round(v / total, 3) for k, v in sorted(busy.items(), key=lambda kv: -kv[1])}


def _ms(seconds):
    return None if seconds is None else round(seconds * 1000, 2)
