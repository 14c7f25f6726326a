"""Transfers to a department line over TCP: the queue controller drives the PBX simulator's hotline-transfer."""
from __future__ import annotations

import pytest_twisted

from callcenter.pbxsim.participants import CallerScript
from callcenter.routing.agent import AgentState
from tests.routing.sim import acd_floor, hand_over_ivr_callers
from tests.routing.test_acd_sim import TWO_AGENTS, wait_until


@pytest_twisted.inlineCallbacks
def test_department_phone_dropping_before_the_bridge_returns_the_caller_to_the_queue(db_url):
    """Agent 1001 transfers the caller to line 2001, whose phone answers and drops before Dial bridges it
    (DialEnd ANSWER, no BridgeEnter with 2001): hotline-transfer must not take DIALSTATUS = ANSWER for a
    connection, so the caller is not hung up but goes through the requeue AGI back to the hotline queue,
    where agent 1002 answers them."""
    from twisted.internet import reactor

    floor = yield acd_floor(reactor, db_url=db_url, ring_timeout=6, wrap_up_seconds=2, agents=TWO_AGENTS)
    sim, ami, acd = floor.sim, floor.ami, floor.acd
    sim.add_device("PJSIP/1001", answer_after=0.5)
    sim.add_device("PJSIP/1002", answer_after=0.5)
    sim.add_device("PJSIP/2001", answer_after=0.5, drop_on_answer=True)
    connected, agi, seen = [], [], []
    acd.add_listener(lambda kind, data: connected.append(data.get("agent_id"))
                     if kind == "call" and data["state"] == "connected" else None)
    ami.subscribe(lambda m: seen.append((m.name, m.get("Channel"), m.get("DestChannel"), m.get("DialStatus"))),
                  names=("DialEnd", "BridgeEnter", "Hangup"))

    hand_over_ivr_callers(ami, acd, number="13800000007", steps=agi)
    ami.start()
    try:
        yield ami.when_connected()
        acd.startService()
        for agent in ("1001", "1002"):
            acd.agent_login(agent)
        acd.agent_ready("1001")  # only 1001 ready: the first answer is certainly theirs
        call = sim.dial_in("13800000007", script=CallerScript(talk_seconds=60))
        yield wait_until(reactor, lambda: connected == ["1001"], what="1001 connected")
        yield acd.transfer("1001", "2001")
        yield wait_until(reactor, lambda: any(name == "DialEnd" and (dest or "").startswith("PJSIP/2001-")
                                              for name, _, dest, _ in seen), what="the department phone's answer")
        acd.agent_ready("1002")
        yield wait_until(reactor, lambda: "1002" in connected, what="the caller back in the queue and connected")
        assert agi.count("requeue") == 1 and call.name in sim.channels
        assert acd.sessions["1002"].state is AgentState.ON_CALL
    finally:
        yield floor.close()
    [answer] = [status for name, _, dest, status in seen if name == "DialEnd" and dest.startswith("PJSIP/2001-")]
    assert answer == "ANSWER"
    bridged = [channel for name, channel, _, _ in seen if name == "BridgeEnter"]
    assert not any(c.startswith("PJSIP/2001-") for c in bridged)
    assert any(c.startswith("PJSIP/1002-") for c in bridged)
