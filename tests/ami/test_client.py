"""AMIClient: ClientService reconnects, login backoff, resync, AsyncAGI and Originate helpers.

The network is twisted's MemoryReactorClock (connection attempts are
recorded, time is fake) and each accepted connection is a StringTransport
answered in the captures' exact shapes.
"""
from __future__ import annotations

import pytest

from callcenter.ami.errors import AGIError, AMIActionError, AMIConnectionLost, AMINotConnected
from callcenter.ami.events import AGIResult, OriginateResponse
from callcenter.calls import CallTracker
from callcenter.ami.client import AMIClient
from tests.ami.peer import Link, _box, connected, make


def test_when_connected_fires_after_login_and_resync():
    """when_connected waits for login and the CoreShowChannels/QueueStatus resync."""
    reactor, client = make(tracker=CallTracker())
    link = Link(reactor, client)
    ready = _box(client.when_connected())
    link.login()
    assert ready == [] and client.protocol.logged_in
    link.resync()
    assert ready == [client.protocol] and client.ready


def test_actions_fail_fast_when_not_connected():
    """Before login every helper fails at once with AMINotConnected (no queueing forever)."""
    reactor, client = make()
    for d in (client.action("Ping"), client.agi("X", "ANSWER"), client.originate("Local/1@x", application="Wait", data="1")):
        r = _box(d)
        assert r[0].check(AMINotConnected)


def test_login_failure_retried_with_growing_backoff_then_recovers():
    """Bad credentials are reported and retried after 4, 8, 16 s (never a tight loop); success resets."""
    reactor, client = make(tracker=CallTracker())
    delays = []
    for attempt in range(3):
        link = Link(reactor, client)
        link.peer.greet()
        challenge = link.peer.last()
        link.peer.ok(challenge, ("Challenge", "200514274"))
        login = link.peer.last()
        link.peer.error(login, "Authentication failed")
        assert link.transport.disconnecting
        assert client.last_error.error_id == "ami.login_failed"
        link.drop()
        before = len(reactor.tcpClients)
        waited = 0.0
        while len(reactor.tcpClients) == before:
            reactor.advance(0.5)
            waited += 0.5
            assert waited < 120
        delays.append(waited)
    assert delays == [4.0, 8.0, 16.0]
    link = Link(reactor, client)
    link.login()
    link.resync()
    assert client.ready and client.login_failures == 0
    link.drop()
    before = len(reactor.tcpClients)
    reactor.advance(2.0)
    assert len(reactor.tcpClients) == before + 1, "after a good session the first retry is quick again"


def test_subscriptions_survive_reconnect_and_pending_fail_on_drop():
    """Subscriptions belong to the client; in-flight AGI commands fail with AMIConnectionLost on a drop."""
    reactor, client, link = connected()
    seen = []
    client.subscribe(seen.append, names=["UserEvent"])
    pending = _box(client.agi("Local/100@hotline-in-00000006;2", "ANSWER", command_id="ivr-1"))
    link.peer.last()
    link.drop()
    assert pending[0].check(AMIConnectionLost)
    reactor.advance(2.0)
    link2 = Link(reactor, client)
    link2.login()
    link2.resync()
    link2.peer.send(("Event", "UserEvent"), ("Privilege", "user,all"), ("UserEvent", "SurveyResult"))
    assert [m.get("UserEvent") for m in seen] == ["SurveyResult"]


def test_agi_matched_by_command_id_not_internal_id():
    """agi() fires with the AsyncAGIExec carrying *our* CommandId, not AGIExecStart's internal one [10]."""
    reactor, client, link = connected()
    chan = "Local/100@hotline-in-00000006;2"
    r = _box(client.agi(chan, "GET DATA hotline/menu 5000 2", command_id="ivr-5"))
    act = link.peer.last()
    assert (act.name, act.get("Channel"), act.get("Command"), act.get("CommandID")) == ("AGI", chan, "GET DATA hotline/menu 5000 2", "ivr-5")
    link.peer.ok(act, ("Message", "Added AGI command to queue"))
    link.peer.send(("Event", "AGIExecStart"), ("Channel", chan), ("CommandId", "1394267418"), ("Command", "GET DATA hotline/menu 5000 2"))
    assert r == []
    link.peer.send(("Event", "AsyncAGIExec"), ("Channel", chan), ("Result", "200%20result%3D12%0A"), ("CommandId", "ivr-5"))
    assert isinstance(r[0], AGIResult) and r[0].result == "12" and r[0].ok


def test_agi_fails_on_error_response_and_on_asyncagi_end():
    """A missing channel (Response: Error) and an AsyncAGIEnd both fail pending AGI commands typed."""
    reactor, client, link = connected()
    r1 = _box(client.agi("Local/nope;2", "ANSWER"))
    link.peer.error(link.peer.last(), "Channel Local/nope;2 does not exist.")
    assert r1[0].check(AMIActionError) and "does not exist" in r1[0].value.message
    chan = "Local/100@hotline-in-00000006;2"
    r2 = _box(client.agi(chan, "STREAM FILE hotline/hold \"\""))
    link.peer.ok(link.peer.last(), ("Message", "Added AGI command to queue"))
    link.peer.send(("Event", "AsyncAGIEnd"), ("Channel", chan), ("Uniqueid", "1.2"))
    assert r2[0].check(AGIError) and r2[0].value.details["event"] == "AsyncAGIEnd"


def test_originate_resolves_with_typed_response_or_failure():
    """originate() waits for OriginateResponse with its ActionID; failures keep the reason [15, 16]."""
    reactor, client, link = connected()
    r = _box(client.originate("Local/13800000002@hotline-pstn", context="hotline-survey", exten="s", caller_id="12345 <12345>",
                              timeout=20, variables={"WORKORDER": "WO-1", "CALLBACK_ID": "7"}))
    act = link.peer.last()
    assert act.getall("Variable") == ["WORKORDER=WO-1", "CALLBACK_ID=7"] and act.get("Async") == "true" and act.get("Timeout") == "20000"
    link.peer.ok(act, ("Message", "Originate successfully queued"))
    assert r == []
    link.peer.send(("Event", "OriginateResponse"), ("Privilege", "call,all"), ("ActionID", act.get("ActionID")), ("Response", "Failure"),
                   ("Channel", "Local/13800000002@hotline-pstn"), ("Context", "hotline-survey"), ("Exten", "s"), ("Reason", "3"))
    assert isinstance(r[0], OriginateResponse) and not r[0].answered and r[0].reason == 3
    r2 = _box(client.originate("Bogus/x", application="Playback", data="x"))
    link.peer.error(link.peer.last(), "Originate failed")
    assert r2[0].check(AMIActionError)


def test_originate_refuses_injected_variables_without_writing():
    """A work-order text with CR/LF never reaches the wire."""
    reactor, client, link = connected()
    link.transport.clear()
    r = _box(client.originate("Local/13800000001@hotline-pstn", context="hotline-survey", exten="s", variables={"NOTE": "a\r\nAction: Hangup"}))
    assert r[0].value.error_id == "ami.injection" and link.transport.value() == b""


def test_helpers_write_expected_actions():
    """redirect/setvar/getvar/hangup/mixmonitor/command build the documented actions."""
    reactor, client, link = connected()
    client.redirect("PJSIP/100-1", "hotline-transfer", "2", extra_channel=None)
    a = link.peer.last()
    assert (a.name, a.get("Context"), a.get("Exten"), a.get("Priority")) == ("Redirect", "hotline-transfer", "2", "1")
    client.setvar("AGENT_DEVICE", "PJSIP/1001", channel="PJSIP/100-1")
    a = link.peer.last()
    assert (a.name, a.get("Variable"), a.get("Value")) == ("Setvar", "AGENT_DEVICE", "PJSIP/1001")
    v = _box(client.getvar("HOTLINE_MODE"))
    a = link.peer.last()
    assert "Channel" not in a
    link.peer.ok(a, ("Variable", "HOTLINE_MODE"), ("Value", "day"))
    assert v == ["day"]
    client.hangup("PJSIP/100-1", cause=16)
    assert link.peer.last().get("Cause") == "16"
    client.mixmonitor("PJSIP/100-1", "1.1.wav", options="b")
    a = link.peer.last()
    assert (a.name, a.get("File"), a.get("Options")) == ("MixMonitor", "1.1.wav", "b")
    out = _box(client.command("core show uptime"))
    link.peer.ok(link.peer.last(), ("Message", "Command output follows"), ("Output", "System uptime: 8 seconds"))
    assert out == ["System uptime: 8 seconds"]


def test_from_config_uses_the_ami_section():
    """from_config reads host, port, credentials, auth and timings from [ami]."""
    from callcenter.config import load_config
    from twisted.internet.testing import MemoryReactorClock

    reactor = MemoryReactorClock()
    client = AMIClient.from_config(load_config(None), reactor)
    client.start()
    host, port = reactor.tcpClients[-1][:2]
    assert (host, port) == ("127.0.0.1", 5038)
    assert (client.username, client.auth) == ("hotline", "md5")
    assert client.protocol_settings["ping_interval"] == 20.0 and client.protocol_settings["action_timeout"] == 10.0
    assert client.protocol_settings["read_coalesce"] == 0.001
    client.stop()


def test_read_coalesce_setting_is_checked_and_reaches_the_protocol():
    """A negative or absurd coalescing window is refused before anything starts; a valid one is set on each protocol."""
    from twisted.internet.testing import MemoryReactorClock

    from callcenter.ami.client import AMIFactory

    reactor = MemoryReactorClock()
    with pytest.raises(ValueError, match="read_coalesce"):
        AMIClient(None, "u", "s", clock=reactor, read_coalesce=-0.001)
    with pytest.raises(ValueError, match="read_coalesce"):
        AMIClient(None, "u", "s", clock=reactor, read_coalesce=5)
    client = AMIClient(None, "u", "s", clock=reactor, read_coalesce=0.0)
    proto = AMIFactory(client).buildProtocol(None)
    assert proto.read_coalesce == 0.0


def test_silent_pbx_is_reconnected_with_backoff_and_reported():
    """A PBX that accepts connections but never greets: each attempt is dropped after the greeting
    timeout, reported (last_error ami.timeout), and retried with a growing delay, never a tight loop."""
    reactor, client = make(tracker=CallTracker())
    timeout = 10.0
    gaps = []
    for attempt in range(3):
        link = Link(reactor, client)
        reactor.advance(timeout)
        assert link.transport.disconnecting and client.last_error.error_id == "ami.timeout"
        assert not client.ready
        link.drop()
        before = len(reactor.tcpClients)
        waited = 0.0
        while len(reactor.tcpClients) == before:
            reactor.advance(0.5)
            waited += 0.5
            assert waited < 120
        gaps.append(waited)
    assert gaps == [4.0, 8.0, 16.0]
    link = Link(reactor, client)
    link.login()
    link.resync()
    assert client.ready and client.login_failures == 0
