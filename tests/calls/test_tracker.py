"""CallTracker fed with the real captures: what each recorded call was doing, and idempotence."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from callcenter.ami.message import Message, parse_message
from callcenter.calls import CallTracker
from tests.ami.captures import capture_paths, load

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)


def _stream(prefix):
    """(now, event message) pairs of a capture's connection 1, in order."""
    path = next(p for p in capture_paths() if p.name.startswith(prefix))
    meta, records = load(path)
    out = []
    for r in records:
        if r["type"] == "data" and r["dir"] == "S" and r["conn"] == 1 and "data" in r and not r["data"].startswith("Asterisk Call"):
            m = parse_message(r["data"].encode()[:-4])
            if m.kind == "event":
                out.append((T0 + timedelta(seconds=r["t"]), m))
    return out


def _feed(prefix, tracker=None):
    tracker = tracker or CallTracker()
    for now, m in _stream(prefix):
        tracker.apply(m, now)
    return tracker


def test_queue_call_connected_to_agent():
    """Capture 13: a UTF-8 caller queues, agent 1001 answers and hangs up; the call tells that story."""
    t = _feed("13-")
    assert t.calls_started == 1 and t.calls_ended == 1 and not t.calls
    call = t.ended[-1]
    assert call.caller_name == "张三" and call.caller_number == "13900000001"
    assert call.caller_number_masked == "139****0001"
    assert call.queue == "hotline-general" and call.queue_outcome == "connected"
    assert call.agent == "Agent 1001" and call.complete_reason == "agent" and call.talk_time >= 1
    assert call.recordings == ["<ASTSPOOLDIR>/monitor/1795421344.17.wav"]
    kinds = [e.kind for e in call.timeline]
    assert kinds.index("queue_join") < kinds.index("agent_no_answer") < kinds.index("agent_connect") < kinds.index("agent_complete")
    assert call.hangup_cause == 16 and call.phase == "ended"


def test_phase_while_live_in_capture_13():
    """Midway through capture 13 the call is queued, then ringing, then talking."""
    t = CallTracker()
    phases = []
    for now, m in _stream("13-"):
        call = t.apply(m, now)
        if call is not None and not call.ended and (not phases or phases[-1] != call.phase):
            phases.append(call.phase)
    for expected in ("queued", "ringing", "talking"):
        assert expected in phases
    assert phases.index("queued") < phases.index("talking")


def test_abandon_versus_queue_timeout():
    """Capture 14: caller 1 abandons, caller 2 times out (only QUEUESTATUS=TIMEOUT tells them apart)."""
    t = _feed("14-")
    outcomes = sorted((c.caller_name, c.queue_outcome) for c in t.ended)
    assert outcomes == [("Li Si", "abandoned"), ("Wang Wu", "timeout")]
    assert all(c.hold_time is not None for c in t.ended)


def test_ivr_digits_and_args():
    """Capture 10: the AsyncAGI IVR session, the caller's keys as the hotline channel received them."""
    t = _feed("10-")
    call = t.ended[-1]
    assert call.ivr_args == ("ivr-main",) and call.digits == "12#9"
    kinds = [e.kind for e in call.timeline]
    assert "ivr_start" in kinds and "ivr_end" in kinds


def test_transfer_to_department_queue():
    """Capture 17: redirected from the general queue to hotline-dept and answered there."""
    t = _feed("17-")
    call = t.ended[-1]
    assert call.queue == "hotline-dept" and call.transfers == 1 and call.agent == "Dept 2001"
    assert t.calls_started == 1


def test_originate_failures_each_end_once():
    """Capture 16: five failed callbacks, each a call that ends once with its hangup cause."""
    t = _feed("16-")
    assert t.calls_started == t.calls_ended and not t.calls


def test_recording_start_stop():
    """Capture 18: MixMonitor start/stop toggle recording; the file comes from MIXMONITOR_FILENAME."""
    t = CallTracker()
    states = []
    for now, m in _stream("18-"):
        call = t.apply(m, now)
        if call is not None and m.name in ("MixMonitorStart", "MixMonitorStop"):
            states.append(call.recording_active)
    assert states == [True, False]
    assert t.ended[-1].recordings == ["<ASTSPOOLDIR>/monitor/manual-recording-test.wav"]


def test_global_varset_is_not_a_channel():
    """Capture 20: a global Setvar (Channel: none) is stored as a global, not as a call."""
    t = _feed("20-")
    assert t.calls_started == 0 and t.globals.get("HOTLINE_MODE") == "day"


@pytest.mark.parametrize("prefix", [p.name[:3] for p in capture_paths()])
def test_replaying_twice_counts_once(prefix):
    """Every capture fed twice gives the same counts: replays never double-count or revive calls."""
    once = _feed(prefix)
    twice = _feed(prefix, _feed(prefix))
    assert (twice.calls_started, twice.calls_ended, len(twice.calls)) == (once.calls_started, once.calls_ended, len(once.calls))


def test_live_queries():
    """Lookups by channel name, uniqueid and HOTLINE_CALLID find the live call; queue listing is oldest first."""
    t = CallTracker()
    for now, m in _stream("13-"):
        t.apply(m, now)
        if m.name == "QueueCallerJoin":
            break
    call = t.call_of_channel(m.get("Channel"))
    assert call is not None and call is t.call_of_channel(m.get("Uniqueid"))
    assert t.call_by_hotline_id(m.get("Uniqueid")) is call
    assert t.in_queue("hotline-general") == [call] and t.in_queue("other") == []
    assert call.waited(call.queue_joined_at + timedelta(seconds=5)) == 5.0


def test_memory_bounded_for_many_calls():
    """20,000 short calls leave no live state and keep only the configured number of ended calls."""
    t = CallTracker()
    for i in range(20_000):
        uid = f"1800000000.{i}"
        base = [("Channel", f"PJSIP/trunk-{i:08x}"), ("ChannelState", "6"), ("Uniqueid", uid), ("Linkedid", uid)]
        t.apply(Message([("Event", "Newchannel")] + base), T0)
        t.apply(Message([("Event", "VarSet")] + base + [("Variable", "X"), ("Value", "1")]), T0)
        t.apply(Message([("Event", "Hangup")] + base + [("Cause", "16"), ("Cause-txt", "Normal Clearing")]), T0)
    assert not t.calls and not t.channels and len(t.ended) == t.keep_ended
    assert len(t._gone) <= t.keep_gone and t.calls_started == t.calls_ended == 20_000


def test_only_hotline_variables_are_kept():
    """VarSets of Asterisk's own bookkeeping are skipped; the hotline's variables are kept on the channel."""
    t = _feed("13-")
    t2 = CallTracker()
    for now, m in _stream("13-"):
        t2.apply(m, now)
        if m.name == "AgentConnect":
            break
    call = next(iter(t2.calls.values()))
    hotline = call.hotline_channel
    assert hotline.variables["HOTLINE_CALLID"] == hotline.uniqueid
    assert "MIXMONITOR_FILENAME" in hotline.variables
    assert all(not k.startswith("QUEUE") or k == "QUEUESTATUS" for c in call.channels.values() for k in c.variables)
    assert t.calls_ended == 1


def _state(tracker):
    """Every tracked call and channel as plain values (the ``call`` back-reference left out)."""

    def values(obj, skip):
        names = set(type(obj).__annotations__) | set(vars(obj))
        return tuple(sorted((k, getattr(obj, k)) for k in names if k != skip))

    calls = list(tracker.ended) + list(tracker.calls.values())
    return [(values(call, "channels"), [values(c, "call") for _, c in sorted(call.channels.items())]) for call in calls]


@pytest.mark.parametrize("prefix", ["10-", "11-", "13-", "14-", "15-", "17-", "18-", "19-"])
def test_wire_fast_path_matches_parsed_pairs(prefix):
    """Events read off the wire (headers found in the raw bytes, only kept values decoded) build exactly
    the same calls and channels as the same events parsed into pairs first, on real captures."""
    stream = _stream(prefix)
    assert any(m.name == "Newchannel" for _, m in stream)
    by_pairs, by_wire = CallTracker(), CallTracker()
    for now, m in stream:
        by_pairs.apply(m, now)
    wire = [(now, Message.from_event_frame(m.to_bytes()[:-4])) for now, m in stream]
    for now, m in wire:
        by_wire.apply(m, now)
    assert by_wire.calls_started == by_pairs.calls_started > 0
    assert _state(by_wire) == _state(by_pairs)
    assert not any(m._text for _, m in wire if m.name in ("VarSet", "Newstate", "Hangup")), "tracking decoded a whole frame"


def test_other_header_spelling_falls_back():
    """A header spelled otherwise than Asterisk does (``UniqueID``, ``CHANNELSTATE``) is still read, through
    the message's case-insensitive lookup."""
    frame = (b"Event: Newchannel\r\nChannel: PJSIP/7-1\r\nCHANNELSTATE: 6\r\nChannelStateDesc: Up\r\n"
             b"CallerIDNum: 1390000\r\nUniqueID: 7.1\r\nlinkedid: 7.1")
    t = CallTracker()
    t.apply(Message.from_event_frame(frame), T0)
    chan = t.channel("7.1")
    assert chan is not None and chan.linkedid == "7.1" and chan.state == 6 and chan.caller_id_num == "1390000"
    t.apply(Message.from_event_frame(b"Event: VarSet\r\nUniqueID: 7.1\r\nVARIABLE: IVR_ACTION\r\nvalue: menu"), T0)
    assert chan.variables == {"IVR_ACTION": "menu"}


def test_snapshot_out_of_order_falls_back():
    """A snapshot not in Asterisk's layout (Linkedid before Uniqueid) is still read, header by header."""
    text = (b"Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/9-1\r\nChannelState: 6\r\nChannelStateDesc: Up\r\n"
            b"CallerIDNum: 13800001234\r\nCallerIDName: \xe5\xbc\xa0\r\nLinkedid: 77.1\r\nUniqueid: 77.2\r\nContext: c\r\nExten: 1\r\n"
            b"Priority: 2\r\nChanVariable: A=1")
    t = CallTracker()
    t.apply(Message.from_event_frame(text), T0)
    chan = t.channel("77.2")
    assert chan.linkedid == "77.1" and chan.state == 6 and chan.answered_at == T0
    assert chan.caller_id_name == "张" and chan.priority == 2 and chan.variables == {"A": "1"}


def test_forgotten_calls_are_freed_without_the_garbage_collector():
    """A call pushed out of ``ended`` has its call<->channel cycle broken, so reference counting frees
    it at once: with the cyclic collector off, no more Call objects exist than the tracker keeps."""
    import gc

    class Small(CallTracker):
        keep_ended = 3

    t = Small()
    gc.collect()
    gc.disable()
    try:
        for i in range(20):
            snap = (f"Channel: PJSIP/trunk-{i}\r\nChannelState: 4\r\nChannelStateDesc: Ring\r\nCallerIDNum: 1390000{i:04d}\r\n"
                    f"CallerIDName: 李{i}\r\nConnectedLineNum: \r\nConnectedLineName: \r\nLanguage: zh\r\nAccountCode: \r\n"
                    f"Context: hotline-in\r\nExten: 12345\r\nPriority: 1\r\nUniqueid: 9.{i}\r\nLinkedid: 9.{i}")
            t.apply(Message.from_event_frame(f"Event: Newchannel\r\n{snap}".encode()), T0)
            t.apply(Message.from_event_frame(f"Event: Hangup\r\n{snap}\r\nCause: 16\r\nCause-txt: Normal Clearing".encode()), T0)
        alive = sum(1 for o in gc.get_objects() if type(o).__name__ == "Call" and getattr(o, "linkedid", "").startswith("9."))
    finally:
        gc.enable()
    assert t.calls_ended == 20 and len(t.ended) == 3
    assert alive == 3
    assert [c.linkedid for c in t.ended] == ["9.17", "9.18", "9.19"]


def test_wire_fast_path_matches_on_the_benchmark_stream():
    """On the benchmark's synthetic hotline stream (channels first seen in Dest… snapshots of agent and
    dial events too), wire messages and parsed pairs give the same tracked calls and channels."""
    from callcenter.bench.ami import generate

    frames = [f for f in generate(3000, seed=7).split(b"\r\n\r\n") if f]
    by_pairs, by_wire = CallTracker(), CallTracker()
    for i, frame in enumerate(frames):
        now = T0 + timedelta(milliseconds=i)
        by_pairs.apply(parse_message(frame), now)
        by_wire.apply(Message.from_event_frame(frame), now)
    assert by_wire.calls_started == by_pairs.calls_started > 100
    assert len(by_wire.channels) == len(by_pairs.channels) > 0
    assert _state(by_wire) == _state(by_pairs)


def _shouted(frame: bytes) -> Message:
    """The same event with every header name upper-cased: no fast path (which
    searches Asterisk's exact spelling) can match, so every value is read
    header by header through the message's case-insensitive lookup."""
    lines = frame.split(b"\r\n")
    return parse_message(b"\r\n".join(k.upper() + b": " + v for k, _, v in (line.partition(b": ") for line in lines)))


@pytest.mark.parametrize("source", ["captures", "bench"])
def test_fast_paths_match_the_header_by_header_path(source):
    """What the AMI client feeds (apply_frame on wire bytes: snapshot match, Uniqueid bytes lookups,
    cached VarSet/DTMF/state lines) builds the same calls and channels as reading every header
    one by one, on every real capture and on the benchmark stream."""
    if source == "captures":
        frames = [m.to_bytes()[:-4] for prefix in ("10-", "11-", "13-", "14-", "15-", "17-", "18-", "19-")
                  for _, m in _stream(prefix)]
    else:
        from callcenter.bench.ami import generate

        frames = [f for f in generate(3000, seed=11).split(b"\r\n\r\n") if f]
    fast, slow = CallTracker(), CallTracker()
    for i, frame in enumerate(frames):
        now = T0 + timedelta(milliseconds=i)
        fast.apply_frame(frame[7:frame.index(b"\r\n")].decode(), frame, now)
        slow.apply(_shouted(frame), now)
    assert fast.calls_started == slow.calls_started > 5
    assert fast.events_applied == slow.events_applied
    assert _state(fast) == _state(slow)
