"""A scripted Asterisk at the byte level for controller unit tests.

The real :class:`AMIClient` and :class:`AMIProtocol` talk to a
``StringTransport``; the test reads the actions the controller wrote and
answers with the frames Asterisk 22 sends (shapes as in ../shared/ami-captures).
Time is a ``task.Clock``.
"""
from __future__ import annotations

from urllib.parse import quote

from twisted.internet import task
from twisted.internet.testing import StringTransport

from callcenter.ami.client import AMIClient, AMIFactory
from callcenter.ami.message import Message, parse_message

T0 = 1795420800.0  # 2026-11-23 08:00 UTC


class FakeAsterisk:
    def __init__(self) -> None:
        self.clock = task.Clock()
        self.clock.advance(T0)
        self.client = AMIClient(None, "hotline", "hotline-secret", clock=self.clock, auth="plain",
                                resync=False, ping_interval=None)
        self.proto = AMIFactory(self.client).buildProtocol(None)
        self.transport = StringTransport()
        self.proto.makeConnection(self.transport)
        self.feed(b"Asterisk Call Manager/11.0.0\r\n")
        [login] = self.take()
        assert login.name == "Login"
        self.respond(login, Message="Authentication accepted")
        assert self.client.ready
        self.uid = 0

    # -- reading what the client wrote ------------------------------------
    def take(self) -> list[Message]:
        data = self.transport.value()
        self.transport.clear()
        frames = [f for f in data.split(b"\r\n\r\n") if f]
        return [parse_message(f + b"\r\n\r\n") for f in frames]

    def take_one(self, name: str | None = None) -> Message:
        sent = self.take()
        assert len(sent) == 1, [m.pairs for m in sent]
        if name:
            assert sent[0].name == name, sent[0].pairs
        return sent[0]

    # -- writing what Asterisk says ---------------------------------------
    def feed(self, data: bytes) -> None:
        self.proto.dataReceived(data)

    def send_frame(self, pairs) -> None:
        self.feed("".join(f"{k}: {v}\r\n" for k, v in pairs).encode("utf-8") + b"\r\n")

    def respond(self, action: Message, status: str = "Success", **headers) -> None:
        pairs = [("Response", status), ("ActionID", action.get("ActionID"))]
        pairs += list(headers.items())
        self.send_frame(pairs)

    def ok_all(self) -> list[Message]:
        """Answer every written action like Asterisk does when it succeeds."""
        sent = self.take()
        messages = {"Setvar": "Variable Set", "Redirect": "Redirect successful", "AGI": "Added AGI command to queue",
                    "Originate": "Originate successfully queued"}
        for action in sent:
            self.respond(action, Message=messages.get(action.name, "OK"))
        return sent

    def next_uid(self) -> str:
        self.uid += 1
        return f"1795420800.{self.uid}"

    def snapshot(self, channel: str, uniqueid: str, callid: str = "", prefix: str = "", context="hotline-in",
                 exten="12345", number="13800000001"):
        p = prefix
        return [(f"{p}Channel", channel), (f"{p}ChannelState", "6"), (f"{p}ChannelStateDesc", "Up"),
                (f"{p}CallerIDNum", number), (f"{p}CallerIDName", "<unknown>"),
                (f"{p}ConnectedLineNum", "<unknown>"), (f"{p}ConnectedLineName", "<unknown>"),
                (f"{p}Language", "zh"), (f"{p}AccountCode", ""), (f"{p}Context", context), (f"{p}Exten", exten),
                (f"{p}Priority", "1"), (f"{p}Uniqueid", uniqueid), (f"{p}Linkedid", uniqueid),
                (f"{p}ChanVariable", f"HOTLINE_CALLID={callid}"), (f"{p}ChanVariable", "WORKORDER=")]

    def event(self, name: str, channel: str, uniqueid: str, callid: str = "", extra=(), dest=None) -> None:
        pairs = [("Event", name), ("Privilege", "call,all")] + self.snapshot(channel, uniqueid, callid)
        if dest is not None:
            pairs += self.snapshot(dest[0], dest[1], "", prefix="Dest", context="hotline-agents", exten="s")
        self.send_frame(pairs + list(extra))

    def bridge_enter(self, channel: str, uniqueid: str, bridge: str, inside: int, callid: str = "") -> None:
        """``BridgeEnter``: bridge fields, then the channel's snapshot (as in 13-queue-call-agent)."""
        fields = [("Event", "BridgeEnter"), ("Privilege", "call,all"), ("BridgeUniqueid", bridge),
                  ("BridgeType", "basic"), ("BridgeTechnology", "simple_bridge"), ("BridgeCreator", "<unknown>"),
                  ("BridgeName", "<unknown>"), ("BridgeNumChannels", str(inside)), ("BridgeVideoSourceMode", "none")]
        self.send_frame(fields + self.snapshot(channel, uniqueid, callid))

    def bridge(self, agent_channel: str, caller_channel: str, callid: str = "",
               bridge: str = "e7365e8f-59c1-4aac-a94f-28769b9297e4") -> None:
        """Dial bridges the answered agent with the caller: the agent's leg enters first, then the caller's."""
        self.send_frame([("Event", "BridgeCreate"), ("Privilege", "call,all"), ("BridgeUniqueid", bridge),
                         ("BridgeType", "basic"), ("BridgeTechnology", "simple_bridge"),
                         ("BridgeCreator", "<unknown>"), ("BridgeName", "<unknown>"), ("BridgeNumChannels", "0"),
                         ("BridgeVideoSourceMode", "none")])
        self.bridge_enter(agent_channel, "1795420800.2", bridge, 1)
        self.bridge_enter(caller_channel, callid or "1795420800.1", bridge, 2, callid)

    def agi_exec(self, action: Message, result: str = "0", extra: str = "") -> None:
        """Finish an AGI command: ``AsyncAGIExec`` with the client's CommandId."""
        channel = action.get("Channel")
        text = f"200 result={result}{extra}\n"
        self.send_frame([("Event", "AsyncAGIExec"), ("Privilege", "agi,all")] + self.snapshot(channel, "0", "")
                        + [("CommandId", action.get("CommandID")), ("Result", quote(text))])

    def agi_end(self, channel: str, uniqueid: str, callid: str) -> None:
        self.event("AsyncAGIEnd", channel, uniqueid, callid)

    def agi_start(self, channel: str, uniqueid: str, callid: str, arg: str, number: str = "13800000001") -> None:
        env = (f"agi_request: async\nagi_channel: {channel}\nagi_language: zh\nagi_uniqueid: {uniqueid}\n"
               f"agi_callerid: {number}\nagi_context: hotline-connect\nagi_extension: s\nagi_arg_1: {arg}\n\n")
        self.event("AsyncAGIStart", channel, uniqueid, callid, extra=[("Env", quote(env))])

    def hangup(self, channel: str, uniqueid: str, callid: str = "", cause: int = 16) -> None:
        self.event("Hangup", channel, uniqueid, callid,
                   extra=[("Cause", str(cause)), ("Cause-txt", "Normal Clearing")])

    def originate_response(self, action: Message, answered: bool, reason: int = 4) -> None:
        self.send_frame([("Event", "OriginateResponse"), ("Privilege", "call,all"),
                         ("ActionID", action.get("ActionID")), ("Response", "Success" if answered else "Failure"),
                         ("Channel", action.get("Channel")), ("Context", action.get("Context") or ""),
                         ("Exten", action.get("Exten") or ""), ("Application", ""), ("Data", ""),
                         ("Reason", str(reason)), ("Uniqueid", "<null>"), ("CallerIDNum", "<unknown>"),
                         ("CallerIDName", "<unknown>")])
