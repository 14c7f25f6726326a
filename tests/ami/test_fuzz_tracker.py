"""Fuzzing the AMI read path: the protocol's framing and parsing and the call tracker are fed real captured
Asterisk traffic cut at random places, with frames truncated, bytes flipped, headers dropped or repeated
and values replaced by arbitrary text.  Whatever arrives, nothing raises out of the read path, the
tracker's state stays readable, and a clean frame after the garbage is still understood."""
from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import HealthCheck, given, settings, strategies as st
from twisted.internet import task
from twisted.internet.testing import StringTransport

from callcenter.ami.protocol import AMIProtocol
from callcenter.calls import CallTracker
from tests.ami.captures import ami_connections, capture_paths, load, server_frames

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=timezone.utc)
NEWCHANNEL = (b"Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/fuzz-00000001\r\nChannelState: 0\r\n"
              b"ChannelStateDesc: Down\r\nCallerIDNum: 13800000000\r\nCallerIDName: <unknown>\r\n"
              b"ConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: zh\r\nAccountCode: \r\n"
              b"Context: hotline\r\nExten: s\r\nPriority: 1\r\nUniqueid: 1765000000.991\r\n"
              b"Linkedid: 1765000000.991\r\n\r\n")


def _frames() -> list[bytes]:
    frames = []
    for path in capture_paths():
        meta, records = load(path)
        for conn in ami_connections(meta, records):
            frames.extend(server_frames(records, conn)[1:])  # after the greeting
    return frames


FRAMES = _frames()


@st.composite
def mangled(draw) -> bytes:
    frame = draw(st.sampled_from(FRAMES))
    how = draw(st.sampled_from(["as is", "truncate", "flip", "drop line", "repeat line", "replace value", "junk"]))
    if how == "truncate":
        frame = frame[:draw(st.integers(0, max(0, len(frame) - 1)))]
    elif how == "flip" and frame:
        at = draw(st.integers(0, len(frame) - 1))
        frame = frame[:at] + bytes([draw(st.integers(0, 255))]) + frame[at + 1:]
    elif how in ("drop line", "repeat line", "replace value"):
        lines = frame.split(b"\r\n")
        i = draw(st.integers(0, len(lines) - 1))
        if how == "drop line":
            del lines[i]
        elif how == "repeat line":
            lines.insert(i, lines[i])
        else:
            key = lines[i].partition(b":")[0]
            lines[i] = key + b": " + draw(st.binary(max_size=60)).replace(b"\r\n", b"")
        frame = b"\r\n".join(lines)
    elif how == "junk":
        frame = draw(st.binary(max_size=300))
    return frame


def _wire(tracker: CallTracker, clock: task.Clock) -> AMIProtocol:
    proto = AMIProtocol(clock=clock)
    proto.dispatcher.subscribe_frames(lambda name, frame: tracker.apply_frame(name, frame, NOW))
    proto.makeConnection(StringTransport())
    proto.dataReceived(b"Asterisk Call Manager/9.0.0\r\n")
    return proto


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(mangled(), min_size=1, max_size=40), st.lists(st.integers(1, 4000), max_size=10))
def test_mangled_captured_traffic_never_breaks_the_read_path_or_the_tracker(frames, cuts):
    clock = task.Clock()
    tracker = CallTracker()
    proto = _wire(tracker, clock)
    stream = b"".join(f + b"\r\n\r\n" for f in frames)
    at = 0
    for cut in sorted(cuts) + [len(stream)]:
        proto.dataReceived(stream[at:cut])
        at = max(at, cut)
    # still readable state …
    assert all(repr(call) for call in tracker.live_calls())
    assert isinstance(tracker.in_queue(), list)
    # … and a well-formed event after all that is still understood
    proto.dataReceived(b"\r\n\r\n" + NEWCHANNEL)
    assert tracker.channel("PJSIP/fuzz-00000001") is not None


def test_an_event_after_a_stray_blank_line_is_not_lost():
    """An odd number of CRLF pairs before a frame (found by the fuzzer) used to make the next event a
    'malformed frame'; it is read without the stray blank line."""
    tracker = CallTracker()
    proto = _wire(tracker, task.Clock())
    proto.dataReceived(b"Response: Success\r\nActionID: a1-1\r\nMessage: Authentication accepted\r\n\r\n\r\n")
    proto.dataReceived(b"\r\n\r\n" + NEWCHANNEL)
    assert tracker.channel("PJSIP/fuzz-00000001") is not None
