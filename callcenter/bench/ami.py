"""AMI client throughput and Ping latency vs the peers asterisk-ami and panoramisk.

A loopback replay server (a subprocess speaking AMI: greeting, login, Ping,
empty resync lists) streams realistic hotline events — VarSet 33%, Newstate
13%, DTMFEnd 12%, Newchannel/BridgeEnter/Hangup 8% each, Queue/Dial/Agent
events for the rest; Chinese names; ~500 bytes and ~20 headers each — while
the client under test keeps exactly one Ping outstanding.  Every client runs
in its own subprocess (so RSS is its own), against its own server, in the
same run.  Then a paced run (default 20k events/s) measures our CPU share and
Ping p99 with a keepalive-like Ping every ``--paced-ping-ms`` (default 10 ms,
500x the production keepalive rate), and once more with one Ping always
outstanding, which at a sub-millisecond round trip is a flood of several
thousand Pings a second: reported too, so the cost of the flood is visible.
The paced run uses the client as configured (reads coalesced, see
``AMIProtocol.read_coalesce``) and once more reading at once, the other end
of the CPU/latency trade.  Burst runs are repeated in interleaved rounds
(``--repeat``) and the ratios use each client's median run.

Our client is measured three ways: ``parse`` (framing + lazy messages, no
subscriber), ``dispatch`` (one subscriber), ``track`` (the real
:class:`~callcenter.ami.client.AMIClient` with MD5 login, resync and a
:class:`~callcenter.calls.CallTracker` applying every event).  Peers are
measured with an event callback (``dispatch``); with ``--peer-tracking`` also
feeding the same CallTracker through an adapter.
"""
from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time

USER, SECRET = "bench", "bench-secret"
END_EVENT = b"Event: BenchEnd\r\nPrivilege: system,all\r\n\r\n"

SURNAMES = "张王李赵刘陈杨黄周吴徐孙马朱胡郭何高林罗"
GIVEN = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀兰", "霞"]
MIX = (
    [("VarSet", 33), ("Newstate", 13), ("DTMFEnd", 12), ("Newchannel", 8), ("BridgeEnter", 8), ("Hangup", 8),
     ("QueueCallerJoin", 3), ("QueueCallerLeave", 3), ("DialBegin", 2), ("DialEnd", 2), ("AgentCalled", 2),
     ("AgentConnect", 2), ("AgentComplete", 2), ("QueueMemberStatus", 2)]
)
# VarSet names in the proportions the captures show: mostly Asterisk's own
# bookkeeping (queue, dial and bridge variables), some of the hotline's own.
VARIABLES = (
    ["BRIDGEPEER"] * 3 + ["QUEUETALKTIME", "QUEUESTRATEGY", "QUEUESRVLEVELPERF", "QUEUESRVLEVEL", "QUEUENAME", "QUEUEMAX",
                          "QUEUEHOLDTIME", "QUEUECOMPLETED", "QUEUECALLS", "QUEUEABANDONED", "DIALEDTIME", "DIALEDTIME_MS",
                          "ANSWEREDTIME", "ANSWEREDTIME_MS", "QUEUEWAIT", "QUEUEWAIT_MS", "DIALEDPEERNUMBER", "PLAYBACKSTATUS",
                          "QUEUEPOSITION"]
    + ["HOTLINE_CALLID", "WORKORDER", "IVR_ACTION", "IVR_QUEUE", "IVR_LANG", "QUEUESTATUS", "DIALSTATUS", "MIXMONITOR_FILENAME"]
)
STATE_DESC = {4: "Ring", 5: "Ringing", 6: "Up"}


def add_arguments(parser) -> None:
    parser.add_argument("--events", type=int, default=200_000, help="events per throughput run (default 200000)")
    parser.add_argument("--paced-rate", type=int, default=20_000, help="events/s of the paced run (0 skips it)")
    parser.add_argument("--paced-seconds", type=float, default=5.0, help="length of the paced run")
    parser.add_argument("--paced-ping-ms", type=float, default=10.0, help="Ping interval of the paced run (ms)")
    parser.add_argument("--paced-tick-ms", type=float, default=0.0,
                        help="the paced server sends the events due every N ms in one write (0: as soon as each is due)")
    parser.add_argument("--peers", default="asterisk-ami,panoramisk", help="comma-separated peers ('' for none)")
    parser.add_argument("--peer-tracking", action="store_true", help="also run the peers feeding our CallTracker")
    parser.add_argument("--repeat", type=int, default=3,
                        help="burst runs per client, in interleaved rounds; ratios use the medians (a shared "
                             "machine's speed drifts between runs)")
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--gc-threshold", default="10000,20,100",
                        help="collector thresholds set in EVERY client process, ours and the peers' (the value "
                             "`serve` uses, [runtime] gc_threshold); 'default' keeps Python's 700,10,10")


# -- realistic event stream ------------------------------------------------------------
class _Channel:
    __slots__ = ("uid", "linked", "name", "num", "cname", "ctx", "exten", "state", "_snap")

    def __init__(self, uid, linked, name, num, cname, ctx, exten, state):
        self.uid, self.linked, self.name, self.num, self.cname = uid, linked, name, num, cname
        self.ctx, self.exten, self.state, self._snap = ctx, exten, state, {}

    def snap(self, prefix: str = "") -> str:
        text = self._snap.get(prefix)
        if text is None:
            p = prefix
            text = (
                f"{p}Channel: {self.name}\r\n{p}ChannelState: {self.state}\r\n{p}ChannelStateDesc: {STATE_DESC[self.state]}\r\n"
                f"{p}CallerIDNum: {self.num}\r\n{p}CallerIDName: {self.cname}\r\n{p}ConnectedLineNum: 12345\r\n"
                f"{p}ConnectedLineName: 市民热线\r\n{p}Language: zh\r\n{p}AccountCode: \r\n{p}Context: {self.ctx}\r\n"
                f"{p}Exten: {self.exten}\r\n{p}Priority: 3\r\n{p}Uniqueid: {self.uid}\r\n{p}Linkedid: {self.linked}\r\n"
                f"{p}ChanVariable: HOTLINE_CALLID={self.linked}\r\n{p}ChanVariable: WORKORDER=\r\n"
            )
            self._snap[prefix] = text
        return text


def generate(n: int, seed: int = 12345) -> bytes:
    """``n`` AMI event frames of a busy hotline, as one byte string."""
    rng = random.Random(seed)
    kinds = [k for k, w in MIX for _ in range(w)]
    live: list[_Channel] = []
    callers: list[str] = []
    counter = [0]

    def person():
        return rng.choice(SURNAMES) + rng.choice(GIVEN)

    def new_channel(agent: bool) -> _Channel:
        counter[0] += 1
        uid = f"1795500000.{counter[0]}"
        if agent and callers:
            ext = rng.randint(1001, 1050)
            ch = _Channel(uid, rng.choice(callers), f"PJSIP/{ext}-{counter[0]:08x}", str(ext), f"坐席{person()}", "hotline-agents", str(ext), 5)
        else:
            ch = _Channel(uid, uid, f"PJSIP/trunk-{counter[0]:08x}", f"13{rng.randint(0, 999_999_999):09d}", person(), "hotline-in", "12345", 4)
            callers.append(uid)
        live.append(ch)
        return ch

    for _ in range(200):
        new_channel(False)
    out = []
    for _ in range(n):
        kind = rng.choice(kinds)
        if kind == "Newchannel" and len(live) > 400:
            kind = "Hangup"
        elif kind == "Hangup" and len(live) < 100:
            kind = "Newchannel"
        if kind == "Newchannel":
            ch = new_channel(rng.random() < 0.5)
            out.append(f"Event: Newchannel\r\nPrivilege: call,all\r\n{ch.snap()}\r\n")
        elif kind == "Hangup":
            ch = live.pop(rng.randrange(len(live)))
            if ch.uid in callers:
                callers.remove(ch.uid)
            out.append(f"Event: Hangup\r\nPrivilege: call,all\r\n{ch.snap()}Cause: 16\r\nCause-txt: Normal Clearing\r\n\r\n")
        else:
            ch = rng.choice(live)
            if kind == "Newstate":
                if ch.state != 6:
                    ch.state = 6
                    ch._snap = {}
                out.append(f"Event: Newstate\r\nPrivilege: call,all\r\n{ch.snap()}\r\n")
            elif kind == "VarSet":
                out.append(f"Event: VarSet\r\nPrivilege: dialplan,all\r\n{ch.snap()}Variable: {rng.choice(VARIABLES)}\r\nValue: {rng.randint(0, 99999)}\r\n\r\n")
            elif kind == "DTMFEnd":
                out.append(f"Event: DTMFEnd\r\nPrivilege: dtmf,all\r\n{ch.snap()}Digit: {rng.choice('0123456789*#')}\r\nDurationMs: {rng.randint(80, 200)}\r\nDirection: Received\r\n\r\n")
            elif kind == "BridgeEnter":
                out.append(
                    f"Event: BridgeEnter\r\nPrivilege: call,all\r\nBridgeUniqueid: b-{ch.linked}\r\nBridgeType: basic\r\n"
                    f"BridgeTechnology: simple_bridge\r\nBridgeCreator: <unknown>\r\nBridgeName: <unknown>\r\nBridgeNumChannels: 2\r\n"
                    f"BridgeVideoSourceMode: none\r\n{ch.snap()}\r\n"
                )
            elif kind in ("QueueCallerJoin", "QueueCallerLeave"):
                out.append(f"Event: {kind}\r\nPrivilege: agent,all\r\n{ch.snap()}Queue: hotline-general\r\nPosition: {rng.randint(1, 30)}\r\nCount: {rng.randint(0, 30)}\r\n\r\n")
            elif kind == "QueueMemberStatus":
                out.append(
                    f"Event: QueueMemberStatus\r\nPrivilege: agent,all\r\nQueue: hotline-general\r\nMemberName: 坐席{person()}\r\n"
                    f"Interface: PJSIP/{rng.randint(1001, 1050)}\r\nStateInterface: PJSIP/1001\r\nMembership: static\r\nPenalty: 0\r\n"
                    f"CallsTaken: {rng.randint(0, 80)}\r\nLastCall: 1795421350\r\nLastPause: 0\r\nLoginTime: 1795421300\r\nInCall: 0\r\n"
                    f"Status: {rng.choice((1, 2, 6))}\r\nPaused: 0\r\nPausedReason: \r\nRinginuse: 0\r\nWrapuptime: 0\r\n\r\n"
                )
            else:
                other = rng.choice(live)
                iface = other.name.split("-")[0]
                extra = {
                    "DialBegin": f"DialString: {iface[6:]}\r\n",
                    "DialEnd": "DialStatus: ANSWER\r\n",
                    "AgentCalled": f"Queue: hotline-general\r\nInterface: {iface}\r\nMemberName: {other.cname}\r\n",
                    "AgentConnect": f"Queue: hotline-general\r\nInterface: {iface}\r\nMemberName: {other.cname}\r\nHoldTime: 12\r\nRingTime: 3\r\n",
                    "AgentComplete": f"Queue: hotline-general\r\nInterface: {iface}\r\nMemberName: {other.cname}\r\nHoldTime: 12\r\nTalkTime: 95\r\nReason: agent\r\n",
                }[kind]
                privilege = "call,all" if kind.startswith("Dial") else "agent,all"
                out.append(f"Event: {kind}\r\nPrivilege: {privilege}\r\n{ch.snap()}{other.snap('Dest')}{extra}\r\n")
    return "".join(out).encode("utf-8")


# -- the replay server (subprocess) ----------------------------------------------------


def _answer(action: bytes) -> bytes:
    """What the replay server says to one client action."""
    from callcenter.ami.message import parse_message, serialize_message

    try:
        msg = parse_message(action)
    except ValueError:
        return b""
    name = (msg.get("Action") or "").lower()
    head = [("Response", "Success")] + ([("ActionID", msg.get("ActionID"))] if msg.get("ActionID") is not None else [])
    if name == "ping":
        return serialize_message(head + [("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}")])
    if name == "challenge":
        return serialize_message(head + [("Challenge", "145145657")])
    if name == "login":
        return serialize_message(head + [("Message", "Authentication accepted")])
    if name in ("coreshowchannels", "queuestatus", "status"):
        complete = {"coreshowchannels": "CoreShowChannelsComplete", "queuestatus": "QueueStatusComplete", "status": "StatusComplete"}[name]
        aid = msg.get("ActionID") or ""
        return serialize_message(head + [("EventList", "start"), ("Message", "will follow")]) + serialize_message(
            [("Event", complete), ("ActionID", aid), ("EventList", "Complete"), ("ListItems", "0")]
        )
    return serialize_message(head + [("Message", "ok")])


def serve(blob_path: str, rate: float, seconds: float, tick: float = 0.0) -> None:
    """Accept one client; after its Login stream the blob (burst or paced), answering actions."""
    import selectors

    with open(blob_path, "rb") as f:
        blob = f.read()
    ends = []
    pos = blob.find(b"\r\n\r\n")
    while pos >= 0:
        ends.append(pos + 4)
        pos = blob.find(b"\r\n\r\n", pos + 4)
    if rate > 0:
        ends = ends[: int(rate * seconds)]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    print(listener.getsockname()[1], flush=True)
    listener.settimeout(60)
    conn, _ = listener.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn.sendall(b"Asterisk Call Manager/11.0.0\r\n")
    conn.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(conn, selectors.EVENT_READ | selectors.EVENT_WRITE)
    inbox = b""
    out = bytearray()
    streaming = False
    sent_events = 0
    offset = 0
    started = 0.0
    chunk_events = 128
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        for key, mask in sel.select(timeout=0.002):
            if mask & selectors.EVENT_READ:
                try:
                    data = conn.recv(65536)
                except BlockingIOError:
                    data = None
                except ConnectionResetError:  # a peer library that closes with a reset
                    return
                if data == b"":
                    return
                if data:
                    inbox += data
                    *actions, inbox = inbox.split(b"\r\n\r\n")
                    for action in actions:
                        if action:
                            out += _answer(action)
                            if b"Action: Login" in action and not streaming:
                                streaming, started = True, time.monotonic()
            if mask & selectors.EVENT_WRITE and out:
                try:
                    n = conn.send(out)
                    del out[:n]
                except BlockingIOError:
                    pass
        if streaming and sent_events < len(ends) and len(out) < 65536:
            if rate <= 0:
                due = len(ends)
            else:
                # Events fall due on the PBX's clock; with ``tick`` they leave in
                # the batches a busy PBX's output buffer forms in that time.
                elapsed = time.monotonic() - started
                if tick > 0:
                    elapsed = int(elapsed / tick) * tick
                due = min(len(ends), int(elapsed * rate))
            upto = min(due, sent_events + chunk_events)
            if upto > sent_events:
                out += blob[offset:ends[upto - 1]]
                offset = ends[upto - 1]
                sent_events = upto
                if sent_events == len(ends):
                    out += END_EVENT


# -- client runners (subprocesses) --------------------------------------------------------
class _Meter:
    """Counts events, Ping round trips, RSS and CPU between the first event and BenchEnd."""

    def __init__(self):
        import psutil

        self.proc = psutil.Process()
        self.events = 0
        self.first = None
        self.cpu0 = None
        self.end = None
        self.cpu1 = None
        self.pings: list[float] = []
        self.rss: list[int] = []

    def event(self):
        if self.first is None:
            self.first = time.perf_counter()
            self.cpu0 = time.process_time()
            self.rss.append(self.proc.memory_info().rss)
        self.events += 1
        if self.events % 20_000 == 0:
            self.rss.append(self.proc.memory_info().rss)

    def finish(self):
        self.end = time.perf_counter()
        self.cpu1 = time.process_time()
        self.rss.append(self.proc.memory_info().rss)

    def report(self, **extra) -> dict:
        wall = (self.end or time.perf_counter()) - (self.first or time.perf_counter())
        pings = sorted(self.pings)

        def pct(p):
            return round(pings[min(len(pings) - 1, int(p * len(pings)))] * 1000, 3) if pings else None

        rec = {
            "events": self.events,
            "seconds": round(wall, 3),
            "events_per_s": round(self.events / wall) if wall > 0 else None,
            "cpu_share": round((self.cpu1 - self.cpu0) / wall, 3) if wall > 0 and self.cpu1 is not None else None,
            "events_per_cpu_s": round(self.events / (self.cpu1 - self.cpu0)) if self.cpu1 is not None and self.cpu1 > self.cpu0 else None,
            "pings": len(pings),
            "pings_per_s": round(len(pings) / wall) if wall > 0 else None,
            "ping_p50_ms": pct(0.50),
            "ping_p99_ms": pct(0.99),
            "rss_mb_start": round(self.rss[0] / 2**20, 1) if self.rss else None,
            "rss_mb_end": round(self.rss[-1] / 2**20, 1) if self.rss else None,
            "rss_mb_max": round(max(self.rss) / 2**20, 1) if self.rss else None,
            "rss_mb_samples": [round(r / 2**20, 1) for r in self.rss],
        }
        rec.update(extra)
        return rec


def _run_ours(port: int, mode: str, ping_every: float = 0.0, read_coalesce: float | None = None) -> dict:
    from twisted.internet import reactor, task
    from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

    from callcenter.ami.client import AMIClient
    from callcenter.ami.protocol import AMIProtocol
    from callcenter.calls import CallTracker

    meter = _Meter()
    tracker = CallTracker() if mode == "track" else None

    def on_end():
        meter.finish()
        reactor.stop()

    def pinger(proto):
        started = time.perf_counter()

        def pong(_):
            meter.pings.append(time.perf_counter() - started)
            if meter.end is None:
                if ping_every > 0:
                    reactor.callLater(ping_every, pinger, proto)
                else:
                    pinger(proto)

        proto.send_action("Ping", timeout=None).addCallbacks(pong, lambda f: None)

    if mode == "track":
        # As in production, the tracker is the only reader of most events: the
        # meter takes the first event's time once and reads the protocol's
        # event counter at the end (a per-event counting subscriber would make
        # the client build a message per event just for the bench), and
        # samples RSS on a timer.
        settings = {} if read_coalesce is None else {"read_coalesce": read_coalesce}
        client = AMIClient(TCP4ClientEndpoint(reactor, "127.0.0.1", port), USER, SECRET, clock=reactor, tracker=tracker,
                           ping_interval=None, **settings)

        def first(name, frame):
            meter.event()
            started.cancel()
            sampler.start(0.25, now=False)

        def finished(message):
            sampler.stop()
            meter.events = client.protocol.events_received - 1
            on_end()

        sampler = task.LoopingCall(lambda: meter.rss.append(meter.proc.memory_info().rss))
        started = client.dispatcher.subscribe_frames(first)
        client.subscribe(finished, names=["BenchEnd"])
        client.when_connected().addCallback(pinger)
        client.start()
        reactor.run()
        proto = None
        extra = {"live_calls": len(tracker.calls), "calls_started": tracker.calls_started, "calls_ended": tracker.calls_ended,
                 "events_applied": tracker.events_applied, "rss_sampled_every_s": 0.25}
    else:
        proto = AMIProtocol(clock=reactor)
        proto.ping_interval = None
        if mode == "dispatch":
            proto.dispatcher.subscribe(lambda m: meter.event())
        proto.dispatcher.subscribe(lambda m: on_end(), names=["BenchEnd"])

        def ready(p):
            p.login(USER, SECRET).addCallback(lambda _: pinger(p))

        connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), proto).addCallback(ready)
        if mode == "parse":
            first = []
            original = proto._splitter.frame_received

            def framed(frame):
                if not first:
                    first.append(1)
                    meter.event()
                original(frame)

            proto._splitter.frame_received = framed
        reactor.run()
        if mode == "parse":
            meter.events = proto.events_received - 1
        extra = {}
    return meter.report(client="callcenter", mode=mode, **extra)


def _peer_tracker():
    from callcenter.ami.message import Message
    from callcenter.calls import CallTracker
    from callcenter.clock import UTC

    from datetime import datetime

    tracker = CallTracker()

    def apply(pairs):
        tracker.apply(Message(pairs), datetime.now(UTC))

    return tracker, apply


def _flatten(items) -> list:
    """A peer's parsed headers as our pairs (its ChanVariable dicts expanded)."""
    out = []
    for key, value in items:
        if isinstance(value, dict):
            out.extend((key, f"{k}={v}") for k, v in value.items())
        elif isinstance(value, (list, tuple)):
            out.extend((key, str(v)) for v in value)
        else:
            out.append((key, str(value)))
    return out


def _run_asterisk_ami(port: int, mode: str) -> dict:
    import threading

    from asterisk.ami import AMIClient as PeerClient
    from asterisk.ami import SimpleAction

    meter = _Meter()
    done = threading.Event()
    tracker, apply = _peer_tracker() if mode == "track" else (None, None)

    errors = []

    def on_event(event, source):
        try:
            if event.name == "BenchEnd":
                meter.finish()
                done.set()
                return
            meter.event()
            if apply is not None:
                apply([("Event", event.name)] + _flatten(event.keys.items()))
        except Exception as exc:  # the peer's listener thread would die silently
            errors.append(repr(exc))
            done.set()

    client = PeerClient(address="127.0.0.1", port=port)
    client.add_event_listener(on_event)

    def ping():
        started = time.perf_counter()

        def pong(response):
            meter.pings.append(time.perf_counter() - started)
            if not done.is_set():
                ping()

        client.send_action(SimpleAction("Ping"), callback=pong)

    future = client.login(username=USER, secret=SECRET)
    future.response
    ping()
    done.wait(300)
    client.disconnect()
    if errors or meter.end is None:
        raise RuntimeError(f"asterisk-ami run failed: {errors[:1] or 'no BenchEnd within 300 s'}")
    return meter.report(client="asterisk-ami", mode=mode)


def _run_panoramisk(port: int, mode: str) -> dict:
    import asyncio

    from panoramisk import Manager

    meter = _Meter()
    tracker, apply = _peer_tracker() if mode == "track" else (None, None)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    finished = loop.create_future()
    manager = Manager(loop=loop, host="127.0.0.1", port=port, username=USER, secret=SECRET, ping_delay=3600, ping_interval=3600)

    def on_event(mgr, message):
        if message.event == "BenchEnd":
            meter.finish()
            if not finished.done():
                finished.set_result(None)
            return
        meter.event()
        if apply is not None:
            apply(_flatten(message.items()))

    manager.register_event("*", on_event)

    async def main():
        await manager.connect()
        for _ in range(2000):
            if manager.authenticated:
                break
            await asyncio.sleep(0.005)

        async def pinger():
            while not finished.done():
                started = time.perf_counter()
                await manager.send_action({"Action": "Ping"})
                meter.pings.append(time.perf_counter() - started)

        task = loop.create_task(pinger())
        await asyncio.wait_for(finished, 600)
        task.cancel()
        manager.close()

    loop.run_until_complete(main())
    return meter.report(client="panoramisk", mode=mode)


RUNNERS = {"callcenter": _run_ours, "asterisk-ami": _run_asterisk_ami, "panoramisk": _run_panoramisk}


def _one(blob_path: str, client: str, mode: str, rate: float = 0, seconds: float = 0, ping_every: float = 0.0,
         tick: float = 0.0, gc_threshold: str = "default", read_coalesce: float | None = None) -> dict:
    server = subprocess.Popen(
        [sys.executable, "-m", "callcenter.bench.ami", "serve", blob_path, str(rate), str(seconds), str(tick)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        port = server.stdout.readline().strip()
        result = subprocess.run(
            [sys.executable, "-m", "callcenter.bench.ami", "client", client, mode, port, str(ping_every), gc_threshold,
             "" if read_coalesce is None else str(read_coalesce)],
            capture_output=True, text=True, timeout=900,
        )
        lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
        if result.returncode != 0 or not lines:
            return {"client": client, "mode": mode, "error": (result.stderr or "no result")[-800:]}
        return json.loads(lines[-1])
    finally:
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _median_of(recs: list) -> dict:
    """One client's burst runs summed up: the run with the median events/s,
    with every run's rate beside it (an errored run counts as none)."""
    ok = [r for r in recs if r.get("events_per_s")]
    if not ok:
        return dict(recs[-1], phase="burst-median")
    ok.sort(key=lambda r: r["events_per_s"])
    mid = dict(ok[len(ok) // 2])
    cpu = sorted(r["events_per_cpu_s"] for r in ok if r.get("events_per_cpu_s"))
    mid.update(phase="burst-median", runs=len(ok), events_per_s_runs=[r["events_per_s"] for r in recs if r.get("events_per_s")],
               events_per_cpu_s=cpu[len(cpu) // 2] if cpu else None)
    mid.pop("round", None)
    return mid


def run(args):
    peers = [p for p in (args.peers or "").split(",") if p]
    with tempfile.TemporaryDirectory(prefix="bench-ami-") as tmp:
        blob_path = os.path.join(tmp, "events.ami")
        started = time.perf_counter()
        blob = generate(args.events, args.seed)
        with open(blob_path, "wb") as f:
            f.write(blob)
        yield {"bench": "ami", "phase": "stream", "events": args.events, "bytes": len(blob),
               "avg_event_bytes": round(len(blob) / args.events), "generated_s": round(time.perf_counter() - started, 2)}
        del blob
        results = []
        plan = [("callcenter", "parse"), ("callcenter", "dispatch"), ("callcenter", "track")]
        plan += [(peer, "dispatch") for peer in peers]
        if args.peer_tracking:
            plan += [(peer, "track") for peer in peers]
        runs: dict[tuple, list] = {}
        for round_no in range(1, max(1, args.repeat) + 1):
            for client, mode in plan:
                rec = _one(blob_path, client, mode, gc_threshold=args.gc_threshold)
                rec.update(bench="ami", phase="burst", round=round_no, gc_threshold=args.gc_threshold)
                runs.setdefault((client, mode), []).append(rec)
                yield rec
        for (client, mode), recs in runs.items():
            rec = _median_of(recs)
            yield rec
            results.append(rec)
        ours = next((r for r in results if r.get("client") == "callcenter" and r.get("mode") == "track" and r.get("events_per_s")), None)
        peer_rates = [r for r in results if r.get("client") != "callcenter" and r.get("mode") == "dispatch" and r.get("events_per_s")]
        if ours and peer_rates:
            best = max(peer_rates, key=lambda r: r["events_per_s"])
            summary = {"bench": "ami", "phase": "ratio", "ours_track_events_per_s": ours["events_per_s"],
                       "best_peer": best["client"], "best_peer_events_per_s": best["events_per_s"],
                       "ratio_vs_best_peer": round(ours["events_per_s"] / best["events_per_s"], 2)}
            for r in peer_rates:
                summary[f"ratio_vs_{r['client']}"] = round(ours["events_per_s"] / r["events_per_s"], 2)
                if ours.get("events_per_cpu_s") and r.get("events_per_cpu_s"):
                    summary[f"cpu_ratio_vs_{r['client']}"] = round(ours["events_per_cpu_s"] / r["events_per_cpu_s"], 2)
            # Wall clock on a shared machine depends on who else got the core;
            # CPU-seconds per event do not.  The target counts only when both hold.
            cpu_rates = [r for r in peer_rates if r.get("events_per_cpu_s")]
            if ours.get("events_per_cpu_s") and cpu_rates:
                best_cpu = max(cpu_rates, key=lambda r: r["events_per_cpu_s"])
                summary["cpu_ratio_vs_best_peer"] = round(ours["events_per_cpu_s"] / best_cpu["events_per_cpu_s"], 2)
                summary["target_2x_met"] = summary["ratio_vs_best_peer"] >= 2 and summary["cpu_ratio_vs_best_peer"] >= 2
            # Like for like: each peer feeding the same CallTracker (--peer-tracking).
            for r in results:
                if r.get("client") != "callcenter" and r.get("mode") == "track" and r.get("events_per_s"):
                    summary[f"ratio_vs_{r['client']}_both_tracking"] = round(ours["events_per_s"] / r["events_per_s"], 2)
            yield summary
        if args.paced_rate > 0:
            from callcenter.ami.protocol import AMIProtocol

            # "paced" runs the client as configured (reads coalesced, 1 ms);
            # "paced-read-at-once" is the same without coalescing, the other
            # end of the CPU/latency trade; then the Ping flood.
            every = args.paced_ping_ms / 1000
            for phase, ping, coalesce in (("paced", every, None), ("paced-read-at-once", every, 0.0),
                                          ("paced-ping-flood", 0.0, None)):
                rec = _one(blob_path, "callcenter", "track", rate=args.paced_rate, seconds=args.paced_seconds, ping_every=ping,
                           tick=args.paced_tick_ms / 1000, gc_threshold=args.gc_threshold, read_coalesce=coalesce)
                rec.update(bench="ami", phase=phase, target_events_per_s=args.paced_rate, ping_every_ms=ping * 1000 or None,
                           tick_ms=args.paced_tick_ms, gc_threshold=args.gc_threshold,
                           read_coalesce_ms=1000 * (AMIProtocol.read_coalesce if coalesce is None else coalesce))
                if phase != "paced-ping-flood":
                    rec["target_met"] = bool(rec.get("cpu_share") is not None and rec["cpu_share"] <= 0.20
                                             and rec.get("ping_p99_ms") is not None and rec["ping_p99_ms"] < 1.0)
                yield rec


def _main(argv: list[str]) -> int:
    role = argv[0]
    if role == "serve":
        serve(argv[1], float(argv[2]), float(argv[3]), float(argv[4]) if len(argv) > 4 else 0.0)
        return 0
    if role == "client":
        client, mode, port = argv[1], argv[2], int(argv[3])
        if len(argv) > 5 and argv[5] != "default":
            from callcenter.runtime import tune_gc

            tune_gc(argv[5])
        kwargs = {"ping_every": float(argv[4])} if client == "callcenter" and len(argv) > 4 else {}
        if client == "callcenter" and len(argv) > 6 and argv[6]:
            kwargs["read_coalesce"] = float(argv[6])
        print(json.dumps(RUNNERS[client](port, mode, **kwargs), ensure_ascii=False), flush=True)
        return 0
    raise SystemExit(f"unknown role {role!r}")


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
