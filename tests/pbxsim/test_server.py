"""The AMI session: greeting, login, permissions, event flow and bad input."""
from __future__ import annotations

import hashlib

from callcenter.pbxsim.wire import encode
from tests.pbxsim.harness import Peer, advance, make


def test_greeting_is_one_line_without_blank(tmp_path):
    """Asterisk greets with one CRLF-terminated line and no blank line after it."""
    sim, clock = make(tmp_path)
    peer = Peer(sim, clock)
    assert peer.transport.value() == b"Asterisk Call Manager/11.0.0\r\n"


def test_permission_denied_before_login_keeps_connection(tmp_path):
    """Any action before Login gets 'Permission denied' and the connection stays open."""
    sim, clock = make(tmp_path)
    peer = Peer(sim, clock)
    aid = peer.send("Ping")
    assert peer.response(aid)["Message"] == "Permission denied"
    assert not peer.transport.disconnecting
    peer.login()


def test_failed_login_waits_one_second_then_closes(tmp_path):
    """A wrong secret is answered only after ~1 s on the clock, then the socket closes; monitors see it."""
    sim, clock = make(tmp_path)
    monitor = Peer(sim, clock)
    monitor.login()
    peer = Peer(sim, clock)
    aid = peer.send("Login", Username="hotline", Secret="wrong")
    advance(clock, 0.99)
    assert not [m for m in peer.read_all() if dict(m).get("ActionID") == aid]
    advance(clock, 0.02)
    assert peer.response(aid)["Message"] == "Authentication failed"
    clock.advance(0)
    assert peer.transport.disconnecting
    assert [e["AccountID"] for e in monitor.events("InvalidPassword")] == ["hotline"]


def test_md5_login(tmp_path):
    """Challenge + Login with Key = md5(challenge + secret) is accepted; a wrong key reports the expected one."""
    sim, clock = make(tmp_path)
    peer = Peer(sim, clock)
    aid = peer.send("Challenge", AuthType="MD5")
    challenge = peer.response(aid)["Challenge"]
    key = hashlib.md5((challenge + "hotline-secret").encode()).hexdigest()
    aid = peer.send("Login", AuthType="MD5", Username="hotline", Key=key)
    assert peer.response(aid)["Message"] == "Authentication accepted"
    bad = Peer(sim, clock)
    aid = bad.send("Challenge", AuthType="MD5")
    challenge2 = bad.response(aid)["Challenge"]
    bad.send("Login", AuthType="MD5", Username="hotline", Key="0" * 32)
    advance(clock, 1.1)
    failed = peer.events("ChallengeResponseFailed")
    assert failed[0]["ExpectedResponse"] == hashlib.md5((challenge2 + "hotline-secret").encode()).hexdigest()


def test_logoff_says_goodbye_and_closes(tmp_path):
    """Logoff gets Goodbye, then the server closes the connection."""
    sim, clock = make(tmp_path)
    peer = Peer(sim, clock)
    peer.login()
    aid = peer.send("Logoff")
    assert peer.response(aid) == {"Response": "Goodbye", "ActionID": aid, "Message": "Thanks for all the fish."}
    assert peer.transport.disconnecting


def test_actionid_is_second_line_only_when_given(tmp_path):
    """ActionID is echoed as the second line only if the request had one; header names are case-insensitive."""
    sim, clock = make(tmp_path)
    peer = Peer(sim, clock)
    peer.login(events="off")
    peer.proto.dataReceived(b"Action: Ping\r\n\r\naction: ping\r\nactionid: low-1\r\n\r\n")
    msgs = peer.read()
    assert [k for k, _ in msgs[0]] == ["Response", "Ping", "Timestamp"]
    assert msgs[1][1] == ("ActionID", "low-1")


def test_events_class_filter_and_off(tmp_path):
    """Events: off stops events; a class list passes only those classes; on passes all."""
    sim, clock = make(tmp_path)
    peer = Peer(sim, clock)
    peer.login()
    aid = peer.send("Events", EventMask="off")
    assert peer.response(aid)["Events"] == "Off"
    peer.send("UserEvent", UserEvent="Hidden")
    assert peer.events("UserEvent") == []
    aid = peer.send("Events", EventMask="user")
    assert peer.response(aid)["Events"] == "On"
    peer.send("UserEvent", UserEvent="Shown", WorkOrder="WO-1")
    peer.send("Setvar", Variable="G", Value="1")
    assert [e["UserEvent"] for e in peer.events("UserEvent")] == ["Shown"]
    assert peer.events("VarSet") == []
    shown = [m for m in peer.log if m[0] == ("Event", "UserEvent")][0]
    assert [k for k, _ in shown] == ["Event", "Privilege", "UserEvent", "ActionID", "WorkOrder"]


def test_list_is_never_interleaved(tmp_path):
    """A list response and its items are written together; events raised meanwhile follow the Complete."""
    sim, clock = make(tmp_path)
    sim.add_device("PJSIP/1001")
    peer = Peer(sim, clock)
    peer.login()
    for n in range(3):
        sim.dial_in(f"1390000000{n}")
    advance(clock, 0.3)
    peer.read()
    sim.dial_in("13900000009")          # its Newchannel is emitted before the action runs
    peer.send("CoreShowChannels")
    msgs = peer.read()
    start = [i for i, m in enumerate(msgs) if dict(m).get("EventList") == "start"][0]
    end = [i for i, m in enumerate(msgs) if dict(m).get("EventList") == "Complete"][0]
    assert all(m[0] == ("Event", "CoreShowChannel") for m in msgs[start + 1:end])
    assert dict(msgs[end])["ListItems"] == str(end - start - 1)


def test_unknown_and_missing_action(tmp_path):
    """Unknown actions and frames without Action get Asterisk's errors and a RequestBadFormat event."""
    sim, clock = make(tmp_path)
    peer = Peer(sim, clock)
    peer.login()
    aid = peer.send("NoSuchAction")
    assert peer.response(aid)["Message"] == ("Invalid/unknown command: NoSuchAction. "
                                             "Use Action: ListCommands to show available commands.")
    peer.proto.dataReceived(b"ActionID: m-1\r\nFoo: bar\r\n\r\n")
    assert peer.response("m-1")["Message"] == "Missing action in request"
    clock.advance(0)
    assert [e["RequestType"] for e in peer.events("RequestBadFormat")] == ["Action: NoSuchAction", "Action: NONE"]


def test_malformed_and_oversized_frames_are_skipped(tmp_path):
    """A line without a colon or a giant frame is dropped; the session goes on."""
    sim, clock = make(tmp_path)
    peer = Peer(sim, clock)
    peer.login(events="off")
    peer.proto.dataReceived(b"this is not ami\r\n\r\n")
    peer.proto.dataReceived(b"Action: Ping\r\nX: " + b"a" * 70000 + b"\r\n\r\n")
    aid = peer.send("Ping")
    assert peer.response(aid)["Ping"] == "Pong"
    assert not peer.transport.disconnecting


def test_split_utf8_across_reads(tmp_path):
    """A UTF-8 value split between TCP reads arrives intact (decoded per message)."""
    sim, clock = make(tmp_path)
    peer = Peer(sim, clock)
    peer.login()
    frame = "Action: UserEvent\r\nActionID: u-1\r\nUserEvent: Notice\r\nBody: 测试\r\n\r\n".encode()
    cut = frame.index("测".encode()) + 1
    peer.proto.dataReceived(frame[:cut])
    peer.proto.dataReceived(frame[cut:])
    clock.advance(0)
    assert peer.events("UserEvent")[0]["Body"] == "测试"


def test_encode_never_lets_crlf_through():
    """Outgoing values are single lines: a CR/LF cannot add a header."""
    data = encode([("Event", "UserEvent"), ("Body", "a\r\nEvent: Forged")])
    assert data.count(b"\r\n") == 3 and b"\r\nEvent: Forged" not in data


def test_setvar_getvar_global_and_command(tmp_path):
    """Setvar/Getvar of a global (VarSet with Channel none), and CLI commands with Output lines."""
    sim, clock = make(tmp_path)
    peer = Peer(sim, clock)
    peer.login()
    aid = peer.send("Setvar", Variable="HOTLINE_MODE", Value="night")
    assert peer.response(aid)["Message"] == "Variable Set"
    aid = peer.send("Getvar", Variable="HOTLINE_MODE")
    assert peer.response(aid)["Value"] == "night"
    assert peer.events("VarSet")[0]["Channel"] == "none"
    aid = peer.send("Command", Command="core show version")
    msg = [m for m in peer.read_all() if dict(m).get("ActionID") == aid][0]
    assert msg[2] == ("Message", "Command output follows") and msg[3][1].startswith("Asterisk 22.10.1")
    aid = peer.send("Command", Command="no such thing")
    assert peer.response(aid)["Response"] == "Error"
    aid = peer.send("Command", Command="dialplan show hotline-connect")
    out = [v for k, v in [m for m in peer.read_all() if dict(m).get("ActionID") == aid][0] if k == "Output"]
    assert out[0] == "[ Context 'hotline-connect' created by 'pbx_config' ]"
    assert out[-1].startswith("-= 1 extension (9 priorities)")


def test_queue_member_actions(tmp_path):
    """QueueAdd/Pause/Remove give Asterisk's texts and events (lab queues)."""
    sim, clock = make(tmp_path, dialplan="lab")
    peer = Peer(sim, clock)
    peer.login()
    iface = "Local/1003@hotline-agents/n"
    assert peer.response(peer.send("QueueAdd", Queue="hotline-general", Interface=iface))["Message"] == \
        "Added interface to queue"
    assert peer.response(peer.send("QueueAdd", Queue="hotline-general", Interface=iface))["Message"] == \
        "Unable to add interface: Already there"
    aid = peer.send("QueuePause", Interface=iface, Paused="true", Reason="lunch")
    assert peer.response(aid)["Message"] == "Interface paused successfully"
    assert peer.events("QueueMemberPause")[-1]["PausedReason"] == "lunch"
    aid = peer.send("QueuePause", Interface=iface, Paused="false")
    assert peer.response(aid)["Message"] == "Interface unpaused successfully"
    assert peer.events("QueueMemberPause")[-1]["PausedReason"] == ""
    assert peer.response(peer.send("QueueRemove", Queue="hotline-general", Interface=iface))["Message"] == \
        "Removed interface from queue"
    assert peer.response(peer.send("QueueRemove", Queue="hotline-general", Interface=iface))["Message"] == \
        "Unable to remove interface: Not there"
    assert peer.response(peer.send("QueueRemove", Queue="nope", Interface=iface))["Message"] == \
        "Unable to remove interface from queue: No such queue"
