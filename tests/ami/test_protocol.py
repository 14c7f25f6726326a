"""AMIProtocol over StringTransport with a task.Clock: every protocol point of the captures README."""
from __future__ import annotations

import hashlib

import pytest
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from callcenter.ami.errors import (
    AMIActionError,
    AMIConnectionLost,
    AMIInjectionError,
    AMILoginError,
    AMITimeout,
    AMITooManyPending,
)
from callcenter.ami.protocol import ActionResult, AMIProtocol
from tests.ami.peer import WirePeer


@pytest.fixture
def conn():
    clock = Clock()
    proto = AMIProtocol(clock=clock)
    return proto, WirePeer.greeted(proto), clock


def _result(d):
    box = []
    d.addBoth(box.append)
    return box


def test_greeting_has_no_blank_line_and_sets_version():
    """The greeting is one line; the frame after it is parsed normally."""
    proto = AMIProtocol(clock=Clock())
    proto.makeConnection(StringTransport())
    events = []
    proto.dispatcher.subscribe(events.append)
    greeted = _result(proto.when_greeted())
    proto.dataReceived(b"Asterisk Call Manager/11.0.0\r\nEvent: FullyBooted\r\nStatus: Fully Booted\r\n\r\n")
    assert greeted == ["Asterisk Call Manager/11.0.0"] and proto.ami_version == "11.0.0"
    assert [e.name for e in events] == ["FullyBooted"]


def test_md5_login_key_matches_capture_02(conn):
    """MD5 login sends md5(challenge + secret) in lower-case hex, exactly as in capture 02."""
    proto, peer, clock = conn
    done = _result(proto.login("hotline", "hotline-secret"))
    challenge, login = peer.login_md5("145145657")
    assert challenge.get("AuthType") == "MD5"
    assert login.get("Key") == "9fbe25f5b5d471c6587dd63cc5461fd8" == hashlib.md5(b"145145657hotline-secret").hexdigest()
    assert "Secret" not in login and login.get("Events") == "on"
    assert done[0].get("Message") == "Authentication accepted" and proto.logged_in


def test_md5_login_never_falls_back_to_a_plain_secret_by_default(conn):
    """If the server refuses the MD5 Challenge, the login fails (ami.login_failed) and the connection is
    dropped; no Login carrying the secret is written."""
    proto, peer, clock = conn
    done = _result(proto.login("hotline", "hotline-secret"))
    peer.error(peer.last(), "Must specify AuthType")
    assert done[0].check(AMILoginError) and "plain_fallback" in done[0].value.message
    assert peer.transport.value() == b"" and b"hotline-secret" not in peer.transport.value()
    assert peer.transport.disconnecting and not proto.logged_in


def test_plain_login_fallback_only_when_configured(conn):
    """With plain_fallback set, a refused Challenge is followed by a plain Secret login."""
    proto, peer, clock = conn
    done = _result(proto.login("hotline", "hotline-secret", events=False, plain_fallback=True))
    peer.error(peer.last(), "Must specify AuthType")
    login = peer.last()
    assert login.name == "Login" and login.get("Secret") == "hotline-secret" and login.get("Events") == "off"
    peer.ok(login, ("Message", "Authentication accepted"))
    assert proto.logged_in and done[0].name == "Success"


def test_silent_peer_is_dropped_after_the_greeting_timeout():
    """A peer that accepts the TCP connection but never greets: the login fails with ami.timeout and the
    connection is aborted after greeting_timeout, not a moment before."""
    clock = Clock()
    proto = AMIProtocol(clock=clock)
    transport = StringTransport()
    proto.makeConnection(transport)
    done = _result(proto.login("hotline", "hotline-secret"))
    clock.advance(proto.greeting_timeout - 0.1)
    assert done == [] and not transport.disconnecting
    clock.advance(0.2)
    assert done[0].check(AMITimeout) and done[0].value.error_id == "ami.timeout"
    assert transport.disconnecting and transport.value() == b""


def test_greeting_in_time_cancels_the_greeting_timeout(conn):
    """Once greeted, the greeting timer no longer runs (a long idle session is not dropped by it)."""
    proto, peer, clock = conn
    clock.advance(proto.greeting_timeout * 10)
    assert not peer.transport.disconnecting and clock.getDelayedCalls() == []


def test_unanswered_login_times_out(conn):
    """A server that greets but never answers the Challenge fails the login after login_timeout."""
    proto, peer, clock = conn
    proto.login_timeout = 3.0
    done = _result(proto.login("hotline", "hotline-secret"))
    assert peer.last().name == "Challenge"
    clock.advance(2.9)
    assert done == []
    clock.advance(0.2)
    assert done[0].check(AMITimeout)


def test_failed_login_is_typed_and_closes(conn):
    """'Authentication failed' becomes AMILoginError and the client drops the socket (as Asterisk does)."""
    proto, peer, clock = conn
    done = _result(proto.login("hotline", "wrong", auth="plain"))
    peer.error(peer.last(), "Authentication failed")
    assert done[0].check(AMILoginError) and done[0].value.error_id == "ami.login_failed"
    assert "wrong" not in str(done[0].value)
    assert peer.transport.disconnecting and not proto.logged_in


def test_permission_denied_before_login_is_action_error(conn):
    """Any action before login gets 'Permission denied' as a typed failure; the connection stays up [03]."""
    proto, peer, clock = conn
    d = _result(proto.send_action("Ping"))
    peer.error(peer.last(), "Permission denied")
    assert d[0].check(AMIActionError) and d[0].value.message == "Permission denied"
    assert d[0].value.response.get("Message") == "Permission denied"
    assert not peer.transport.disconnecting


def test_responses_matched_by_action_id_out_of_order(conn):
    """Two actions answered in reverse order each get their own response."""
    proto, peer, clock = conn
    a = _result(proto.send_action("Ping"))
    b = _result(proto.send_action("Getvar", {"Variable": "HOTLINE_MODE"}))
    ping, getvar = peer.actions()
    peer.ok(getvar, ("Variable", "HOTLINE_MODE"), ("Value", "day"))
    peer.ok(ping, ("Ping", "Pong"), ("Timestamp", "1795421301.288854"))
    assert a[0].get("Ping") == "Pong" and b[0].get("Value") == "day"


def test_event_list_collected_and_items_not_dispatched(conn):
    """EventList start … Complete is one result; unrelated events in between still reach subscribers."""
    proto, peer, clock = conn
    seen = []
    proto.dispatcher.subscribe(seen.append)
    d = _result(proto.send_action("CoreShowChannels"))
    act = peer.last()
    aid = act.get("ActionID")
    peer.ok(act, ("EventList", "start"), ("Message", "Channels will follow"))
    peer.send(("Event", "CoreShowChannel"), ("ActionID", aid), ("Channel", "Local/100@hotline-in-00000000;1"), ("Uniqueid", "1.1"))
    peer.send(("Event", "Newstate"), ("Privilege", "call,all"), ("Channel", "PJSIP/1001-1"), ("Uniqueid", "2.2"))
    peer.send(("Event", "CoreShowChannel"), ("ActionID", aid), ("Channel", "Local/100@hotline-in-00000000;2"), ("Uniqueid", "1.2"))
    assert d == []
    peer.send(("Event", "CoreShowChannelsComplete"), ("ActionID", aid), ("EventList", "Complete"), ("ListItems", "2"))
    result = d[0]
    assert isinstance(result, ActionResult) and len(result) == 2 and result.list_items == 2
    assert [m.get("Uniqueid") for m in result] == ["1.1", "1.2"]
    assert [m.name for m in seen] == ["Newstate"]


def test_empty_list_still_completes(conn):
    """An empty list (start, then Complete with ListItems: 0) resolves to no items [06, 07]."""
    proto, peer, clock = conn
    d = _result(proto.send_action("QueueStatus", {"Queue": "nope"}))
    act = peer.last()
    peer.ok(act, ("EventList", "start"), ("Message", "Queue status will follow"))
    peer.send(("Event", "QueueStatusComplete"), ("ActionID", act.get("ActionID")), ("EventList", "Complete"), ("ListItems", "0"))
    assert d[0].events == [] and d[0].list_items == 0


def test_command_output_as_text_and_error_with_output(conn):
    """Command output lines (trailing spaces and empty lines kept) become text; an unknown command fails typed [05]."""
    proto, peer, clock = conn
    d = _result(proto.send_action("Command", {"Command": "core show uptime"}))
    peer.ok(peer.last(), ("Message", "Command output follows"), ("Output", "System uptime: 8 seconds "), ("Output", ""), ("Output", "x"))
    assert d[0].output == "System uptime: 8 seconds \n\nx"
    e = _result(proto.send_action("Command", {"Command": "no such"}))
    act = peer.last()
    peer.send(("Response", "Error"), ("ActionID", act.get("ActionID")), ("Message", "Command output follows"), ("Output", "No such command 'no such'"))
    assert e[0].check(AMIActionError)
    assert e[0].value.response.getall("Output") == ["No such command 'no such'"]


def test_action_timeout_with_clock_and_late_answer_ignored(conn):
    """An unanswered action fails with AMITimeout at action_timeout; a late answer is dropped as an orphan."""
    proto, peer, clock = conn
    d = _result(proto.send_action("Ping"))
    act = peer.last()
    clock.advance(proto.action_timeout - 0.01)
    assert d == []
    clock.advance(0.02)
    assert d[0].check(AMITimeout) and d[0].value.details["action"] == "Ping"
    peer.ok(act, ("Ping", "Pong"))
    assert proto.stats["orphans"] == 1 and proto.pending_count == 0


def test_per_action_timeout_none_waits(conn):
    """timeout=None disables the timer (slow actions like sync Originate)."""
    proto, peer, clock = conn
    d = _result(proto.send_action("Originate", {"Channel": "Local/1@x", "Application": "Wait"}, timeout=None))
    clock.advance(3600)
    assert d == [] and proto.pending_count == 1 and not clock.getDelayedCalls()


def test_every_pending_fails_on_connection_loss(conn):
    """Plain actions and a half-received list all fail with AMIConnectionLost; timers are cancelled."""
    proto, peer, clock = conn
    a = _result(proto.send_action("Ping"))
    b = _result(proto.send_action("QueueStatus"))
    _, qs = peer.actions()
    peer.ok(qs, ("EventList", "start"), ("Message", "Queue status will follow"))
    proto.connectionLost(Failure(ConnectionDone()))
    assert a[0].check(AMIConnectionLost) and b[0].check(AMIConnectionLost)
    assert clock.getDelayedCalls() == []
    late = _result(proto.send_action("Ping"))
    assert late[0].check(AMIConnectionLost)


def test_injection_refused_before_writing(conn):
    """A CR/LF in a value (e.g. a caller name) fails the Deferred and writes nothing."""
    proto, peer, clock = conn
    d = _result(proto.send_action("Setvar", {"Variable": "CALLERNAME", "Value": "张三\r\nAction: Hangup"}))
    assert d[0].check(AMIInjectionError)
    assert peer.transport.value() == b"" and proto.pending_count == 0


def test_too_many_pending_refused(conn):
    """Beyond max_pending_actions, new actions fail at once instead of growing memory."""
    proto, peer, clock = conn
    proto.max_pending_actions = 5
    results = [_result(proto.send_action("Ping")) for _ in range(6)]
    assert all(r == [] for r in results[:5])
    assert results[5][0].check(AMITooManyPending)


def test_list_longer_than_limit_fails_without_growing(conn):
    """A list beyond max_list_items stops collecting and fails typed when it completes."""
    proto, peer, clock = conn
    proto.max_list_items = 3
    d = _result(proto.send_action("CoreShowChannels"))
    act = peer.last()
    aid = act.get("ActionID")
    peer.ok(act, ("EventList", "start"))
    for i in range(10):
        peer.send(("Event", "CoreShowChannel"), ("ActionID", aid), ("Uniqueid", str(i)))
    peer.send(("Event", "CoreShowChannelsComplete"), ("ActionID", aid), ("EventList", "Complete"), ("ListItems", "10"))
    assert d[0].check(AMITooManyPending)


def test_malformed_and_oversized_frames_skipped_connection_survives(conn):
    """Garbage and oversized frames are counted and skipped; the next response still arrives."""
    proto, peer, clock = conn
    d = _result(proto.send_action("Ping"))
    act = peer.last()
    peer.raw(b"this is not a header\r\n\r\n")
    peer.raw(b"Foo: bar\r\n\r\n")
    peer.raw(b"Event: Flood\r\nData: " + b"x" * (proto.max_frame_bytes + 10) + b"\r\n\r\n")
    peer.ok(act, ("Ping", "Pong"))
    assert proto.stats["malformed"] == 2 and proto.stats["oversized"] == 1
    assert d[0].get("Ping") == "Pong" and not peer.transport.disconnecting


def test_subscriber_filters_and_failure_isolation(conn):
    """Name sets and predicates filter; a raising subscriber does not stop the others; cancel works."""
    proto, peer, clock = conn
    hangups, agi, everything = [], [], []

    def broken(m):
        raise RuntimeError("subscriber bug")

    proto.dispatcher.subscribe(broken)
    sub = proto.dispatcher.subscribe(hangups.append, names={"hangup"})
    proto.dispatcher.subscribe(agi.append, predicate=lambda m: m.name.startswith("AsyncAGI"))
    proto.dispatcher.subscribe(everything.append, names=None)
    for name in ("Newchannel", "Hangup", "AsyncAGIStart", "AsyncAGIExec"):
        peer.send(("Event", name), ("Uniqueid", "1.1"))
    assert [m.name for m in hangups] == ["Hangup"]
    assert [m.name for m in agi] == ["AsyncAGIStart", "AsyncAGIExec"]
    assert len(everything) == 4 and proto.dispatcher.errors == 4
    sub.cancel()
    peer.send(("Event", "Hangup"), ("Uniqueid", "1.2"))
    assert len(hangups) == 1


def test_typed_subscription_gets_dataclasses(conn):
    """subscribe(typed=True) delivers frozen typed events."""
    from callcenter.ami.events import Hangup

    proto, peer, clock = conn
    got = []
    proto.dispatcher.subscribe(got.append, names=["Hangup"], typed=True)
    peer.send(("Event", "Hangup"), ("Channel", "PJSIP/1001-1"), ("Uniqueid", "1.1"), ("Linkedid", "1.0"), ("Cause", "17"), ("Cause-txt", "User busy"))
    assert isinstance(got[0], Hangup) and got[0].cause == 17 and got[0].cause_txt == "User busy"
    assert got[0].channel.linkedid == "1.0"


def test_events_sent_with_originate_action_id_after_response_are_dispatched(conn):
    """OriginateResponse carries the Originate's ActionID but arrives after its response: it is an event."""
    proto, peer, clock = conn
    seen = []
    proto.dispatcher.subscribe(seen.append, names=["OriginateResponse"])
    d = _result(proto.send_action("Originate", {"Channel": "Local/13800000001@hotline-pstn", "Context": "hotline-survey", "Exten": "s", "Async": "true"}))
    act = peer.last()
    peer.ok(act, ("Message", "Originate successfully queued"))
    peer.send(("Event", "OriginateResponse"), ("Privilege", "call,all"), ("ActionID", act.get("ActionID")), ("Response", "Success"), ("Reason", "4"))
    assert d[0].get("Message") == "Originate successfully queued"
    assert seen and seen[0].get("Reason") == "4"


def test_keepalive_ping_and_dead_peer_dropped(conn):
    """After login a Ping goes out every ping_interval; an unanswered one drops the connection."""
    proto, peer, clock = conn
    proto.login("hotline", "hotline-secret")
    peer.login_md5()
    clock.advance(proto.ping_interval)
    ping = peer.last()
    assert ping.name == "Ping"
    peer.ok(ping, ("Ping", "Pong"), ("Timestamp", "1.0"))
    assert not peer.transport.disconnecting
    clock.advance(proto.ping_interval)
    assert peer.last().name == "Ping"
    clock.advance(proto.ping_timeout + 0.1)
    assert peer.transport.disconnecting


def test_ping_reports_round_trip(conn):
    """ping() fires with the round-trip time measured on the injected clock."""
    proto, peer, clock = conn
    d = _result(proto.ping())
    act = peer.last()
    clock.advance(0.25)
    peer.ok(act, ("Ping", "Pong"))
    assert d == [pytest.approx(0.25)]


def test_logoff_goodbye_is_success(conn):
    """Logoff answers 'Goodbye' (not Error), and that resolves the action [01]."""
    proto, peer, clock = conn
    d = _result(proto.logoff())
    act = peer.last()
    peer.send(("Response", "Goodbye"), ("ActionID", act.get("ActionID")), ("Message", "Thanks for all the fish."))
    assert d[0].name == "Goodbye"


def test_flood_of_events_bounded_in_memory(conn):
    """100k events without a terminator-aligned read leave nothing buffered beyond one partial frame."""
    proto, peer, clock = conn
    frame = b"Event: VarSet\r\nPrivilege: dialplan,all\r\nChannel: PJSIP/1001-1\r\nUniqueid: 1.1\r\nVariable: X\r\nValue: y\r\n\r\n"
    blob = frame * 1000
    for _ in range(100):
        proto.dataReceived(blob[:-7])
        proto.dataReceived(blob[-7:])
        assert proto._splitter.buffered == 0
    assert proto.events_received == 100_000 and proto.pending_count == 0
