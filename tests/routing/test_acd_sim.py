"""End to end over TCP: the queue controller drives the PBX simulator through the hotline dialplan.

Time runs 5× faster for both sides (simulator ``speed`` and a ScaledClock for
the controller and its AMI client), so every ring timeout and wrap-up keeps
its call-time length.  The speed is modest and the margins between scripted
delays wide, so a loaded machine (reactor lag) cannot change the story.
"""
from __future__ import annotations

import pytest_twisted
from twisted.internet import defer, task

from callcenter.pbxsim.participants import CallerScript
from callcenter.routing.agent import AgentState
from callcenter.routing.skills import Agent, QueueRules
from tests.routing.sim import acd_floor, hand_over_ivr_callers

#: two agents of the general queue; 1001 is the better skilled, so rings first
TWO_AGENTS = (Agent("1001", {"general": 90}, device="PJSIP/1001"), Agent("1002", {"general": 60}, device="PJSIP/1002"))
QUEUE_BY_EXTEN = {"12345": ("hotline-general", "general"), "12399": ("hotline-urgent", "urgent")}


@defer.inlineCallbacks
def wait_until(reactor, predicate, timeout=30.0, what=""):
    deadline = reactor.seconds() + timeout
    while not predicate():
        if reactor.seconds() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        yield task.deferLater(reactor, 0.02, lambda: None)


@pytest_twisted.inlineCallbacks
def test_skills_no_answer_and_abandonment_through_the_simulator(db_url):
    """Callers with different skills reach the right agents, a ring-out moves the caller to the next
    agent, and a caller who gives up is recorded as abandoned and put on the callback list."""
    from twisted.internet import reactor

    floor = yield acd_floor(
        reactor, db_url=db_url, ring_timeout=6, wrap_up_seconds=2,
        rules=[QueueRules("hotline-general", "general"), QueueRules("hotline-urgent", "urgent", min_level=60)],
        agents=[Agent("1001", {"general": 60}, device="PJSIP/1001"), Agent("1002", {"general": 90}, device="PJSIP/1002"),
                Agent("2001", {"urgent": 80}, device="PJSIP/2001")])
    sim, ami, acd, store = floor.sim, floor.ami, floor.acd, floor.store
    sim.add_device("PJSIP/1001", answer_after=1.0)
    sim.add_device("PJSIP/1002", answer_after=None)  # rings, never answers
    sim.add_device("PJSIP/2001", answer_after=1.0)
    connected = {}
    acd.add_listener(lambda kind, data: connected.__setitem__(data["call_id"], data["agent_id"])
                     if kind == "call" and data.get("state") == "connected" else None)

    # the IVR's part: hand the caller over by the number they dialled
    hand_over_ivr_callers(ami, acd, queue_for=lambda env: QUEUE_BY_EXTEN[env["agi_extension"]])
    ami.start()
    try:
        yield ami.when_connected()
        acd.startService()
        for agent in ("1001", "1002", "2001"):
            acd.agent_login(agent)
        acd.agent_ready("1001")
        acd.agent_ready("1002")
        # Nobody takes urgent calls yet: this caller gives up after 3 s.
        gone = sim.dial_in("13800000003", exten="12399", script=CallerScript(patience=3))
        yield wait_until(reactor, lambda: acd.stats["abandoned"] == 1, what="abandonment")
        acd.agent_ready("2001")
        a = sim.dial_in("13800000001", exten="12345", script=CallerScript(talk_seconds=3))
        b = sim.dial_in("13800000002", exten="12399", script=CallerScript(talk_seconds=3))
        yield wait_until(reactor, lambda: acd.stats["answered"] == 2, what="two answered calls")
        assert connected == {a.uniqueid: "1001", b.uniqueid: "2001"}
        assert acd.sessions["1002"].missed == 1
        yield wait_until(reactor, lambda: all(s.state is AgentState.READY for s in acd.sessions.values()),
                         what="agents back to ready after wrap-up")
    finally:
        yield floor.close()
    outcomes = {(r["call_id"], r["outcome"], r["agent_id"]) for r in store.queue_calls()}
    assert outcomes == {(gone.uniqueid, "abandoned", None), (a.uniqueid, "answered", "1001"),
                        (b.uniqueid, "answered", "2001")}
    assert [e.number for e in store.callbacks()] == ["13800000003"]
    states = [(r["from_state"], r["to_state"]) for r in store.state_log("1002")]
    assert ("ringing", "ready") in states
    store.engine.dispose()


@pytest_twisted.inlineCallbacks
def test_callback_in_queue_through_the_simulator(sqlite_url):
    """A caller offered a callback presses 1 and hangs up; when the agent is free the controller
    Originates the caller's number into hotline-connect and the citizen is put through to the agent."""
    from twisted.internet import reactor

    floor = yield acd_floor(reactor, db_url=sqlite_url, ring_timeout=4, wrap_up_seconds=1,
                            rules=[QueueRules("hotline-general", "general", max_wait=2, announce_every=1)],
                            agents=[Agent("1001", {"general": 60}, device="PJSIP/1001")])
    sim, ami, acd, store = floor.sim, floor.ami, floor.acd, floor.store
    sim.add_device("PJSIP/1001", answer_after=1.0)
    sim.add_pstn("13800000004", "answer", answer_after=1.0, hangup_after=3.0)
    states = []
    acd.add_listener(lambda kind, data: states.append((data["call_id"], data["state"])) if kind == "call" else None)

    hand_over_ivr_callers(ami, acd)
    ami.start()
    try:
        yield ami.when_connected()
        acd.startService()
        acd.agent_login("1001")  # logged in, still paused: the caller has to wait
        waiting = sim.dial_in("13800000004", script=CallerScript(keys=["1"], key_delay=0.3))
        yield wait_until(reactor, lambda: acd.stats["callbacks_booked"] == 1, what="callback booked")
        assert acd.router.waiting(waiting.uniqueid).callback
        yield wait_until(reactor, lambda: sim.find_channel(waiting.name) is None, what="the caller hung up")
        acd.agent_ready("1001")
        yield wait_until(reactor, lambda: (waiting.uniqueid, "connected") in states, timeout=30,
                         what="the callback put through to the agent")
        yield wait_until(reactor, lambda: acd.sessions["1001"].state is AgentState.READY, what="agent ready")
    finally:
        yield floor.close()
    assert [(e.call_id, e.state, e.attempts) for e in store.callbacks(None)] == [(waiting.uniqueid, "done", 1)]
    assert acd.stats["callbacks_placed"] == 1
    store.engine.dispose()


@pytest_twisted.inlineCallbacks
def test_supervisor_barges_into_a_live_call_through_the_simulator():
    """During a connected call, barge originates the supervisor's phone into ChanSpy on the agent's
    channel: the PBX answers it and reports ChanSpyStart with the agent leg as the spied channel."""
    from twisted.internet import reactor

    floor = yield acd_floor(reactor, ring_timeout=6, agents=[Agent("1001", {"general": 60}, device="PJSIP/1001")])
    sim, ami, acd = floor.sim, floor.ami, floor.acd
    sim.add_device("PJSIP/1001", answer_after=0.5)
    sim.add_device("PJSIP/9001", answer_after=0.5)
    spied = []
    ami.subscribe(lambda m: spied.append(m.get("SpyeeChannel")), names=("ChanSpyStart",))

    hand_over_ivr_callers(ami, acd)
    ami.start()
    try:
        yield ami.when_connected()
        acd.startService()
        acd.agent_login("1001")
        acd.agent_ready("1001")
        sim.dial_in("13800000001", script=CallerScript(talk_seconds=8))
        yield wait_until(reactor, lambda: acd.stats["answered"] == 1, what="the call answered")
        agent_leg = acd.current_call("1001").agent_channel
        response = yield acd.supervise("PJSIP/9001", "1001", "barge")
        assert response.answered
        yield wait_until(reactor, lambda: spied, what="ChanSpyStart")
        assert spied[0] == agent_leg and agent_leg.startswith("PJSIP/1001-")
        yield wait_until(reactor, lambda: acd.sessions["1001"].state is not AgentState.ON_CALL, what="call end")
    finally:
        yield floor.close()


@pytest_twisted.inlineCallbacks
def test_answer_dropped_before_the_bridge_is_requeued_through_the_simulator(db_url):
    """Agent 1001's phone answers and its leg drops before Dial bridges it (DialEnd ANSWER, Hangup, no
    BridgeEnter): the caller is not counted as answered nor 1001 as talking; the dialplan sends the
    unbridged caller back through the requeue AGI (not to the rating), 1001 gets a miss, and 1002 takes
    the call once the simulator's BridgeEnter pair puts both legs in one bridge."""
    from twisted.internet import reactor

    floor = yield acd_floor(reactor, db_url=db_url, ring_timeout=6, wrap_up_seconds=2, agents=TWO_AGENTS)
    sim, ami, acd, store = floor.sim, floor.ami, floor.acd, floor.store
    sim.add_device("PJSIP/1001", answer_after=0.5, drop_on_answer=True)
    sim.add_device("PJSIP/1002", answer_after=1.0)
    states, seen, agi, pair = [], [], [], []
    acd.add_listener(lambda kind, data: states.append((data["state"], data.get("agent_id")))
                     if kind == "call" else None)
    ami.subscribe(lambda m: seen.append((m.name, m.get("Channel"), m.get("DialStatus"))),
                  names=("DialEnd", "BridgeEnter", "Hangup"))
    ami.subscribe(lambda m: pair.append((m.get("Channel"), m.get("BridgeUniqueid"), m.get("BridgeNumChannels"))),
                  names=("BridgeEnter",))

    hand_over_ivr_callers(ami, acd, number="13800000005", steps=agi)
    ami.start()
    try:
        yield ami.when_connected()
        acd.startService()
        for agent in ("1001", "1002"):
            acd.agent_login(agent)
        acd.agent_ready("1001")  # only 1001 ready: the first ring is certainly theirs
        call = sim.dial_in("13800000005", script=CallerScript(talk_seconds=2))
        yield wait_until(reactor, lambda: acd.stats["bridge_failed"] == 1, what="the dropped answer")
        assert acd.stats["answered"] == 0 and acd.sessions["1001"].missed == 1
        assert ("answered", "1001") in states and ("connected", "1001") not in states
        acd.agent_ready("1002")
        yield wait_until(reactor, lambda: acd.stats["answered"] == 1, what="1002 connected")
        assert ("connected", "1002") in states and "requeue" in agi
        yield wait_until(reactor, lambda: acd.sessions["1002"].state is not AgentState.ON_CALL, what="call end")
    finally:
        yield floor.close()
    first_answer = seen.index(("DialEnd", call.name, "ANSWER"))
    dropped = next(i for i, (name, channel, _) in enumerate(seen) if name == "Hangup" and channel.startswith("PJSIP/1001-"))
    bridged = [channel for name, channel, _ in seen if name == "BridgeEnter"]
    assert first_answer < dropped and not any(c.startswith("PJSIP/1001-") for c in bridged)
    assert any(c.startswith("PJSIP/1002-") for c in bridged) and call.name in bridged
    # The pair as in the captures (13-queue-call-agent, 19-audiosocket): the dialled leg enters first
    # (1 inside), then the caller (2 inside), into one bridge.
    (agent_leg, first_id, one), (caller_leg, second_id, two) = pair[:2]
    assert agent_leg.startswith("PJSIP/1002-") and caller_leg == call.name
    assert first_id == second_id and (one, two) == ("1", "2")
    [row] = store.queue_calls()
    assert (row["call_id"], row["outcome"], row["agent_id"]) == (call.uniqueid, "answered", "1002")
    assert "on_call" not in [r["to_state"] for r in store.state_log("1001")]
    store.engine.dispose()
