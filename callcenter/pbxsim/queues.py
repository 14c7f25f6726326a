"""app_queue as the captures show it: members, pauses, callers and Queue().

The hotline routes with its own ACD, but the lab PBX the captures come from
used ``Queue()``; simulating it keeps captures 06–09, 12–14 and 17
reproducible and lets the AMI client's queue handling be tested.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from twisted.internet import defer

from callcenter.pbxsim.dialplan import split_args
from callcenter.pbxsim.legs import create_leg
from callcenter.pbxsim.model import ChannelGone, Redirected


class QueueError(Exception):
    """A queue action that cannot be done; ``str`` is Asterisk's message."""

    error_id = "pbxsim.queue"


@dataclass(eq=False)
class Member:
    queue: str
    name: str
    interface: str
    penalty: int = 0
    paused: bool = False
    reason: str = ""
    dynamic: bool = True
    ringinuse: bool = False
    calls_taken: int = 0
    last_call: int = 0
    last_pause: int = 0
    login_time: int = 0
    in_call: bool = False
    status: int = 1
    wrapup_until: float = 0.0


@dataclass(eq=False)
class Entry:
    channel: object
    joined: float
    original_position: int


@dataclass(eq=False)
class Queue:
    name: str
    strategy: str = "rrmemory"
    timeout: float = 15
    retry: float = 2
    wrapuptime: float = 0
    members: list = field(default_factory=list)
    entries: list = field(default_factory=list)
    completed: int = 0
    abandoned: int = 0
    holdtime: float = 0
    talktime: float = 0
    rr_index: int = 0


class QueueManager:
    """All queues of the simulated PBX."""

    def __init__(self, sim) -> None:
        self.sim = sim
        self.queues: dict[str, Queue] = {}

    def configure(self, name: str, *, strategy="rrmemory", timeout=15, retry=2, wrapuptime=0, members=()):
        q = Queue(name, strategy, timeout, retry, wrapuptime)
        now = int(self.sim.reactor.seconds())
        for member_name, interface in members:
            q.members.append(Member(name, member_name, interface, dynamic=False, login_time=now))
        self.queues[name] = q
        self.publish_states()
        return q

    # -- member management (AMI actions) ----------------------------------------
    def member_fields(self, m: Member) -> list[tuple[str, str]]:
        return [
            ("Queue", m.queue), ("MemberName", m.name), ("Interface", m.interface),
            ("StateInterface", m.interface), ("Membership", "dynamic" if m.dynamic else "static"),
            ("Penalty", str(m.penalty)), ("CallsTaken", str(m.calls_taken)), ("LastCall", str(m.last_call)),
            ("LastPause", str(m.last_pause)), ("LoginTime", str(m.login_time)), ("InCall", str(int(m.in_call))),
            ("Status", str(m.status)), ("Paused", str(int(m.paused))), ("PausedReason", m.reason),
            ("Ringinuse", str(int(m.ringinuse))), ("Wrapuptime", "0"),   # member-level; the queue's is separate
        ]

    def _emit(self, event: str, m: Member) -> None:
        self.publish_states()
        self.sim.emit(event, "agent", self.member_fields(m))

    def publish_states(self) -> None:
        """app_queue's pseudo-devices (``Queue:q``, ``Queue:q_avail``, ``Queue:q_pause_<if>``)."""
        for q in self.queues.values():
            states = {f"Queue:{q.name}_pause_{m.interface}": "INUSE" if m.paused else "NOT_INUSE"
                      for m in q.members}
            avail = any(not m.paused and not m.in_call for m in q.members)
            states[f"Queue:{q.name}_avail"] = "INUSE" if avail else "NOT_INUSE"
            states[f"Queue:{q.name}"] = "INUSE" if q.entries else "NOT_INUSE"
            for device, state in states.items():
                self.sim.set_device_state(device, state)

    def find_member(self, queue: str, interface: str) -> Member | None:
        q = self.queues.get(queue)
        if q is None:
            return None
        for m in q.members:
            if m.interface == interface:
                return m
        return None

    def add(self, queue: str, interface: str, name: str | None = None, penalty: int = 0,
            paused: bool = False, reason: str = "") -> Member:
        q = self.queues.get(queue)
        if q is None:
            raise QueueError("Unable to add interface to queue: No such queue")
        if self.find_member(queue, interface) is not None:
            raise QueueError("Unable to add interface: Already there")
        now = int(self.sim.reactor.seconds())
        m = Member(queue, name or interface, interface, penalty=penalty, paused=paused, reason=reason,
                   login_time=now, last_pause=now if paused else 0)
        q.members.append(m)
        self._emit("QueueMemberAdded", m)
        return m

    def remove(self, queue: str, interface: str) -> None:
        q = self.queues.get(queue)
        if q is None:
            raise QueueError("Unable to remove interface from queue: No such queue")
        m = self.find_member(queue, interface)
        if m is None:
            raise QueueError("Unable to remove interface: Not there")
        if not m.dynamic:
            raise QueueError("Unable to remove interface: Static member")
        q.members.remove(m)
        self._emit("QueueMemberRemoved", m)

    def pause(self, interface: str, paused: bool, queue: str | None = None, reason: str = "") -> None:
        targets = []
        for q in self.queues.values():
            if queue and q.name != queue:
                continue
            m = self.find_member(q.name, interface)
            if m is not None:
                targets.append(m)
        if not targets:
            raise QueueError("Interface not found")
        now = int(self.sim.reactor.seconds())
        for m in targets:
            m.paused = paused
            m.reason = reason if paused else ""
            m.last_pause = now
            self._emit("QueueMemberPause", m)
        self.kick()

    def penalty(self, interface: str, penalty: int, queue: str | None = None) -> None:
        self._set_member(interface, queue, "penalty", penalty, "QueueMemberPenalty",
                         "Invalid interface, queuename or penalty")

    def ringinuse(self, interface: str, value: bool, queue: str | None = None) -> None:
        self._set_member(interface, queue, "ringinuse", value, "QueueMemberRinginuse",
                         "Invalid interface, queuename or ringinuse value")

    def _set_member(self, interface: str, queue: str | None, attr: str, value, event: str, refusal: str) -> None:
        """Set one member attribute in ``queue`` (or every queue), with Asterisk's event per member."""
        found = False
        for q in self.queues.values():
            if queue and q.name != queue:
                continue
            m = self.find_member(q.name, interface)
            if m is not None:
                setattr(m, attr, value)
                found = True
                self._emit(event, m)
        if not found:
            raise QueueError(refusal)

    def kick(self) -> None:
        """Something changed (pause, hangup): waiting callers look again."""
        for q in self.queues.values():
            for e in q.entries:
                ch = e.channel
                if ch.queue_idle:
                    self.sim.wake(ch, "kick")

    # -- the Queue() application ---------------------------------------------------
    def _set_status(self, m: Member, status: int, in_call: bool | None = None) -> None:
        m.status = status
        if in_call is not None:
            m.in_call = in_call
        self._emit("QueueMemberStatus", m)

    def _pick(self, q: Queue) -> Member | None:
        now = self.sim.reactor.seconds()
        members = [m for m in q.members if not m.paused and not m.in_call and m.status != 6
                   and m.wrapup_until <= now and m.status != 5]
        if not members:
            return None
        members.sort(key=lambda m: m.penalty)
        best = members[0].penalty
        members = [m for m in members if m.penalty == best]
        if q.strategy == "rrmemory":
            order = q.members
            start = q.rr_index % max(1, len(order))
            for i in range(len(order)):
                m = order[(start + i) % len(order)]
                if m in members:
                    q.rr_index = order.index(m) + 1
                    return m
        return members[0]

    def _queue_vars(self, ch, q: Queue) -> None:
        for name, value in (("QUEUENAME", q.name), ("QUEUEMAX", "0"), ("QUEUESTRATEGY", q.strategy),
                            ("QUEUECALLS", str(len(q.entries))), ("QUEUEHOLDTIME", str(int(q.holdtime))),
                            ("QUEUETALKTIME", str(int(q.talktime))), ("QUEUECOMPLETED", str(q.completed)),
                            ("QUEUEABANDONED", str(q.abandoned)), ("QUEUESRVLEVEL", "0"),
                            ("QUEUESRVLEVELPERF", "0.0")):
            self.sim.set_var(ch, name, value)

    def _leave(self, q: Queue, entry: Entry) -> int:
        position = q.entries.index(entry) + 1 if entry in q.entries else 1
        if entry in q.entries:
            q.entries.remove(entry)
        self.sim.chan_event("QueueCallerLeave", "agent", entry.channel,
                            [("Queue", q.name), ("Position", str(position)), ("Count", str(len(q.entries)))])
        return position

    def _abandon(self, q: Queue, entry: Entry) -> None:
        position = q.entries.index(entry) + 1 if entry in q.entries else 1
        q.abandoned += 1
        hold = self.sim.whole_seconds(entry.joined)
        self.sim.chan_event("QueueCallerAbandon", "agent", entry.channel, [
            ("Queue", q.name), ("Position", str(position)), ("OriginalPosition", str(entry.original_position)),
            ("HoldTime", str(hold))])
        self._leave(q, entry)

    @defer.inlineCallbacks
    def run(self, ch, data: str):
        sim = self.sim
        args = split_args(data) + [""] * 5
        name, timeout_text = args[0], args[4]
        q = self.queues.get(name)
        if q is None:
            sim.set_var(ch, "QUEUESTATUS", "UNKNOWN")
            return None
        if ch.state != 6:
            sim.report_progress(ch, "answer")
        timeout = float(timeout_text) if timeout_text.replace(".", "", 1).isdigit() else None
        joined = sim.reactor.seconds()
        entry = Entry(ch, joined, len(q.entries) + 1)
        q.entries.append(entry)
        sim.chan_event("QueueCallerJoin", "agent", ch,
                       [("Queue", q.name), ("Position", str(len(q.entries))), ("Count", str(len(q.entries)))])
        sim.chan_event("MusicOnHoldStart", "call", ch, [("Class", "default")])
        deadline = joined + timeout / sim.speed if timeout else None
        try:
            while True:
                remaining = None if deadline is None else deadline - sim.reactor.seconds()
                if remaining is not None and remaining <= 0:
                    sim.chan_event("MusicOnHoldStop", "call", ch)
                    self._abandon(q, entry)
                    self._queue_vars(ch, q)
                    sim.set_var(ch, "QUEUESTATUS", "TIMEOUT")
                    return None
                member = self._pick(q) if q.entries and q.entries[0] is entry else None
                if member is None:
                    ch.queue_idle = True
                    wait = q.retry if remaining is None else min(q.retry, remaining * sim.speed)
                    try:
                        yield sim.sleep(ch, wait)
                    finally:
                        ch.queue_idle = False
                    continue
                connected = yield self._ring_member(q, entry, member)
                if connected:
                    result = yield self._talk(q, entry, member, connected)
                    return result
                yield sim.sleep(ch, q.retry)
        except ChannelGone:
            if entry in q.entries:
                sim.chan_event("MusicOnHoldStop", "call", ch)
                self._abandon(q, entry)
            raise
        except Redirected:
            if entry in q.entries:
                sim.chan_event("MusicOnHoldStop", "call", ch)
                self._leave(q, entry)
            raise

    @defer.inlineCallbacks
    def _ring_member(self, q: Queue, entry: Entry, member: Member):
        sim, ch = self.sim, entry.channel
        target = member.interface[:-2] if member.interface.endswith("/n") else member.interface
        callee = create_leg(sim, ch, target)
        if callee is None:
            self._set_status(member, 5)
            return None
        pairs = [("Queue", q.name), ("Interface", member.interface), ("MemberName", member.name)]
        sim.chan_event("AgentCalled", "agent", ch, pairs, dest=callee)
        sim.emit("DialBegin", "call", ch.snapshot(sim.channelvars) + callee.snapshot(sim.channelvars, "Dest")
                 + [("DialString", target.split("/", 1)[1])])

        def ringing():
            sim.chan_event("DialState", "call", ch, [("DialStatus", "RINGING")], dest=callee)
            # the member's device state: a ringing Local channel is "in use" (2) [capture 13],
            # a phone (PJSIP/IAX2) "ringing" (6)
            self._set_status(member, 2 if member.interface.startswith("Local/") else 6)

        callee.on_ringing = ringing
        started = sim.reactor.seconds()
        ring = sim.ring(callee, q.timeout)
        watch = sim.sleep(ch, None)
        try:
            first = yield defer.DeferredList([ring, watch], fireOnOneCallback=True, fireOnOneErrback=True,
                                             consumeErrors=True)
        except defer.FirstError as e:
            sim.chan_event("DialEnd", "call", ch, [("DialStatus", "CANCEL")], dest=callee)
            sim.hangup(callee, 0)
            self._set_status(member, 1)
            e.subFailure.raiseException()
        outcome = first[0]
        sim._cancel_waiter(ch)
        if outcome == "answer":
            sim.chan_event("DialEnd", "call", ch, [("DialStatus", "ANSWER")], dest=callee)
            if member.status != 2:   # QueueMemberStatus follows device state changes only
                self._set_status(member, 2, in_call=True)
            else:
                member.in_call = True
            return (callee, started)
        status = {"busy": "BUSY", "congestion": "CONGESTION"}.get(outcome, "NOANSWER")
        if outcome == "noanswer":
            # app_queue [capture 13]: AgentRingNoAnswer, DialEnd NOANSWER, then the ring is cancelled
            # (DialEnd CANCEL), the member's channel hangs up and only then its status returns to 1
            sim.chan_event("AgentRingNoAnswer", "agent", ch,
                           pairs + [("RingTime", str(int((sim.reactor.seconds() - started) * sim.speed * 1000)))],
                           dest=callee)
            sim.chan_event("DialEnd", "call", ch, [("DialStatus", status)], dest=callee)
            sim.chan_event("DialEnd", "call", ch, [("DialStatus", "CANCEL")], dest=callee)
        else:
            sim.chan_event("DialEnd", "call", ch, [("DialStatus", status)], dest=callee)
        sim.hangup(callee, 0)
        self._set_status(member, 1)
        return None

    @defer.inlineCallbacks
    def _talk(self, q: Queue, entry: Entry, member: Member, connected):
        sim, ch = self.sim, entry.channel
        callee, ring_started = connected
        hold = sim.whole_seconds(entry.joined)
        ring_time = sim.whole_seconds(ring_started)
        sim.chan_event("MusicOnHoldStop", "call", ch)
        self._leave(q, entry)
        pairs = [("Queue", q.name), ("Interface", member.interface), ("MemberName", member.name)]
        sim.chan_event("AgentConnect", "agent", ch, pairs + [("HoldTime", str(hold)), ("RingTime", str(ring_time))],
                       dest=callee)
        ch.dial_peer = callee
        sim.bridge(ch, callee)
        talk_start = sim.reactor.seconds()

        def complete(reason: str):
            talk = sim.whole_seconds(talk_start)
            q.completed += 1
            q.talktime = talk
            q.holdtime = hold
            sim.chan_event("AgentComplete", "agent", ch, pairs + [
                ("HoldTime", str(hold)), ("TalkTime", str(talk)), ("Reason", reason)], dest=callee)
            member.calls_taken += 1
            member.last_call = int(sim.reactor.seconds())
            member.wrapup_until = sim.reactor.seconds() + q.wrapuptime / sim.speed
            self._set_status(member, 1, in_call=False)
            self.kick()

        try:
            yield sim.sleep(ch, None)
        except ChannelGone:
            complete("caller")
            raise
        except Redirected:
            # Asterisk holds this AgentComplete back until the caller hangs up [capture 17]
            def late(_c):
                complete("caller")

            ch.on_hangup.append(late)
            member.in_call = False
            raise
        complete("agent")
        self._queue_vars(ch, q)
        return None
