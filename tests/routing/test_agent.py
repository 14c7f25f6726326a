"""Agent states: the transition table, timed wrap-up, missed rings, pause reasons."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from callcenter.routing.agent import TRANSITIONS, AgentSession, AgentState
from callcenter.routing.errors import RoutingError

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def test_call_cycle_ready_ringing_on_call_wrap_up_ready():
    """The normal cycle yields one change per step, wrap-up ends at its configured time."""
    s = AgentSession("1001", wrap_up_seconds=10)
    changes = [s.login(at(0)), s.ready(at(1)), s.offer(at(2), "call-1"), s.answer(at(4)), s.hangup(at(60))]
    assert [(c.from_state, c.to_state) for c in changes] == [
        (AgentState.LOGGED_OUT, AgentState.PAUSED), (AgentState.PAUSED, AgentState.READY),
        (AgentState.READY, AgentState.RINGING), (AgentState.RINGING, AgentState.ON_CALL),
        (AgentState.ON_CALL, AgentState.WRAP_UP)]
    assert changes[2].call_id == "call-1" and changes[4].call_id == "call-1"
    assert not s.wrap_up_due(at(69)) and s.wrap_up_due(at(70))
    done = s.ready(at(70))
    assert done.to_state is AgentState.READY and s.call_id == ""


def test_no_wrap_up_goes_straight_to_ready():
    """With wrap-up 0 a hangup makes the agent ready at once."""
    s = AgentSession("1001", wrap_up_seconds=0)
    s.login(at(0)); s.ready(at(0)); s.offer(at(1), "c"); s.answer(at(2))
    assert s.hangup(at(3)).to_state is AgentState.READY


def test_missed_rings_pause_the_agent_after_n():
    """Each ring-out counts; the Nth in a row pauses the agent with reason 'missed'; an answer resets."""
    s = AgentSession("1001", max_missed=2)
    s.login(at(0)); s.ready(at(0))
    s.offer(at(1), "c1")
    first = s.no_answer(at(9))
    assert first.to_state is AgentState.READY and first.call_id == "c1" and s.missed == 1
    s.offer(at(10), "c2")
    second = s.no_answer(at(18))
    assert second.to_state is AgentState.PAUSED and second.reason == "missed"
    s.ready(at(30))
    assert s.missed == 0


def test_caller_hanging_up_during_ring_is_not_a_miss():
    """A cancelled ring returns the agent to ready without counting a miss."""
    s = AgentSession("1001", max_missed=1)
    s.login(at(0)); s.ready(at(0)); s.offer(at(1), "c1")
    assert s.cancel(at(2)).to_state is AgentState.READY and s.missed == 0


def test_pause_during_call_applies_after_it():
    """Asking for a break while talking pauses the agent when the call ends, not mid-call."""
    s = AgentSession("1001", wrap_up_seconds=30)
    s.login(at(0)); s.ready(at(0)); s.offer(at(1), "c1"); s.answer(at(2))
    assert s.pause(at(3), "break") is None and s.state is AgentState.ON_CALL
    end = s.hangup(at(40))
    assert end.to_state is AgentState.PAUSED and end.reason == "break"


def test_illegal_moves_and_unknown_reasons_are_refused():
    """Events not in the table raise agent.bad_transition and leave the state alone."""
    s = AgentSession("1001")
    with pytest.raises(RoutingError) as e:
        s.offer(at(0), "c1")
    assert e.value.error_id == "agent.bad_transition" and s.state is AgentState.LOGGED_OUT
    s.login(at(0)); s.ready(at(0)); s.offer(at(1), "c1"); s.answer(at(2))
    with pytest.raises(RoutingError):
        s.logout(at(3))
    with pytest.raises(RoutingError) as e2:
        s.pause(at(3), "nap")
    assert e2.value.error_id == "agent.bad_reason" and s.state is AgentState.ON_CALL


def test_every_state_is_reachable_and_left():
    """The table has no dead ends: each state has a way in and a way out."""
    targets = set(TRANSITIONS.values())
    sources = {state for state, _ in TRANSITIONS}
    assert set(AgentState) == targets | {AgentState.LOGGED_OUT} == sources
