"""Replay a capture's client side against the simulator on a ``task.Clock``.

Each recorded AMI connection gets an :class:`AMISession` over a
``StringTransport``; the client's writes are fed at their recorded times
(the clock starts at the capture's epoch), and the server's bytes are
collected per connection for comparison with the capture.
"""
from __future__ import annotations

import re

from twisted.internet import task
from twisted.internet.testing import StringTransport

from callcenter.pbxsim import PBXSimulator
from callcenter.pbxsim.captures import Capture, split_messages
from callcenter.pbxsim.server import AMIServerFactory

#: the capture PBX's clock (Uniqueids such as 1795421302.0)
CAPTURE_EPOCH = 1795421285.0


class _Transport(StringTransport):
    """StringTransport that reports the close to its protocol, like TCP."""

    def __init__(self):
        super().__init__()
        self.protocol = None
        self.closed = False

    def loseConnection(self):
        if not self.closed:
            self.closed = True
            super().loseConnection()
            self.protocol.connectionLost(None)


_CHAN = re.compile(r"((?:Local|PJSIP|AudioSocket)/[^\s;|]*?-)([0-9a-f]{8})(?=;[12]|\b)"
                   r"|(IAX2/[A-Za-z0-9_.:]+(?:-[A-Za-z0-9_.:]+)*?-)(\d+)\b")


def captured_channels(capture: Capture) -> list[str]:
    """Channel names in the order the capture first mentions them."""
    names = []
    for conn in capture.connections():
        for msg in capture.server_messages(conn):
            for key, value in msg:
                if key.endswith("Channel") and _CHAN.match(value) and value not in names:
                    names.append(value)
    return names


def _base(name: str) -> str:
    m = _CHAN.match(name)
    return ((m.group(1) or m.group(3)) + name[m.end():]) if m else name


def epoch_fraction(capture: Capture) -> float:
    """The fraction of a second on the PBX's clock at the capture's t=0, from the first security
    event's ``EventTV`` (millisecond resolution) and the record's ``t``; 0.0 without one."""
    from datetime import datetime

    for r in capture.records:
        if r["type"] == "data" and r["dir"] == "S" and "EventTV: " in r.get("data", ""):
            tv = r["data"].split("EventTV: ", 1)[1].split("\r\n", 1)[0]
            at = datetime.strptime(tv, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
            return (at - r["t"]) % 1.0
    return 0.0


class Replay:
    def __init__(self, capture: Capture, *, spool_dir, setup=None, audiosocket=None, helper=(),
                 dialplan="lab", sounds_dir=None, epoch: float | None = None) -> None:
        self.capture = capture
        self.clock = task.Clock()
        # The capture PBX's wall clock had a fraction of a second at t=0; app_queue counts hold and
        # talk time as differences of whole wall-clock seconds, so the replay starts at the same fraction.
        self.clock.advance(epoch if epoch is not None else CAPTURE_EPOCH + epoch_fraction(capture))
        self.sim = PBXSimulator(self.clock, spool_dir=spool_dir, dialplan=dialplan, sounds_dir=sounds_dir)
        if audiosocket is not None:
            self.sim.tcp_connector = audiosocket
        if setup is not None:
            setup(self.sim)
        self.factory = AMIServerFactory(self.sim)
        self.transports: dict[int, _Transport] = {}
        self._captured = captured_channels(capture)
        # the capture harness's unrecorded helper connection (07–09): (t, frame)
        self.helper = list(helper)
        challenges = [dict(m)["Challenge"] for conn in capture.connections()
                      for m in capture.server_messages(conn) if "Challenge" in dict(m)]
        if challenges:
            # replaying a recorded MD5 login needs the challenge it was computed for
            self.sim.new_challenge = lambda: challenges.pop(0)

    def _open(self, conn: int) -> None:
        proto = self.factory.buildProtocol(None)
        transport = _Transport()
        transport.protocol = proto
        proto.makeConnection(transport)
        self.transports[conn] = transport

    def run(self, tail: float = 3.0, actions=None) -> dict[int, list]:
        """Feed every client write at its time; returns parsed server messages per connection."""
        start = self.clock.seconds()
        events = [(t, 0, conn, None) for t, conn in self.capture.opens()]
        events += [(t, 1, conn, data) for t, conn, data in self.capture.client_writes()]
        if self.helper:
            login = b"Action: Login\r\nUsername: hotline\r\nSecret: hotline-secret\r\nEvents: off\r\n\r\n"
            events += [(0.0, 0, -1, None), (0.0, 1, -1, login)]
            events += [(t, 1, -1, frame) for t, frame in self.helper]
        for t, _order, conn, data in sorted(events, key=lambda e: (e[0], e[1])):
            self._advance_to(start + t)
            if data is None:
                self._open(conn)
            else:
                data = self.translate(data)
                transport = self.transports[conn]
                if not transport.closed:
                    transport.protocol.dataReceived(data)
            self.clock.advance(0)
        self._advance_to(start + self.capture.end_time() + tail)
        return {conn: split_messages(t.value()) for conn, t in self.transports.items() if conn >= 0}

    def translate(self, data: bytes) -> bytes:
        """Rewrite captured channel names to the simulator's (suffixes differ)."""
        captured = self._captured
        created = self.sim.created_channels

        def sub(m):
            name = m.group(0)
            whole = data_text[m.start():m.end() + 2]
            full = whole if whole in captured else name
            if full not in captured:
                return name
            base = _base(full)
            index = [c for c in captured if _base(c) == base].index(full)
            mine = [c for c in created if _base(c) == base]
            if index < len(mine):
                return mine[index][: len(mine[index]) - (len(full) - len(name))]
            return name

        data_text = data.decode("utf-8")
        return _CHAN.sub(lambda m: sub(m), data_text).encode("utf-8")

    def _advance_to(self, when: float) -> None:
        while self.clock.seconds() < when:
            due = [c.getTime() for c in self.clock.getDelayedCalls()]
            nxt = min(due) if due else when
            self.clock.advance(max(0.0, min(nxt, when) - self.clock.seconds()))

    def raw(self, conn: int) -> bytes:
        return self.transports[conn].value()
