"""In-queue callbacks that do not reach the citizen are retried, over TCP through the PBX simulator.

The controller runs on a :class:`JumpClock`: the simulator's 5× time line (as in test_acd_sim)
plus jumps of whole minutes, so "30 minutes later" is one call instead of a wait.  Retries are
released by the controller's tick on that clock.  Calling time starts on a working Monday 10:00
in Asia/Shanghai (the default working calendar), so the policy's calling hours allow every retry.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest_twisted
from twisted.internet import defer
from twisted.internet.endpoints import TCP4ClientEndpoint

from callcenter.ami.client import AMIClient
from callcenter.db import make_engine
from callcenter.pbxsim.simulator import PBXSimulator
from callcenter.routing.acd import CallHandle, QueueController
from callcenter.routing.agent import AgentState
from callcenter.routing.policy import Router
from callcenter.routing.skills import Agent, QueueRules
from callcenter.routing.store import RoutingStore
from callcenter.routing.timewarp import ScaledClock
from tests.routing.sim import SPEED
from tests.routing.test_acd_sim import wait_until

T0 = datetime(2025, 11, 24, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # a working Monday, calling hours
CITIZEN = "13800000005"


class JumpClock(ScaledClock):
    """A ScaledClock whose time can also jump ahead (timers already set keep their real delay)."""

    def jump(self, seconds: float) -> None:
        self._origin += seconds


class World:
    """One simulator; controllers (one per "serve process") each with their own AMI session and store."""

    def __init__(self, reactor, db_url):
        self.reactor, self.db_url = reactor, db_url
        self.sim = PBXSimulator(reactor, speed=SPEED)
        self.clock = JumpClock(reactor, SPEED, start=T0.timestamp())
        self.acds, self.amis, self.states = [], [], []
        self.port = None

    @defer.inlineCallbacks
    def listen(self):
        self.port = yield self.sim.listen(0)

    @defer.inlineCallbacks
    def controller(self, *agents: tuple[str, str]):
        ami = AMIClient(TCP4ClientEndpoint(self.reactor, "127.0.0.1", self.port.getHost().port), "hotline",
                        "hotline-secret", clock=ScaledClock(self.reactor, SPEED), resync=False)
        acd = QueueController(ami, self.clock, Router([QueueRules("hotline-general", "general")]),
                              store=RoutingStore(make_engine(self.db_url)), ring_timeout=6, wrap_up_seconds=1,
                              callback_timeout=10)
        for agent_id, device in agents:
            acd.add_agent(Agent(agent_id, {"general": 60}, device=device))
            acd.agent_login(agent_id)
        acd.add_listener(lambda kind, data: self.states.append((len(self.acds), data["call_id"], data["state"]))
                         if kind == "call" else None)
        self.acds.append(acd)
        self.amis.append(ami)
        ami.start()
        yield ami.when_connected()
        return acd

    def count(self, call_id, state):
        return sum(1 for _, c, s in self.states if c == call_id and s == state)

    @defer.inlineCallbacks
    def close(self):
        for acd in self.acds:
            if acd.running:
                yield acd.stopService()
        for ami in self.amis:
            yield ami.stop()
        yield self.port.stopListening()
        for acd in self.acds:
            acd.store.engine.dispose()


def stored(acd):
    """Fires once the controller's queued store writes are done (a read queued behind them)."""
    return acd._db("callbacks", None)


def book(acd, call_id, number=CITIZEN):
    """The IVR's "call me back" for a caller in the queue (the caller has hung up)."""
    return acd.request_callback(CallHandle(call_id, "", number), "hotline-general", priority=5)


@defer.inlineCallbacks
def _booked_for_a_busy_citizen(w, call_id: str):
    """Agent 1001 (answers after 1 s) and the citizen's phone busy; the ACD started, the callback
    ``call_id`` booked and the agent ready: its first attempt is about to fail."""
    w.sim.add_device("PJSIP/1001", answer_after=1.0)
    w.sim.add_pstn(CITIZEN, "busy")
    acd = yield w.controller(("1001", "PJSIP/1001"))
    acd.startService()
    assert (yield book(acd, call_id)) is True
    acd.agent_ready("1001")
    return acd


@pytest_twisted.inlineCallbacks
def test_a_failed_callback_is_retried_after_30_minutes_and_connects(db_url):
    """The citizen's phone is busy the first time: the agent is freed, the row stays pending with one
    attempt, the reason and the policy's next attempt (+30 min); nothing dials before then; at
    +30 min the caller goes back into the queue (same priority), the free agent is reserved and the
    citizen, answering now, is put through to the agent — the row is done after two attempts."""
    from twisted.internet import reactor

    w = World(reactor, db_url)
    yield w.listen()
    try:
        acd = yield _booked_for_a_busy_citizen(w, "cb-retry")
        yield wait_until(reactor, lambda: w.count("cb-retry", "callback_failed") == 1, what="first attempt failed")
        yield wait_until(reactor, lambda: acd.sessions["1001"].state is AgentState.READY, what="agent freed")
        yield stored(acd)
        [entry] = acd.store.callbacks()
        assert (entry.state, entry.attempts, entry.last_reason, entry.priority) == ("pending", 1, "busy", 5)
        assert timedelta(minutes=30) <= entry.next_attempt_at - T0 < timedelta(minutes=31)

        w.sim.add_pstn(CITIZEN, "answer", answer_after=1.0, hangup_after=3.0)
        w.clock.jump(29 * 60)
        acd._tick()
        assert acd.router.waiting_count() == 0 and acd.stats["callbacks_placed"] == 1  # not due yet
        w.clock.jump(60)
        yield wait_until(reactor, lambda: w.count("cb-retry", "connected") == 1, what="the retry put through")
        yield wait_until(reactor, lambda: acd.sessions["1001"].state is AgentState.READY, what="agent ready")
        yield stored(acd)
        [entry] = acd.store.callbacks(None)
        assert (entry.state, entry.attempts) == ("done", 2)
        assert acd.stats["callbacks_placed"] == 2
    finally:
        yield w.close()


@pytest_twisted.inlineCallbacks
def test_three_failed_attempts_make_the_callback_unreachable(db_url):
    """Busy, no answer, congestion: attempts at T0, +30 min and +30+120 min (the policy's spacing),
    then the row is unreachable with the last reason and the ACD never dials it again."""
    from twisted.internet import reactor

    w = World(reactor, db_url)
    yield w.listen()
    try:
        acd = yield _booked_for_a_busy_citizen(w, "cb-three")
        yield wait_until(reactor, lambda: w.count("cb-three", "callback_failed") == 1, what="attempt 1")
        yield stored(acd)
        assert acd.store.callbacks()[0].last_reason == "busy"

        w.sim.add_pstn(CITIZEN, "noanswer")
        w.clock.jump(30 * 60 + 30)
        yield wait_until(reactor, lambda: w.count("cb-three", "callback_failed") == 2, what="attempt 2")
        yield stored(acd)
        [entry] = acd.store.callbacks()
        assert (entry.attempts, entry.last_reason) == (2, "no answer")
        assert timedelta(minutes=119) < entry.next_attempt_at - acd._now() <= timedelta(minutes=120)  # failed just now

        w.sim.add_pstn(CITIZEN, "congestion")
        w.clock.jump(120 * 60 + 30)
        yield wait_until(reactor, lambda: w.count("cb-three", "callback_failed") == 3, what="attempt 3")
        yield wait_until(reactor, lambda: acd.sessions["1001"].state is AgentState.READY, what="agent freed")
        yield stored(acd)
        assert acd.store.callbacks() == []
        [entry] = acd.store.callbacks(None)
        assert (entry.state, entry.attempts, entry.last_reason) == ("unreachable", 3, "congestion")

        w.clock.jump(24 * 3600)
        acd._tick()
        assert acd.router.waiting_count() == 0 and acd.stats["callbacks_placed"] == 3
    finally:
        yield w.close()


@pytest_twisted.inlineCallbacks
def test_restarted_controllers_reload_pending_callbacks_and_dial_each_once(db_url):
    """A controller books a callback with no agent ready and stops (serve restarts).  Two new
    controllers on the same database (two serve processes, each with a ready agent) reload it: the
    due row is claimed by exactly one of them and dialled once; a row whose next attempt is in the
    future is not dialled until the clock reaches it, and then once."""
    from twisted.internet import reactor

    later = "13800000006"
    w = World(reactor, db_url)
    yield w.listen()
    w.sim.add_device("PJSIP/1001", answer_after=1.0)
    w.sim.add_device("PJSIP/1002", answer_after=1.0)
    w.sim.add_pstn(CITIZEN, "answer", answer_after=1.0, hangup_after=3.0)
    w.sim.add_pstn(later, "answer", answer_after=1.0, hangup_after=3.0)
    try:
        first = yield w.controller(("1001", "PJSIP/1001"))
        first.startService()
        assert (yield book(first, "cb-due")) is True
        yield first.stopService()
        # A row whose first attempt failed: due again at T0+30 min.
        store = first.store
        assert store.add_callback(call_id="cb-later", number=later, queue="hotline-general",
                                  reason="requested", now=first._now(), priority=2)
        claimed = store.claim_callback("cb-later", 0, first._now(), first._now())
        assert store.callback_attempt_failed(claimed.id, 1, "busy", first._now(), T0 + timedelta(minutes=30))

        b = yield w.controller(("1001", "PJSIP/1001"))
        c = yield w.controller(("1002", "PJSIP/1002"))
        for acd, agent in ((b, "1001"), (c, "1002")):
            acd.agent_ready(agent)
            acd.startService()
        yield wait_until(reactor, lambda: w.count("cb-due", "connected") == 1, what="the reloaded row put through")
        yield wait_until(reactor, lambda: all(a.sessions[s].state is AgentState.READY
                                              for a, s in ((b, "1001"), (c, "1002"))), what="agents ready")
        yield stored(b)
        yield stored(c)
        assert b.stats["callbacks_placed"] + c.stats["callbacks_placed"] == 1
        assert [(e.call_id, e.state, e.attempts) for e in store.callbacks(None) if e.call_id == "cb-due"] \
            == [("cb-due", "done", 1)]
        assert [e.call_id for e in store.callbacks()] == ["cb-later"]  # not due yet: not dialled

        w.clock.jump(30 * 60)
        yield wait_until(reactor, lambda: w.count("cb-later", "connected") == 1, what="the later row put through")
        yield wait_until(reactor, lambda: all(a.sessions[s].state is AgentState.READY
                                              for a, s in ((b, "1001"), (c, "1002"))), what="agents ready")
        yield stored(b)
        yield stored(c)
        assert b.stats["callbacks_placed"] + c.stats["callbacks_placed"] == 2
        assert w.count("cb-later", "connected") == 1
        assert store.callbacks() == []
        assert [(e.state, e.attempts) for e in store.callbacks(None) if e.call_id == "cb-later"] == [("done", 2)]
    finally:
        yield w.close()


@pytest_twisted.inlineCallbacks
def test_a_callback_placed_at_once_is_stored_and_retried(db_url):
    """Booked while the agent is free, the callback is placed at once; the citizen's line is busy,
    so (being stored first) the row is pending with one attempt and the policy's next attempt, and
    the controller has it scheduled — nothing is lost because no agent had to wait."""
    from twisted.internet import reactor

    w = World(reactor, db_url)
    yield w.listen()
    w.sim.add_device("PJSIP/1001", answer_after=1.0)
    w.sim.add_pstn(CITIZEN, "busy")
    try:
        acd = yield w.controller(("1001", "PJSIP/1001"))
        acd.agent_ready("1001")
        acd.startService()
        assert (yield book(acd, "cb-now")) is True
        yield wait_until(reactor, lambda: w.count("cb-now", "callback_failed") == 1, what="attempt failed")
        yield stored(acd)
        [entry] = acd.store.callbacks()
        assert (entry.call_id, entry.attempts, entry.last_reason, entry.priority) == ("cb-now", 1, "busy", 5)
        assert acd._callback_retries["cb-now"].next_attempt_at == entry.next_attempt_at
        assert acd.sessions["1001"].state is AgentState.READY
    finally:
        yield w.close()
