"""One AMI connection: greeting, login, actions matched by ActionID, events.

The protocol frames whole reads at the blank line (see
:mod:`callcenter.ami.framing`) instead of using ``LineReceiver``: one split
per read instead of one callback per line.  Every action gets an ActionID and
a Deferred; the response (or, for ``EventList: start`` answers, the response
plus every item event up to ``…Complete``) fires it.  Connection management
and reconnects live in :mod:`callcenter.ami.client`; this class only speaks
the protocol, so it is tested with ``StringTransport`` and ``task.Clock``.
"""
from __future__ import annotations

import hashlib
import itertools
import logging

from twisted.internet import defer
from twisted.internet.protocol import Protocol

from callcenter.ami.dispatch import EventDispatcher
from callcenter.ami.errors import (
    AMIActionError,
    AMIConnectionLost,
    AMILoginError,
    AMIParseError,
    AMITimeout,
    AMITooManyPending,
)
from callcenter.ami.framing import FrameSplitter
from callcenter.ami.message import Message, parse_message, serialize_action

log = logging.getLogger(__name__)
_from_event_frame = Message.from_event_frame

_ids = itertools.count(1)
#: bytes of a frame searched for its first line (``Event: `` + the longest event names)
_HEAD = 64


class ActionResult:
    """The answer to a list action (``EventList``) or to ``Command``.

    ``response`` is the first answer, ``events`` the item events in order,
    ``complete`` the closing ``…Complete`` event (None for ``Command``), and
    ``output`` the ``Output:`` lines of a ``Command`` joined by newlines.
    """

    __slots__ = ("action", "response", "events", "complete")

    def __init__(self, action: str, response: Message, events=None, complete: Message | None = None) -> None:
        self.action = action
        self.response = response
        self.events: list[Message] = events if events is not None else []
        self.complete = complete

    @property
    def output(self) -> str:
        return "\n".join(self.response.getall("Output"))

    @property
    def list_items(self) -> int | None:
        """``ListItems`` as Asterisk counted it (None when absent)."""
        if self.complete is None:
            return None
        value = self.complete.get("ListItems")
        return int(value) if value and value.isdigit() else None

    def __iter__(self):
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)

    def __repr__(self) -> str:
        return f"<ActionResult {self.action} items={len(self.events)}>"


class _Pending:
    __slots__ = ("name", "deferred", "timer", "result", "overflow")

    def __init__(self, name: str, deferred: defer.Deferred) -> None:
        self.name = name
        self.deferred = deferred
        self.timer = None
        self.result: ActionResult | None = None
        self.overflow = False


class AMIProtocol(Protocol):
    """The client side of one AMI session.

    ``clock`` (an ``IReactorTime``) drives action timeouts and the keepalive
    Ping; the factory sets it, tests pass a ``task.Clock``.  ``dispatcher``
    receives every event that is not an item of a pending list.
    """

    #: limits (bytes / counts); class attributes so a deployment can subclass.
    #: ``max_frame_bytes`` also bounds what is buffered between reads: a
    #: partial frame beyond it is dropped and skipped to the next blank line.
    max_frame_bytes = 512 * 1024
    max_pending_actions = 1000
    max_list_items = 100_000
    #: seconds an action may wait for its (complete) answer; None waits forever
    action_timeout: float | None = 10.0
    #: seconds between keepalive Pings once logged in (None: no keepalive)
    ping_interval: float | None = 20.0
    #: a Ping unanswered this long means the peer is gone: drop the connection
    ping_timeout: float = 10.0
    #: seconds from the TCP connection to the ``Asterisk Call Manager/…`` line; a peer
    #: that accepts the connection but never greets is dropped (None: wait forever)
    greeting_timeout: float | None = 10.0
    #: seconds for each step of the login (Challenge, Login) to be answered
    login_timeout: float = 10.0
    #: seconds a trickle of events may gather in the socket before the next
    #: read (0 reads as soon as anything arrives).  A busy PBX writes events
    #: one by one; reading each handful at once costs a reactor wake-up per
    #: read, several times the cost of the events themselves.  While an
    #: action waits for its answer the connection is read at once (the
    #: answer still comes after the events that arrived before it); events
    #: wait at most about this long.
    read_coalesce: float = 0.001
    #: a read at least this large means events are not trickling: read on
    coalesce_below = 32 * 1024

    def __init__(self, clock=None, dispatcher: EventDispatcher | None = None) -> None:
        self.clock = clock
        self.dispatcher = dispatcher if dispatcher is not None else EventDispatcher()
        self.greeting: str | None = None
        self.lost_reason = None
        self.logged_in = False
        self.connected = False
        self._pending: dict[str, _Pending] = {}
        self._lists = 0
        self._splitter = FrameSplitter(
            self._frame_received, self._greeting_received, self._oversized, max_frame=self.max_frame_bytes
        )
        self._prefix = f"cc{next(_ids)}-"
        self._counter = itertools.count(1)
        self._greeted: list[defer.Deferred] = []
        self._lost: list[defer.Deferred] = []
        self._keepalive = None
        self._ping_outstanding = False
        self._resume = None
        self._greeting_timer = None
        self.events_received = 0
        self.stats = {"malformed": 0, "oversized": 0, "orphans": 0}

    # -- connection -----------------------------------------------------
    def _clock(self):
        if self.clock is None:
            from twisted.internet import reactor

            self.clock = reactor
        return self.clock

    def connectionMade(self) -> None:
        self.connected = True
        if self.greeting_timeout is not None and self.greeting is None:
            self._greeting_timer = self._clock().callLater(self.greeting_timeout, self._no_greeting)

    def _no_greeting(self) -> None:
        """The peer accepted the connection but said nothing: not an AMI server we can use."""
        self._greeting_timer = None
        if self.greeting is not None or not self.connected:
            return
        log.warning("no AMI greeting in time; dropping the connection",
                    extra={"fields": {"error_id": AMITimeout.error_id, "timeout": self.greeting_timeout}})
        greeted, self._greeted = self._greeted, []
        for d in greeted:
            d.errback(AMITimeout("no AMI greeting in time", action="greeting", timeout=self.greeting_timeout))
        self.abort()

    def abort(self) -> None:
        """Drop the connection at once (a peer that stopped reading would hold a graceful close)."""
        transport = self.transport
        if transport is not None:
            getattr(transport, "abortConnection", transport.loseConnection)()

    def dataReceived(self, data: bytes) -> None:
        self._splitter.feed(data)
        if (self.read_coalesce and not self._pending and self._resume is None and self.connected
                and len(data) < self.coalesce_below):
            self._pause_reading()

    def _pause_reading(self) -> None:
        transport = self.transport
        pause = getattr(transport, "pauseProducing", None)
        if pause is None or getattr(transport, "disconnecting", False):
            return
        pause()
        self._resume = self._clock().callLater(self.read_coalesce, self._resume_reading)

    def _resume_reading(self) -> None:
        self._resume = None
        if self.connected and not getattr(self.transport, "disconnecting", False):
            self.transport.resumeProducing()

    def _read_now(self) -> None:
        """End a coalescing pause: an answer is awaited.  Reading resumes on
        the reactor's next turn, once the action has been written (Twisted
        reads a socket before writing it, so resuming at once would hold the
        action back behind the gathered events)."""
        timer = self._resume
        if timer is not None and timer.active():
            timer.cancel()
            self._resume = self._clock().callLater(0, self._resume_reading)

    @property
    def reading_paused(self) -> bool:
        """True while reads are held back to let events gather."""
        return self._resume is not None

    def connectionLost(self, reason=None) -> None:
        self.connected = False
        self.logged_in = False
        self._stop_keepalive()
        if self._greeting_timer is not None and self._greeting_timer.active():
            self._greeting_timer.cancel()
        self._greeting_timer = None
        if self._resume is not None:
            if self._resume.active():
                self._resume.cancel()
            self._resume = None
        pending, self._pending = self._pending, {}
        self._lists = 0
        detail = reason.getErrorMessage() if reason is not None else "closed"
        for action_id, entry in pending.items():
            if entry.timer is not None and entry.timer.active():
                entry.timer.cancel()
            entry.deferred.errback(
                AMIConnectionLost("AMI connection lost before the answer", action=entry.name, action_id=action_id, reason=detail)
            )
        greeted, self._greeted = self._greeted, []
        for d in greeted:
            d.errback(AMIConnectionLost("AMI connection lost before the greeting", reason=detail))
        self.lost_reason = reason
        lost, self._lost = self._lost, []
        for d in lost:
            d.callback(self)

    def when_greeted(self) -> defer.Deferred:
        """Fires with the greeting line (``Asterisk Call Manager/11.0.0``)."""
        if self.greeting is not None:
            return defer.succeed(self.greeting)
        d = defer.Deferred()
        self._greeted.append(d)
        return d

    def when_lost(self) -> defer.Deferred:
        """Fires with this protocol once the connection has closed
        (``lost_reason`` holds the Failure)."""
        d = defer.Deferred()
        if not self.connected and self.transport is not None:
            d.callback(self)
        else:
            self._lost.append(d)
        return d

    @property
    def ami_version(self) -> str | None:
        if self.greeting and "/" in self.greeting:
            return self.greeting.rsplit("/", 1)[1]
        return None

    # -- framing callbacks ----------------------------------------------
    def _greeting_received(self, line: str) -> None:
        self.greeting = line
        if self._greeting_timer is not None and self._greeting_timer.active():
            self._greeting_timer.cancel()
        self._greeting_timer = None
        if not line.startswith("Asterisk Call Manager/"):
            log.warning("unexpected AMI greeting", extra={"fields": {"greeting": line[:120]}})
        greeted, self._greeted = self._greeted, []
        for d in greeted:
            d.callback(line)

    def _oversized(self, size: int) -> None:
        self.stats["oversized"] += 1
        log.warning("AMI frame over the size limit skipped", extra={"fields": {"bytes": size, "limit": self.max_frame_bytes}})

    def _frame_received(self, frame: bytes) -> None:
        # The usual case first: an event while no list is being collected.
        # Its first line (a short slice, then one split) picks the route; the
        # dispatcher builds a Message only if a subscriber wants one (the call
        # tracker reads the bytes).
        if not self._lists:
            head = frame[:_HEAD].partition(b"\r\n")[0]
            if len(head) < _HEAD:
                self.events_received += 1  # counted before subscribers run, as on the general path
                if self.dispatcher.dispatch_frame(frame, head):
                    return
                self.events_received -= 1  # not an event (a response): the general path below
        if frame.startswith(b"Event: "):
            message = _from_event_frame(frame)
            if self._lists:
                action_id = message.get("ActionID")
                if action_id is not None:
                    entry = self._pending.get(action_id)
                    if entry is not None and entry.result is not None:
                        self._list_item(action_id, entry, message)
                        return
            self.events_received += 1
            self.dispatcher.dispatch(message, message._name)
        elif frame.startswith(b"Response: "):
            self._response(Message.from_frame(frame))
        else:
            self._odd_frame(frame)

    def _odd_frame(self, frame: bytes) -> None:
        """A frame not in Asterisk's own spelling: parse strictly, or skip it.

        A stray blank line before a frame (an odd number of CRLF pairs from a peer or proxy) leaves the
        frame starting with CRLF: it is read again without them rather than lost."""
        if frame.startswith(b"\r\n"):
            stripped = frame.lstrip(b"\r\n")
            if stripped:
                self._frame_received(stripped)
            return
        try:
            message = parse_message(frame)
        except AMIParseError as exc:
            self.stats["malformed"] += 1
            log.warning("malformed AMI frame skipped", extra={"fields": {"error": exc.message, "frame": frame[:200]}})
            return
        kind = message.kind
        if kind == "event":
            self.events_received += 1
            self.dispatcher.dispatch(message, message.name)
        elif kind == "response":
            self._response(message)
        else:
            self.stats["malformed"] += 1
            log.warning("AMI frame neither event nor response skipped", extra={"fields": {"first": message.pairs[0][0]}})

    # -- responses ------------------------------------------------------
    def _response(self, message: Message) -> None:
        action_id = message.get("ActionID")
        entry = self._pending.get(action_id) if action_id is not None else None
        if entry is None:
            self.stats["orphans"] += 1
            log.debug("AMI response without a pending action", extra={"fields": {"action_id": action_id}})
            return
        status = message.name
        if status == "Error":
            self._finish(action_id, entry)
            text = message.get("Message") or "AMI action failed"
            entry.deferred.errback(AMIActionError(text, message, action=entry.name, action_id=action_id))
            return
        if (message.get("EventList") or "").lower() == "start":
            entry.result = ActionResult(entry.name, message)
            self._lists += 1
            return
        self._finish(action_id, entry)
        if entry.name.lower() == "command":
            entry.deferred.callback(ActionResult(entry.name, message))
        else:
            entry.deferred.callback(message)

    def _list_item(self, action_id: str, entry: _Pending, message: Message) -> None:
        state = (message.get("EventList") or "").lower()
        if state and state != "start":
            result = entry.result
            result.complete = message
            self._finish(action_id, entry)
            if entry.overflow:
                entry.deferred.errback(
                    AMITooManyPending(
                        "AMI event list longer than allowed", action=entry.name, limit=self.max_list_items
                    )
                )
            else:
                entry.deferred.callback(result)
            return
        if len(entry.result.events) >= self.max_list_items:
            entry.overflow = True
            return
        entry.result.events.append(message)

    def _finish(self, action_id: str, entry: _Pending) -> None:
        self._pending.pop(action_id, None)
        if entry.result is not None:
            self._lists -= 1
        if entry.timer is not None and entry.timer.active():
            entry.timer.cancel()

    def _timed_out(self, action_id: str, timeout: float) -> None:
        entry = self._pending.get(action_id)
        if entry is None:
            return
        entry.timer = None
        self._finish(action_id, entry)
        entry.deferred.errback(AMITimeout("no answer to AMI action in time", action=entry.name, action_id=action_id, timeout=timeout))

    # -- actions --------------------------------------------------------
    def next_action_id(self) -> str:
        return f"{self._prefix}{next(self._counter)}"

    def send_action(self, name: str, headers=None, timeout: float | None | object = ..., action_id: str | None = None) -> defer.Deferred:
        """Send one action; the Deferred fires with its answer.

        The answer is a :class:`Message` for plain responses and an
        :class:`ActionResult` for event lists and ``Command``.  Failures:
        :class:`AMIActionError` (``Response: Error``), :class:`AMITimeout`,
        :class:`AMIConnectionLost`, :class:`AMITooManyPending`, and
        :class:`AMIInjectionError` (raised before anything is written).
        ``timeout`` defaults to :attr:`action_timeout`; None waits forever.
        """
        if headers is None:
            pairs = []
        elif hasattr(headers, "items"):
            pairs = list(headers.items())
        else:
            pairs = list(headers)
        given = [v for k, v in pairs if str(k).lower() == "actionid"]
        if given:
            action_id = str(given[0])
            pairs = [(k, v) for k, v in pairs if str(k).lower() != "actionid"]
        if action_id is None:
            action_id = self.next_action_id()
        try:
            wire = serialize_action(name, [("ActionID", action_id)] + pairs)
        except Exception as exc:
            return defer.fail(exc)
        if not self.connected or self.transport is None:
            return defer.fail(AMIConnectionLost("AMI is not connected", action=name))
        if len(self._pending) >= self.max_pending_actions:
            return defer.fail(AMITooManyPending("too many AMI actions waiting", action=name, limit=self.max_pending_actions))
        if action_id in self._pending:
            return defer.fail(AMIActionError("ActionID already in use", None, action=name, action_id=action_id))
        d = defer.Deferred()
        entry = _Pending(name, d)
        self._pending[action_id] = entry
        if timeout is ...:
            timeout = self.action_timeout
        if timeout is not None:
            entry.timer = self._clock().callLater(timeout, self._timed_out, action_id, timeout)
        self.transport.write(wire)
        if self._resume is not None:
            self._read_now()
        return d

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    # -- login ----------------------------------------------------------
    @defer.inlineCallbacks
    def login(self, username: str, secret: str, auth: str = "md5", events: str | bool = "on",
              plain_fallback: bool = False):
        """Log in: MD5 challenge (the secret never crosses the wire), or a plain
        ``Secret`` when ``auth`` is ``"plain"``.  When the server refuses the
        challenge the login fails with :class:`AMILoginError` — the secret is
        sent in plain text instead only when ``plain_fallback`` is set
        (``[ami] plain_fallback``).  Fails with :class:`AMILoginError` on bad
        credentials (Asterisk then closes the connection) and
        :class:`AMITimeout` when a step is not answered in :attr:`login_timeout`."""
        if isinstance(events, bool):
            events = "on" if events else "off"
        if auth not in ("md5", "plain"):
            raise AMILoginError("unknown AMI auth type", auth=auth)
        yield self.when_greeted()
        headers = None
        if auth == "md5":
            try:
                answer = yield self.send_action("Challenge", [("AuthType", "MD5")], timeout=self.login_timeout)
            except AMIActionError as exc:
                if not plain_fallback:
                    self.abort()
                    raise AMILoginError("AMI server refused the MD5 challenge; the secret is not sent in plain "
                                        "text unless [ami] plain_fallback = true: " + exc.message,
                                        username=username, auth=auth) from None
                log.warning("AMI MD5 challenge refused; plain login as configured ([ami] plain_fallback)",
                            extra={"fields": {"reason": exc.message}})
            else:
                challenge = answer.get("Challenge") or ""
                key = hashlib.md5((challenge + secret).encode("utf-8")).hexdigest()
                headers = [("AuthType", "MD5"), ("Username", username), ("Key", key), ("Events", events)]
        if headers is None:
            headers = [("Username", username), ("Secret", secret), ("Events", events)]
        try:
            answer = yield self.send_action("Login", headers, timeout=self.login_timeout)
        except AMIActionError as exc:
            if self.transport is not None:
                self.transport.loseConnection()
            raise AMILoginError("AMI login refused: " + exc.message, username=username, auth=auth) from None
        self.logged_in = True
        self.start_keepalive()
        return answer

    def logoff(self) -> defer.Deferred:
        """Say goodbye; Asterisk answers ``Goodbye`` and closes."""
        self._stop_keepalive()
        return self.send_action("Logoff")

    # -- keepalive ------------------------------------------------------
    def ping(self, timeout: float | None = None) -> defer.Deferred:
        """Send ``Ping``; fires with the round-trip time in seconds."""
        clock = self._clock()
        started = clock.seconds()
        d = self.send_action("Ping", timeout=self.ping_timeout if timeout is None else timeout)
        d.addCallback(lambda _: clock.seconds() - started)
        return d

    def start_keepalive(self) -> None:
        if self.ping_interval is None or self._keepalive is not None:
            return
        self._keepalive = self._clock().callLater(self.ping_interval, self._keepalive_tick)

    def _stop_keepalive(self) -> None:
        if self._keepalive is not None and self._keepalive.active():
            self._keepalive.cancel()
        self._keepalive = None

    def _keepalive_tick(self) -> None:
        self._keepalive = None
        if not self.connected:
            return
        if not self._ping_outstanding:
            self._ping_outstanding = True
            d = self.ping()

            def done(result):
                self._ping_outstanding = False
                return result

            def dead(failure):
                if failure.check(AMITimeout) and self.connected:
                    log.warning("AMI keepalive Ping unanswered; dropping the connection", extra={"fields": {"timeout": self.ping_timeout}})
                    transport = self.transport
                    getattr(transport, "abortConnection", transport.loseConnection)()
                return None

            d.addBoth(done).addErrback(dead)
        self.start_keepalive()
