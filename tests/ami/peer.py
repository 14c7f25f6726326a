"""The Asterisk side of a StringTransport conversation, for protocol tests.

Reads what the client wrote (whole frames) and feeds back answers shaped
exactly like the captures; no logic of its own.
"""
from __future__ import annotations

from callcenter.ami.message import Message, parse_message, serialize_message

GREETING = b"Asterisk Call Manager/11.0.0\r\n"


class WirePeer:
    def __init__(self, proto, transport) -> None:
        self.proto = proto
        self.transport = transport

    def actions(self) -> list[Message]:
        """The actions written since the last call (and forget them)."""
        data = self.transport.value()
        self.transport.clear()
        return [parse_message(f) for f in data.split(b"\r\n\r\n") if f]

    def last(self) -> Message:
        written = self.actions()
        assert written, "the client wrote nothing"
        return written[-1]

    def send(self, *pairs) -> None:
        self.proto.dataReceived(serialize_message(list(pairs)))

    def raw(self, data: bytes) -> None:
        self.proto.dataReceived(data)

    def greet(self) -> None:
        self.proto.dataReceived(GREETING)

    def ok(self, action: Message, *extra) -> None:
        self.send(("Response", "Success"), ("ActionID", action.get("ActionID")), *extra)

    def error(self, action: Message, message: str) -> None:
        self.send(("Response", "Error"), ("ActionID", action.get("ActionID")), ("Message", message))

    def login_md5(self, challenge: str = "145145657") -> tuple[Message, Message]:
        """Answer a Challenge and the Login that follows with success."""
        challenge_action = self.last()
        assert challenge_action.name == "Challenge"
        self.ok(challenge_action, ("Challenge", challenge))
        login = self.last()
        assert login.name == "Login"
        self.ok(login, ("Message", "Authentication accepted"))
        self.send(("Event", "FullyBooted"), ("Privilege", "system,all"), ("Uptime", "8"), ("LastReload", "8"), ("Status", "Fully Booted"))
        return challenge_action, login
