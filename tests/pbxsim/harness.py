"""A Clock-driven AMI client for simulator tests: StringTransport, no TCP."""
from __future__ import annotations

import urllib.parse

from twisted.internet import task
from twisted.internet.testing import StringTransport

from callcenter.pbxsim import PBXSimulator
from callcenter.pbxsim.captures import split_messages
from callcenter.pbxsim.server import AMIServerFactory


class Peer:
    """One AMI connection to ``sim`` whose output is read as parsed messages."""

    def __init__(self, sim, clock) -> None:
        self.sim, self.clock = sim, clock
        self.proto = AMIServerFactory(sim).buildProtocol(None)
        self.transport = StringTransport()
        self.proto.makeConnection(self.transport)
        self._seen = 0
        self.log: list = []
        self._aid = 0

    def read(self) -> list[list[tuple[str, str]]]:
        """Messages written since the last read (greeting excluded)."""
        data = self.transport.value()
        new = data[self._seen:]
        self._seen = len(data)
        msgs = split_messages(new)
        self.log.extend(msgs)
        return msgs

    def send(self, action: str, *pairs, **headers) -> str:
        self._aid += 1
        aid = f"t-{self._aid}"
        lines = [f"Action: {action}", f"ActionID: {aid}"]
        lines += [f"{k}: {v}" for k, v in pairs]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.proto.dataReceived(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.clock.advance(0)
        return aid

    def response(self, aid: str) -> dict:
        for m in self.read_all():
            if m[0][0] == "Response" and dict(m).get("ActionID") == aid:
                return dict(m)
        raise AssertionError(f"no response to {aid}")

    def read_all(self) -> list:
        self.read()
        return self.log

    def events(self, name: str | None = None) -> list[dict]:
        return [dict(m) for m in self.read_all() if m[0][0] == "Event" and (name is None or m[0][1] == name)]

    def login(self, events: str = "on") -> None:
        aid = self.send("Login", Username="hotline", Secret="hotline-secret", Events=events)
        assert self.response(aid)["Message"] == "Authentication accepted"

    def agi(self, channel: str, command: str, wait: float = 30.0) -> str:
        """Run an AGI command and advance the clock until its AsyncAGIExec; the decoded result."""
        self._aid += 1
        cid = f"cmd-{self._aid}"
        aid = self.send("AGI", Channel=channel, Command=command, CommandID=cid)
        assert self.response(aid)["Response"] == "Success", self.response(aid)
        step = 0.05
        waited = 0.0
        while waited <= wait:
            for ev in self.events("AsyncAGIExec"):
                if ev.get("CommandId") == cid:
                    return urllib.parse.unquote(ev["Result"]).strip()
            self.clock.advance(step)
            waited += step
        raise AssertionError(f"AGI {command!r} did not finish")


def make(tmp_path, *, speed: float = 1.0, dialplan: str = "hotline", start: float = 1795421285.0, sounds_dir=None):
    clock = task.Clock()
    clock.advance(start)
    sim = PBXSimulator(clock, spool_dir=tmp_path / "spool", speed=speed, dialplan=dialplan, sounds_dir=sounds_dir)
    return sim, clock


def advance(clock, seconds: float, step: float = 0.05) -> None:
    """Move time forward in small steps so chained timers run in order."""
    end = clock.seconds() + seconds
    while clock.seconds() < end - 1e-9:
        due = [c.getTime() for c in clock.getDelayedCalls()]
        nxt = min(due) if due else end
        clock.advance(max(0.0, min(nxt, end) - clock.seconds()))
