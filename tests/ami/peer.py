"""The Asterisk side of a StringTransport conversation, for protocol tests.

Reads what the client wrote (whole frames) and feeds back answers shaped
exactly like the captures; no logic of its own.
"""
from __future__ import annotations

from twisted.application.internet import backoffPolicy
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure

from callcenter.ami.client import AMIClient
from callcenter.ami.message import Message, parse_message, serialize_message
from callcenter.calls import CallTracker

GREETING = b"Asterisk Call Manager/11.0.0\r\n"


class WirePeer:
    def __init__(self, proto, transport) -> None:
        self.proto = proto
        self.transport = transport

    @classmethod
    def greeted(cls, proto) -> "WirePeer":
        """Connect ``proto`` to a fresh StringTransport and send the greeting."""
        transport = StringTransport()
        proto.makeConnection(transport)
        peer = cls(proto, transport)
        peer.greet()
        return peer

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


class Link:
    """One accepted connection: the wrapper protocol, its transport, and a peer."""

    def __init__(self, reactor, client):
        host, port, factory, timeout, bind = reactor.tcpClients[-1]
        assert (host, port) == ("127.0.0.1", 5038)
        self.wrapper = factory.buildProtocol(None)
        self.transport = StringTransport()
        self.wrapper.makeConnection(self.transport)
        self.peer = WirePeer(self.wrapper, self.transport)
        self.client = client

    def drop(self):
        self.wrapper.connectionLost(Failure(ConnectionDone("peer closed")))

    def login(self):
        self.peer.greet()
        self.peer.login_md5()

    def answer_list(self, action, complete, items, item_name):
        aid = action.get("ActionID")
        self.peer.ok(action, ("EventList", "start"), ("Message", "will follow"))
        for pairs in items:
            self.peer.send(("Event", item_name), ("ActionID", aid), *pairs)
        self.peer.send(("Event", complete), ("ActionID", aid), ("EventList", "Complete"), ("ListItems", str(len(items))))

    def resync(self, channels=(), entries=()):
        csc = self.peer.last()
        assert csc.name == "CoreShowChannels"
        self.answer_list(csc, "CoreShowChannelsComplete", list(channels), "CoreShowChannel")
        qs = self.peer.last()
        assert qs.name == "QueueStatus"
        self.answer_list(qs, "QueueStatusComplete", list(entries), "QueueEntry")


def make(tracker=None, **kw):
    reactor = MemoryReactorClock()
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", 5038)
    client = AMIClient(
        endpoint, "hotline", "hotline-secret", clock=reactor, tracker=tracker,
        retry_policy=backoffPolicy(initialDelay=1.0, maxDelay=60.0, factor=2.0, jitter=lambda: 0.0), **kw,
    )
    client.start()
    return reactor, client


def _box(d):
    out = []
    d.addBoth(out.append)
    return out


def connected(tracker=None):
    reactor, client = make(tracker=tracker if tracker is not None else CallTracker())
    link = Link(reactor, client)
    ready = _box(client.when_connected())
    link.login()
    link.resync()
    assert ready and ready[0] is client.protocol
    return reactor, client, link
