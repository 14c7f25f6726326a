"""The AMI server side: one :class:`AMISession` protocol per TCP connection.

Framing reuses :class:`callcenter.ami.framing.FrameSplitter` (whole reads,
split at the blank line) and :func:`callcenter.ami.message.parse_message`.
Actions of one session run one at a time, in order, and the session's events
are held while an action is in progress and written after its response and
list — Asterisk never interleaves them (captures 11, 15).
"""
from __future__ import annotations

import hashlib
import logging
import random

from twisted.internet import defer, protocol

from callcenter.ami.errors import AMIParseError
from callcenter.ami.framing import FrameSplitter
from callcenter.ami.message import parse_message
from callcenter.pbxsim.actions import dispatch
from callcenter.pbxsim.wire import NEVER, encode, format_tv

log = logging.getLogger(__name__)


class AMISession(protocol.Protocol):
    """One manager connection."""

    #: actions a client may send before logging in
    open_actions = frozenset({"login", "challenge", "logoff"})
    #: frames beyond this size are dropped, not parsed
    max_frame = 64 * 1024
    #: actions queued behind a slow one before the connection is dropped
    max_queued_actions = 1000
    #: events held back during one slow action before the connection is dropped
    max_pending_events = 100_000

    def __init__(self, sim) -> None:
        self.sim = sim
        self.authenticated = False
        self.username = ""
        self.events: str | frozenset = "on"
        self.challenge: str | None = None
        self.busy = False
        self.closing = False
        self.disconnected = False
        self._actions: list = []
        self._pending_events: list[bytes] = []
        self.session_id = f"0x{random.getrandbits(44):x}"
        self.session_tv = NEVER

    # -- connection -------------------------------------------------------------
    def connectionMade(self) -> None:
        self.splitter = FrameSplitter(self._frame, oversized=self._oversized, expect_greeting=False,
                                      max_frame=self.max_frame)
        self.sim.sessions.append(self)
        self.transport.write(f"Asterisk Call Manager/{self.sim.ami_version}\r\n".encode())

    def connectionLost(self, reason=protocol.connectionDone) -> None:
        if self in self.sim.sessions:
            self.sim.sessions.remove(self)
        self.closing = True
        self.disconnected = True
        self._actions.clear()

    def dataReceived(self, data: bytes) -> None:
        if self.closing:
            return
        self.splitter.feed(data)

    def _oversized(self, size: int) -> None:
        log.warning("AMI frame of %d bytes dropped", size)

    def _frame(self, frame: bytes) -> None:
        try:
            message = parse_message(frame)
        except AMIParseError as exc:
            log.warning("malformed AMI frame skipped: %s", exc)
            return
        if len(self._actions) >= self.max_queued_actions:
            log.warning("AMI client floods actions; closing")
            self.transport.loseConnection()
            return
        self._actions.append(message)
        self._run_next()

    # -- action processing ------------------------------------------------------
    def _run_next(self) -> None:
        while not self.busy and self._actions and not self.closing:
            message = self._actions.pop(0)
            self.busy = True
            d = defer.maybeDeferred(dispatch, self, message)
            d.addErrback(self._crashed, message)
            d.addCallback(self._answered)

    def _crashed(self, failure, message):
        log.error("action %s crashed: %s", message.get("Action"), failure.getTraceback())
        return [self.response(message, "Error", ("Message", "Internal error in the PBX simulator"))]

    def _answered(self, frames) -> None:
        if frames and not self.disconnected:
            self.transport.write(b"".join(encode(f) for f in frames))
        self.busy = False
        self._flush()
        if self.closing:
            self._actions.clear()
            return
        if self._actions:
            self.sim.reactor.callLater(0, self._run_next)

    def response(self, message, status: str, *pairs) -> list:
        out = [("Response", status)]
        aid = message.get("ActionID")
        if aid:
            out.append(("ActionID", aid))
        out.extend(pairs)
        return out

    def close_after(self) -> None:
        """Close once the current response is written (Logoff, failed Login)."""
        self.closing = True
        self.sim.reactor.callLater(0, self.transport.loseConnection)

    # -- events -----------------------------------------------------------------
    def wants(self, privilege: str | None) -> bool:
        if not self.authenticated or self.closing:
            return False
        if self.events == "on":
            return True
        if self.events == "off":
            return False
        return privilege in self.events

    def deliver_event(self, privilege, pairs, data: bytes | None = None) -> None:
        if not self.wants(privilege):
            return
        if data is None:
            data = encode(pairs)
        if self.busy:
            if len(self._pending_events) >= self.max_pending_events:
                log.warning("AMI session fell %d events behind; closing", len(self._pending_events))
                self.closing = True
                self._pending_events.clear()
                self.transport.loseConnection()
                return
            self._pending_events.append(data)
        else:
            self.transport.write(data)

    def _flush(self) -> None:
        if self._pending_events and not self.closing:
            self.transport.write(b"".join(self._pending_events))
        self._pending_events.clear()

    # -- security events -----------------------------------------------------------
    def _addresses(self):
        try:
            host = self.transport.getHost()
            peer = self.transport.getPeer()
            local = f"IPV4/TCP/{host.host}/{host.port}"
            remote = f"IPV4/TCP/{peer.host}/{peer.port}"
        except Exception:  # StringTransport in tests may lack addresses
            local, remote = "IPV4/TCP/127.0.0.1/5038", "IPV4/TCP/127.0.0.1/0"
        return local, remote

    def security_event(self, name: str, severity: str, version: int, *, account: str | None, extra=(),
                       account_last: bool = False) -> None:
        local, remote = self._addresses()
        pairs = [("EventTV", format_tv(self.sim.reactor.seconds())), ("Severity", severity), ("Service", "AMI"),
                 ("EventVersion", str(version))]
        if not account_last:
            pairs.append(("AccountID", account or ""))
        pairs += [("SessionID", self.session_id), ("LocalAddress", local), ("RemoteAddress", remote)]
        pairs += list(extra)
        pairs.append(("SessionTV", self.session_tv))
        if account_last:
            pairs.append(("AccountID", account or ""))
        self.sim.emit(name, "security", pairs)

    # -- login helpers -------------------------------------------------------------
    def check_login(self, message) -> str | None:
        """None if the credentials are right, else the security event to raise."""
        user = message.get("Username", "")
        secret = self.sim.users.get(user)
        if secret is None:
            self.security_event("InvalidAccountID", "Error", 1, account=user)
            return "fail"
        if (message.get("AuthType") or "").lower() == "md5":
            expected = hashlib.md5(((self.challenge or "") + secret).encode()).hexdigest()
            key = message.get("Key", "")
            if not self.challenge or key.lower() != expected:
                self.security_event("ChallengeResponseFailed", "Error", 1, account="", extra=[
                    ("Challenge", self.challenge or ""), ("Response", key), ("ExpectedResponse", expected)])
                return "fail"
            return None
        if message.get("Secret", "") != secret:
            self.security_event("InvalidPassword", "Error", 2, account=user)
            return "fail"
        return None


class AMIServerFactory(protocol.Factory):
    """Connection management for :class:`AMISession` (one simulator, many clients)."""

    def __init__(self, sim) -> None:
        self.sim = sim

    def buildProtocol(self, addr):
        session = AMISession(self.sim)
        session.factory = self
        return session
