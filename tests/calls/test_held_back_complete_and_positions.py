"""CallTracker and two real-Asterisk behaviours the simulator used to hide.

- After a Redirect out of a queue, that queue's final ``AgentComplete`` can arrive with no channel
  fields at all; the tracker attributes it by queue + member + time instead of dropping the talk time.
- Queue positions stay current: when a caller ahead leaves, everyone behind moves up.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from callcenter.ami.message import parse_message
from callcenter.calls import CallTracker
from callcenter.pbxsim import CallerScript
from tests.calls.test_tracker import _stream
from tests.pbxsim.harness import Peer, advance, make

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
_SNAPSHOT = re.compile(r"^(Dest)?(Channel|ChannelState|ChannelStateDesc|CallerIDNum|CallerIDName|ConnectedLineNum|"
                       r"ConnectedLineName|Language|AccountCode|Context|Exten|Priority|Uniqueid|Linkedid|ChanVariable)$")


def _without_channel(message):
    """The same AgentComplete as Asterisk sends it when the caller's snapshot is already gone."""
    lines = [f"{k}: {v}" for k, v in message.pairs if not _SNAPSHOT.match(k)]
    return parse_message(("\r\n".join(lines)).encode("utf-8"))


def test_a_channel_less_agent_complete_is_attributed_by_queue_member_and_time():
    """Capture 17 (a transfer by Redirect to the department queue) with the first queue's held-back
    AgentComplete stripped of every channel field: its talk time still lands on the right call."""
    tracker = CallTracker()
    stripped = 0
    for now, m in _stream("17-"):
        if m.name == "AgentComplete" and m.get("Queue") == "hotline-general":
            m = _without_channel(m)
            assert m.get("Uniqueid") is None and m.get("Channel") is None
            stripped += 1
        tracker.apply(m, now)
    assert stripped == 1
    (call,) = [c for c in tracker.ended if c.agent_legs]
    legs = {leg[0]: leg for leg in call.agent_legs}
    assert legs["hotline-general"][1] == "Agent 1001" and legs["hotline-general"][4] == 8
    assert legs["hotline-dept"][1] == "Dept 2001" and legs["hotline-dept"][4] == 5
    assert [e.kind for e in call.timeline].count("agent_complete") == 2
    assert call.agent == "Dept 2001" and call.talk_time == 5 and call.complete_reason == "agent"


def test_a_channel_less_agent_complete_for_nobody_known_changes_nothing():
    tracker = CallTracker()
    for now, m in _stream("13-"):
        tracker.apply(m, now)
    before = [(c.linkedid, c.talk_time) for c in tracker.ended]
    frame = ("Event: AgentComplete\r\nPrivilege: agent,all\r\nQueue: hotline-general\r\nInterface: Local/9@x/n\r\n"
             "MemberName: Agent 9\r\nHoldTime: 1\r\nTalkTime: 3\r\nReason: caller")
    assert tracker.apply(parse_message(frame.encode()), T0 + timedelta(hours=1)) is None
    assert [(c.linkedid, c.talk_time) for c in tracker.ended] == before


def test_queue_positions_move_up_when_a_caller_ahead_leaves(tmp_path):
    """Three callers wait (the only agent is paused); the first gives up: the others are now 1 and 2."""
    sim, clock = make(tmp_path, dialplan="lab")
    peer = Peer(sim, clock)
    peer.login()
    peer.send("QueuePause", Interface="Local/1001@hotline-agents/n", Paused="true")
    first = sim.dial_in("13900000001", exten="101", script=CallerScript(patience=6), context="hotline-in")
    advance(clock, 1.0)
    second = sim.dial_in("13900000002", exten="101", script=CallerScript(), context="hotline-in")
    advance(clock, 1.0)
    third = sim.dial_in("13900000003", exten="101", script=CallerScript(), context="hotline-in")
    advance(clock, 1.0)
    tracker = CallTracker()

    def feed():
        for pairs in peer.read():
            if pairs[0][0] == "Event":
                frame = "\r\n".join(f"{k}: {v}" for k, v in pairs)
                tracker.apply(parse_message(frame.encode("utf-8")), T0 + timedelta(seconds=clock.seconds() - 1795421285.0))

    feed()
    position = {c.caller_number: c.queue_position for c in tracker.calls.values()}
    assert position == {"13900000001": 1, "13900000002": 2, "13900000003": 3}
    advance(clock, 8.0)   # the first caller's patience runs out: QueueCallerAbandon + QueueCallerLeave
    feed()
    assert first.hungup and not second.hungup and not third.hungup
    position = {c.caller_number: c.queue_position for c in tracker.calls.values()}
    assert position == {"13900000002": 1, "13900000003": 2}
    assert [c.queue_position for c in tracker.in_queue("hotline-general")] == [1, 2]
