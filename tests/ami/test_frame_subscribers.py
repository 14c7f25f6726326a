"""Frame subscribers: hot readers get an event's name and wire bytes, and no
Message is built for an event only they want (StringTransport + task.Clock)."""
from __future__ import annotations

import pytest
from twisted.internet.task import Clock

import callcenter.ami.dispatch as dispatch_module
from callcenter.ami.protocol import AMIProtocol
from tests.ami.peer import WirePeer


@pytest.fixture
def conn(monkeypatch):
    built = []
    original = dispatch_module._from_event_frame

    def counting(frame, name=None):
        built.append(name)
        return original(frame, name)

    monkeypatch.setattr(dispatch_module, "_from_event_frame", counting)
    proto = AMIProtocol(clock=Clock())
    return proto, WirePeer.greeted(proto), built


def test_frame_subscriber_gets_wire_bytes_and_no_message_is_built(conn):
    """An event only frame subscribers want reaches them as (name, bytes) without a Message."""
    proto, peer, built = conn
    got = []
    proto.dispatcher.subscribe_frames(lambda name, frame: got.append((name, frame)), names=["varset"])
    peer.raw("Event: VarSet\r\nPrivilege: dialplan,all\r\nChannel: PJSIP/1001-1\r\nVariable: 坐席\r\nValue: 张三\r\n\r\n".encode())
    assert got == [("VarSet", "Event: VarSet\r\nPrivilege: dialplan,all\r\nChannel: PJSIP/1001-1\r\nVariable: 坐席\r\nValue: 张三".encode())]
    assert built == [] and proto.events_received == 1


def test_message_built_once_only_when_a_message_subscriber_wants_the_event(conn):
    """Frame and message subscribers of one event each get their form; one Message serves all message subscribers."""
    proto, peer, built = conn
    frames, messages, everything = [], [], []
    proto.dispatcher.subscribe_frames(lambda name, frame: frames.append(name), names=["Hangup", "Newstate"])
    proto.dispatcher.subscribe(messages.append, names=["hangup"])
    proto.dispatcher.subscribe(everything.append, predicate=lambda m: m.get("Uniqueid") == "1.1")
    peer.send(("Event", "Newstate"), ("Uniqueid", "1.2"))
    peer.send(("Event", "Hangup"), ("Uniqueid", "1.1"), ("Cause", "16"))
    assert frames == ["Newstate", "Hangup"]
    assert [m.get("Cause") for m in messages] == ["16"] and everything == messages
    assert built == ["Newstate", "Hangup"]  # the predicate subscriber wants every event


def test_frame_subscriber_of_a_list_item_event_gets_the_message_bytes(conn):
    """While a list is pending, events take the message path; frame subscribers still get bytes to search."""
    proto, peer, built = conn
    got = []
    proto.dispatcher.subscribe_frames(lambda name, frame: got.append((name, frame)))
    d = proto.send_action("CoreShowChannels")
    action = peer.last()
    peer.send(("Response", "Success"), ("ActionID", action.get("ActionID")), ("EventList", "start"))
    peer.send(("Event", "Hangup"), ("Uniqueid", "1.1"))
    assert got and got[0][0] == "Hangup" and b"\r\nUniqueid: 1.1" in got[0][1]
    assert not d.called


def test_failing_frame_subscriber_is_isolated_and_cancel_stops_delivery(conn):
    """A raising frame subscriber is counted and logged; the others still run; cancel() ends delivery."""
    proto, peer, built = conn
    got = []

    def broken(name, frame):
        raise RuntimeError("subscriber bug")

    proto.dispatcher.subscribe_frames(broken, names=["DTMFEnd"])
    sub = proto.dispatcher.subscribe_frames(lambda name, frame: got.append(name), names=["DTMFEnd"])
    peer.send(("Event", "DTMFEnd"), ("Digit", "5"))
    assert got == ["DTMFEnd"] and proto.dispatcher.errors == 1
    sub.cancel()
    peer.send(("Event", "DTMFEnd"), ("Digit", "6"))
    assert got == ["DTMFEnd"] and proto.dispatcher.errors == 2


def test_event_with_an_overlong_first_line_still_reaches_subscribers(conn):
    """A first line longer than the route's head window takes the general path, name intact."""
    proto, peer, built = conn
    frames, messages = [], []
    name = "X" * 80
    proto.dispatcher.subscribe_frames(lambda n, frame: frames.append(n))
    proto.dispatcher.subscribe(messages.append)
    peer.send(("Event", name), ("Uniqueid", "1.1"))
    assert frames == [name] and [m.name for m in messages] == [name] and proto.events_received == 1


def test_an_event_is_counted_before_its_subscribers_run(conn):
    """events_received already includes the event a subscriber is handling (frame and message path alike),
    and a response is never counted as an event."""
    proto, peer, built = conn
    seen = []
    proto.dispatcher.subscribe_frames(lambda name, frame: seen.append(("frame", proto.events_received)))
    proto.dispatcher.subscribe(lambda m: seen.append(("message", proto.events_received)))
    peer.send(("Event", "Newstate"), ("Uniqueid", "1.1"))
    peer.send(("Response", "Success"), ("ActionID", "nobody"))
    peer.send(("Event", "Hangup"), ("Uniqueid", "1.1"))
    assert seen == [("frame", 1), ("message", 1), ("frame", 2), ("message", 2)] and proto.events_received == 2
