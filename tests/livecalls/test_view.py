"""The live-calls view and feed as pure code: recorded AMI captures folded by a real CallTracker, read
through the rows and details the API serves (masking, DTMF as a count, the ACD's side), and the push
schedule on a task.Clock."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from twisted.internet import task

from callcenter.ami.message import parse_message
from callcenter.calls import CallTracker
from callcenter.livecalls.feed import LiveCalls
from callcenter.livecalls.view import detail, summary, valid_linkedid, visible_to
from callcenter.personal_data import mask_text
from callcenter.routing.acd import CallState, QueuedCall
from callcenter.routing.skills import Caller
from tests.ami.captures import capture_paths, load

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)


def _stream(prefix):
    """(now, event) pairs of a capture's first connection, in order."""
    path = next(p for p in capture_paths() if p.name.startswith(prefix))
    _meta, records = load(path)
    out = []
    for r in records:
        if r["type"] == "data" and r["dir"] == "S" and r["conn"] == 1 and "data" in r \
                and not r["data"].startswith("Asterisk Call"):
            m = parse_message(r["data"].encode()[:-4])
            if m.kind == "event":
                out.append((T0 + timedelta(seconds=r["t"]), m))
    return out


def _fed(prefix) -> CallTracker:
    tracker = CallTracker()
    for now, m in _stream(prefix):
        tracker.apply(m, now)
    return tracker


def test_scrub_masks_phone_numbers_but_not_ids():
    """Numbers in channel names and dial strings are masked; Uniqueids, channel sequence numbers, bridge
    ids and agent extensions are left readable."""
    assert mask_text("Local/13800000001@hotline-pstn-0000000d;1") == "Local/138****0001@hotline-pstn-0000000d;1"
    assert mask_text("13800000001@hotline-pstn") == "138****0001@hotline-pstn"
    assert mask_text("+8613800000001") == "138****0001"
    for kept in ("1795421344.17", "PJSIP/trunk-00000001", "73c16376-3d6e-4d4d-ac63-9c99eddc7d3a", "PJSIP/1001",
                 "2008", "hotline-in,12345", "WO-20261123-0001", None, ""):
        assert mask_text(kept) == kept
    assert valid_linkedid("1795421344.17") and not valid_linkedid("a b") and not valid_linkedid("x" * 65)


def test_survey_callback_hides_the_citizens_number():
    """Capture 15 (a satisfaction call Originated to Local/13800000001@hotline-pstn): nothing in the call's
    detail carries the full number; the channel names show 138****0001; the key press is counted."""
    tracker = _fed("15-")
    [call] = [c for c in tracker.ended if any("hotline-pstn" in ch.name for ch in c.channels.values())
              and any(ch.dtmf for ch in c.channels.values())]
    body = detail(call, call.ended_at)
    text = json.dumps(body, ensure_ascii=False)
    assert "13800000001" not in text and "138****0001" in text
    assert body["phase"] == "ended" and body["dtmf_count"] == 1 and body["channels"] == 0
    assert all("138****0001@hotline-pstn" in ch["name"] for ch in body["channel_list"])


def test_dtmf_is_a_count_only():
    """Capture 11: the caller pressed 5, 3, 7, # and real Asterisk reported ten DTMF events across the Local
    channel pair (received and passed on): the call counts 4 key presses, the channels their 10 events;
    no field of the detail holds digits."""
    tracker = _fed("11-")
    call = tracker.ended[-1]
    body = detail(call, call.ended_at)
    assert body["dtmf_count"] == 4 and sum(ch["dtmf_count"] for ch in body["channel_list"]) == 10
    assert set(body["channel_list"][0]) == {"uniqueid", "name", "state", "bridge_id", "dtmf_count", "alive"}
    assert not {"dtmf", "digits"} & set(body)
    assert all(e["kind"] != "dtmf" for e in body["timeline"])


def test_queue_call_row_while_queued_and_talking():
    """Capture 13 replayed: while queued the row has the queue, position, a growing wait and the masked
    caller; once connected it is talking with Agent 1001 and its wait is frozen at the answer."""
    tracker = CallTracker()
    seen = {}
    for now, m in _stream("13-"):
        call = tracker.apply(m, now)
        if call is not None and not call.ended and call.phase not in seen:
            seen[call.phase] = summary(call, now + timedelta(seconds=5))
    queued, talking = seen["queued"], seen["talking"]
    assert queued["caller"] == "139****0001" and queued["queue"] == "hotline-general"
    assert queued["queue_position"] == 1 and queued["waited_seconds"] >= 5.0 and queued["agent"] is None
    assert talking["agent"] == "Agent 1001" and talking["channels"] >= 2
    later = summary(tracker.call(talking["linkedid"]), T0 + timedelta(hours=1))
    assert later["waited_seconds"] == talking["waited_seconds"] < 60  # frozen when it left the queue
    assert set(queued) == set(talking)


def test_the_acd_fills_in_calls_it_routes_itself():
    """A call waiting in the hotline ACD (AsyncAGI, no Asterisk queue) gets the ACD's queue, wait and state;
    once connected, its agent and the wait up to the answer."""
    tracker = _fed("10-")  # an IVR call in AsyncAGI
    call = tracker.ended[-1]
    enqueued = call.started_at + timedelta(seconds=2)
    callid = call.hotline_callid  # the ACD's key: HOTLINE_CALLID as the dialplan set it
    qc = QueuedCall(Caller(callid, "hotline-general", "general", 0, enqueued), "PJSIP/trunk-1")
    acd = SimpleNamespace(calls={callid: qc})
    from callcenter.livecalls.view import acd_entry

    assert callid and acd_entry(acd, call) is qc and acd_entry(SimpleNamespace(calls={}), call) is None
    waiting = summary(call, enqueued + timedelta(seconds=30), qc)
    assert waiting["queue"] == "hotline-general" and waiting["acd_state"] == "waiting"
    assert waiting["waited_seconds"] == 30.0 and waiting["agent"] is None
    qc.state, qc.agent_id, qc.answered_at = CallState.CONNECTED, "agent1", enqueued + timedelta(seconds=12)
    connected = summary(call, enqueued + timedelta(seconds=90), qc)
    assert connected["agent"] == "agent1" and connected["acd_state"] == "connected"
    assert connected["waited_seconds"] == 12.0
    assert summary(call, enqueued, None)["queue"] is None  # without the ACD: only what Asterisk said


def test_who_sees_which_call():
    """Supervisors and admins see every call; an agent only a call they are the agent of; others none."""
    row = {"agent": "agent1"}
    user = lambda role, name="u": SimpleNamespace(role=role, username=name)  # noqa: E731
    assert visible_to(user("supervisor"), row) and visible_to(user("admin"), row)
    assert visible_to(user("agent", "agent1"), row) and not visible_to(user("agent", "agent2"), row)
    assert not visible_to(user("agent", "agent1"), {"agent": None})
    assert not visible_to(user("department", "agent1"), row) and not visible_to(user("dispatcher", "agent1"), row)


class _Stream:
    """Records what would go to the open pages (unit test of the feed's schedule)."""

    def __init__(self):
        self.clients, self.sent = set(), []

    def publish(self, event, data):
        self.sent.append((event, data))


def test_feed_pushes_soon_after_a_call_starts_and_only_when_rows_change():
    """With no page open nothing is computed; with one, a new call is pushed within `soon`, an unchanged
    table is not re-sent on the next tick, a growing wait is; stop() unhooks from the tracker."""
    clock = task.Clock()
    clock.advance(T0.timestamp())
    stream, tracker = _Stream(), CallTracker()
    live = LiveCalls(stream, clock, tz="Asia/Shanghai")
    live.attach(tracker, time_source=clock)
    events = _stream("13-")
    join = next(i for i, (_, m) in enumerate(events) if m.name == "QueueCallerJoin")
    for now, m in events[:join]:
        tracker.apply(m, now)
    clock.advance(live.publish_interval)
    assert stream.sent == []  # nobody watching
    stream.clients.add(object())
    clock.advance(live.publish_interval)
    assert len(stream.sent) == 1 and stream.sent[0][1]["total"] == 1
    clock.advance(live.publish_interval)
    assert len(stream.sent) == 1  # same rows: not re-sent
    tracker.apply(events[join][1], events[join][0])  # queued: the wait now grows with the clock
    clock.advance(live.publish_interval)
    clock.advance(live.publish_interval)
    assert len(stream.sent) == 3 and stream.sent[-1][1]["calls"][0]["phase"] == "queued"
    row = stream.sent[-1][1]["calls"][0]
    assert row["started_local"] == live.local(row["started_at"]) and len(row["started_local"]) == 8
    hooks = len(tracker.on_call_started)
    live.stop()
    assert len(tracker.on_call_started) == hooks - 1 and not clock.getDelayedCalls()


def test_feed_pushes_a_new_call_before_the_next_tick():
    """A call start (tracker hook) is pushed after `soon`, not a whole publish interval later."""
    clock = task.Clock()
    clock.advance(T0.timestamp())
    stream, tracker = _Stream(), CallTracker()
    stream.clients.add(object())
    live = LiveCalls(stream, clock)
    live.attach(tracker, time_source=clock)
    for now, m in _stream("13-"):
        tracker.apply(m, now)
        if tracker.calls:
            break
    assert stream.sent == []
    clock.advance(live.soon)
    assert len(stream.sent) == 1 and stream.sent[0][0] == "calls"
    live.stop()
