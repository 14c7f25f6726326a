"""Reconnect in the middle of 50 live calls: nothing lost, nothing counted twice.

The client (AMIClient over MemoryReactorClock + StringTransport) tracks 50
calls, the connection drops, the PBX moves on while we are away (10 calls
end, 5 start), and after the reconnect the CoreShowChannels/QueueStatus
resync must leave tracking equal to the PBX's truth.
"""
from __future__ import annotations

from callcenter.calls import CallTracker
from tests.ami.peer import Link, connected


def snap(uid, linkedid, name, num="13800000000", cname="市民", context="hotline-in", exten="12345", priority="5"):
    return [
        ("Channel", name), ("ChannelState", "6"), ("ChannelStateDesc", "Up"),
        ("CallerIDNum", num), ("CallerIDName", cname), ("ConnectedLineNum", "<unknown>"), ("ConnectedLineName", "<unknown>"),
        ("Language", "zh"), ("AccountCode", ""), ("Context", context), ("Exten", exten), ("Priority", priority),
        ("Uniqueid", uid), ("Linkedid", linkedid), ("ChanVariable", f"HOTLINE_CALLID={linkedid}"), ("ChanVariable", "WORKORDER="),
    ]


class FakeCall:
    """One call as the PBX knows it: a caller leg, and for odd calls an agent leg in a bridge."""

    def __init__(self, i):
        self.i = i
        self.uid = f"1795500000.{2 * i}"
        self.caller = snap(self.uid, self.uid, f"PJSIP/trunk-{i:08x}", num=f"138{i:08d}", cname=f"市民{i}")
        self.agent_uid = f"1795500000.{2 * i + 1}"
        self.agent = snap(self.agent_uid, self.uid, f"PJSIP/10{i:02d}-{i:08x}", num=f"10{i:02d}", cname=f"坐席{i}", context="hotline-agents")
        self.connected = i % 2 == 1
        self.bridge = f"bridge-{i}"

    def start_events(self):
        ev = [[("Event", "Newchannel"), ("Privilege", "call,all")] + self.caller,
              [("Event", "VarSet"), ("Privilege", "dialplan,all")] + self.caller + [("Variable", "HOTLINE_CALLID"), ("Value", self.uid)],
              [("Event", "QueueCallerJoin"), ("Privilege", "agent,all")] + self.caller + [("Queue", "hotline-general"), ("Position", "1"), ("Count", "1")]]
        if self.connected:
            ev += [[("Event", "Newchannel"), ("Privilege", "call,all")] + self.agent,
                   [("Event", "QueueCallerLeave"), ("Privilege", "agent,all")] + self.caller + [("Queue", "hotline-general"), ("Position", "1"), ("Count", "0")],
                   [("Event", "AgentConnect"), ("Privilege", "agent,all")] + self.caller + [("Dest" + k, v) for k, v in self.agent]
                   + [("Queue", "hotline-general"), ("Interface", f"PJSIP/10{self.i:02d}"), ("MemberName", f"坐席{self.i}"), ("HoldTime", "3"), ("RingTime", "1")],
                   [("Event", "BridgeEnter"), ("Privilege", "call,all"), ("BridgeUniqueid", self.bridge), ("BridgeType", "basic")] + self.caller,
                   [("Event", "BridgeEnter"), ("Privilege", "call,all"), ("BridgeUniqueid", self.bridge), ("BridgeType", "basic")] + self.agent]
        return ev

    def hangup_events(self):
        legs = [self.agent, self.caller] if self.connected else [self.caller]
        return [[("Event", "Hangup"), ("Privilege", "call,all")] + leg + [("Cause", "16"), ("Cause-txt", "Normal Clearing")] for leg in legs]

    def core_show_channels(self):
        items = [self.caller + [("Application", "Queue" if not self.connected else "AppQueue"), ("ApplicationData", "hotline-general"),
                                ("Duration", "00:01:05"), ("BridgeId", self.bridge if self.connected else "")]]
        if self.connected:
            items.append(self.agent + [("Application", "AppDial"), ("ApplicationData", "(Outgoing Line)"), ("Duration", "00:00:40"), ("BridgeId", self.bridge)])
        return items

    def queue_entry(self, position):
        return [("Queue", "hotline-general"), ("Position", str(position)), ("Channel", self.caller[0][1]), ("Uniqueid", self.uid),
                ("CallerIDNum", f"138{self.i:08d}"), ("CallerIDName", f"市民{self.i}"), ("Wait", "65"), ("Priority", "0")]


def test_drop_in_the_middle_of_50_live_calls_and_resync():
    """After a reconnect the tracker holds exactly the PBX's live calls with their state, and counts each call once."""
    tracker = CallTracker()
    reactor, client, link = connected(tracker)
    calls = [FakeCall(i) for i in range(50)]
    first_stream = []
    for call in calls:
        for ev in call.start_events():
            first_stream.append(ev)
            link.peer.send(*ev)
    assert len(tracker.calls) == 50 and tracker.calls_started == 50
    assert sum(1 for c in tracker.calls.values() if c.phase == "talking") == 25
    before = {c.uid: tracker.call(c.uid) for c in calls}

    link.drop()
    assert not client.ready
    # While we are away: calls 0-9 end, calls 50-54 start (and 52 is answered by an agent).
    gone, survivors = calls[:10], calls[10:]
    newcomers = [FakeCall(i) for i in range(50, 55)]
    live = survivors + newcomers

    reactor.advance(2.0)
    link2 = Link(reactor, client)
    ready = []
    client.when_connected().addCallback(ready.append)
    link2.login()
    # An event that happens after the list was produced: a brand-new call the list cannot show.
    late = FakeCall(55)
    link2.peer.send(*late.start_events()[0])
    queued = [c for c in live if not c.connected]
    link2.resync(
        channels=[item for c in live for item in c.core_show_channels()],
        entries=[c.queue_entry(pos) for pos, c in enumerate(queued, 1)],
    )
    assert ready and client.ready

    assert set(tracker.calls) == {c.uid for c in live} | {late.uid}
    assert tracker.calls_started == 56 and tracker.calls_ended == 10
    for c in gone:
        ended = tracker.call(c.uid)
        assert ended.ended and ended.hangup_cause_txt == "gone while AMI was disconnected"
    for c in survivors:
        call = tracker.call(c.uid)
        assert call is before[c.uid] and not call.restored, "a surviving call keeps its identity and history"
        assert call.phase == ("talking" if c.connected else "queued")
        assert call.caller_name == f"市民{c.i}"
    for pos, c in enumerate(queued, 1):
        assert tracker.call(c.uid).queue_position == pos
    for c in newcomers:
        call = tracker.call(c.uid)
        assert call.restored and call.phase == ("talking" if c.connected else "queued")
        assert (tracker.call(c.uid).started_at - call.channels[c.uid].created_at).total_seconds() == 0
    assert tracker.call(late.uid).phase in ("answered", "dialing")

    # A second resync (e.g. another reconnect) with the same truth changes nothing.
    link2.drop()
    reactor.advance(2.0)
    link3 = Link(reactor, client)
    link3.login()
    link3.resync(channels=[item for c in live + [late] for item in c.core_show_channels()],
                 entries=[c.queue_entry(pos) for pos, c in enumerate(queued, 1)])
    assert tracker.calls_started == 56 and tracker.calls_ended == 10 and len(tracker.calls) == 46

    # Stale events replayed from before the drop revive nothing and count nothing.
    for ev in first_stream:
        link3.peer.send(*ev)
    for c in gone:
        for ev in c.hangup_events():
            link3.peer.send(*ev)
    assert tracker.calls_started == 56 and tracker.calls_ended == 10 and len(tracker.calls) == 46

    for c in live + [late]:
        for ev in c.hangup_events():
            link3.peer.send(*ev)
    assert not tracker.calls and tracker.calls_ended == 56 and not tracker.channels
