"""The AMI client the rest of the service uses: :class:`AMIClient`.

Connection management is Twisted's ``ClientService`` with an exponential
backoff.  A refused login counts as a failed attempt for the backoff (Asterisk
closes the socket after ``Authentication failed``), so bad credentials are
retried slowly and reported, never hammered in a loop.

After every (re)connect and login the client resynchronises call tracking
with ``CoreShowChannels`` (and ``QueueStatus`` for queue positions) before
:meth:`AMIClient.when_connected` fires, so a call that started or ended while
we were away is neither lost nor counted twice.

Subscriptions, pending AsyncAGI commands and pending Originates belong to the
client, so subscriptions survive reconnects; commands in flight fail with
:class:`~callcenter.ami.errors.AMIConnectionLost` when a connection drops.
"""
from __future__ import annotations

import logging

from twisted.application.internet import ClientService, backoffPolicy
from twisted.internet import defer
from twisted.internet.protocol import Factory

from callcenter.ami.dispatch import EventDispatcher
from callcenter.ami.errors import (
    AGIError,
    AMIActionError,
    AMIConnectionLost,
    AMILoginError,
    AMINotConnected,
    AMITimeout,
)
from callcenter.ami.events import OriginateResponse, from_message, parse_agi_result
from callcenter.ami.protocol import AMIProtocol
from callcenter.clock import now_from

log = logging.getLogger(__name__)


def read_coalesce_setting(config) -> float:
    """``[ami] read_coalesce_ms`` as seconds; a value outside 0-100 ms is a
    :class:`~callcenter.config.ConfigError` naming the key."""
    return config.number("ami.read_coalesce_ms", 0, 100, unit="ms", default=1.0) / 1000


class AMIFactory(Factory):
    """Builds one :class:`AMIProtocol` per connection, sharing the client's
    clock and event dispatcher."""

    protocol = AMIProtocol

    def __init__(self, client: "AMIClient") -> None:
        self.client = client

    def buildProtocol(self, addr):
        proto = self.protocol(clock=self.client.clock, dispatcher=self.client.dispatcher)
        proto.factory = self
        for name in ("action_timeout", "ping_interval", "ping_timeout", "read_coalesce", "greeting_timeout",
                     "login_timeout"):
            value = self.client.protocol_settings.get(name, ...)
            if value is not ...:
                setattr(proto, name, value)
        self.client._connection_made(proto)
        return proto


class AMIClient:
    """A reconnecting, logged-in AMI session with helpers for the hotline.

    ``endpoint`` is any ``IStreamClientEndpoint`` (``TCP4ClientEndpoint`` to
    Asterisk on 5038, or the PBX simulator).  ``clock`` is the reactor (or a
    ``task.Clock``/``MemoryReactorClock`` in tests).  ``tracker`` (optional)
    is a :class:`callcenter.calls.CallTracker` fed with every event.
    """

    #: seconds (on top of the Originate's own ring timeout) to wait for OriginateResponse
    originate_grace = 30.0

    def __init__(
        self,
        endpoint,
        username: str,
        secret: str,
        *,
        clock,
        auth: str = "md5",
        events: str = "on",
        tracker=None,
        retry_policy=None,
        reconnect_policy=None,
        resync: bool = True,
        action_timeout: float | None | object = ...,
        ping_interval: float | None | object = ...,
        ping_timeout: float | object = ...,
        read_coalesce: float | object = ...,
        greeting_timeout: float | None | object = ...,
        login_timeout: float | object = ...,
        plain_fallback: bool = False,
    ) -> None:
        self.endpoint = endpoint
        self.username = username
        self._secret = secret
        self.auth = auth
        self.plain_fallback = plain_fallback
        self.events = events
        self.clock = clock
        self.tracker = tracker
        self.resync_enabled = resync
        if read_coalesce is not ... and not 0 <= read_coalesce <= 0.1:
            raise ValueError(f"read_coalesce must be 0 to 0.1 s, not {read_coalesce!r}")
        self.protocol_settings = {"action_timeout": action_timeout, "ping_interval": ping_interval, "ping_timeout": ping_timeout,
                                  "read_coalesce": read_coalesce, "greeting_timeout": greeting_timeout,
                                  "login_timeout": login_timeout}
        self.dispatcher = EventDispatcher()
        self.protocol: AMIProtocol | None = None
        self.ready = False
        self.login_failures = 0
        self.last_error: Exception | None = None
        self.connections = 0
        self._now_at = float("-inf")
        self._now = None
        self._base_policy = retry_policy or backoffPolicy(initialDelay=1.0, maxDelay=60.0, factor=2.0)
        #: after a connection that was refused or dropped (not a failed login or a silent PBX) retry
        #: soon and keep retrying every couple of seconds: callers wait in the PBX meanwhile
        self._reconnect_policy = reconnect_policy or backoffPolicy(initialDelay=0.5, maxDelay=2.0, factor=1.5)
        self._waiters: list[defer.Deferred] = []
        self._ready_listeners: list = []
        self._agi: dict[str, tuple[defer.Deferred, str, object]] = {}
        self._originates: dict[str, tuple[defer.Deferred, object]] = {}
        self._service = ClientService(endpoint, AMIFactory(self), retryPolicy=self._retry_delay, clock=clock)
        self.dispatcher.subscribe(self._agi_event, names=("AsyncAGIExec", "AsyncAGIEnd", "Hangup"))
        self.dispatcher.subscribe(self._originate_event, names=("OriginateResponse",))
        if tracker is not None:
            # Only the events that can change tracking (about two thirds of a
            # busy PBX's stream) reach it; the rest cost one dict lookup.
            self.dispatcher.subscribe_frames(self._track, names=getattr(tracker, "event_names", None))

    @classmethod
    def from_config(cls, config, reactor, tracker=None, **kw) -> "AMIClient":
        """Build from the ``[ami]`` config section (host, port, username, secret, auth, …).

        Keyword arguments override what the section says (the demo passes ``clock``, a scaled
        clock, and ``ping_interval=None``); the connection is always made on ``reactor``."""
        from twisted.internet.endpoints import TCP4ClientEndpoint

        get = config.get
        endpoint = TCP4ClientEndpoint(reactor, get("ami.host"), int(get("ami.port")), timeout=10)
        settings = dict(
            clock=reactor,
            auth=get("ami.auth") or "md5",
            tracker=tracker,
            action_timeout=float(get("ami.action_timeout")),
            ping_interval=float(get("ami.ping_interval")),
            read_coalesce=read_coalesce_setting(config),
            greeting_timeout=config.number("ami.greeting_timeout", 1, 300, unit="s", default=10.0),
            login_timeout=config.number("ami.login_timeout", 1, 300, unit="s", default=10.0),
            plain_fallback=bool(get("ami.plain_fallback")),
        )
        settings.update(kw)
        return cls(endpoint, get("ami.username"), get("ami.secret"), **settings)

    # -- lifecycle --------------------------------------------------------
    def start(self) -> None:
        self._service.startService()

    def stop(self) -> defer.Deferred:
        """Stop reconnecting and close the connection."""
        self.ready = False
        return self._service.stopService()

    @property
    def running(self) -> bool:
        return bool(self._service.running)

    def when_connected(self) -> defer.Deferred:
        """Fires with the :class:`AMIProtocol` once logged in and resynchronised."""
        if self.ready and self.protocol is not None:
            return defer.succeed(self.protocol)
        d = defer.Deferred()
        self._waiters.append(d)
        return d

    def add_ready_listener(self, listener) -> None:
        """``listener(proto)`` after every login and resynchronisation (the first and each reconnect):
        the moment to adopt calls that went on in the PBX while nobody drove them."""
        self._ready_listeners.append(listener)

    def _retry_delay(self, attempt: int) -> float:
        if self.login_failures:
            delay = self._base_policy(attempt + self.login_failures)
        else:
            delay = self._reconnect_policy(attempt)
        log.info("AMI reconnect scheduled", extra={"fields": {"attempt": attempt, "login_failures": self.login_failures, "delay": round(delay, 3)}})
        return delay

    def _connection_made(self, proto: AMIProtocol) -> None:
        self.connections += 1
        self.protocol = proto
        self.ready = False
        proto.when_lost().addCallback(self._connection_lost)
        self._session(proto).addErrback(self._session_failed, proto)

    @defer.inlineCallbacks
    def _session(self, proto: AMIProtocol):
        yield proto.login(self.username, self._secret, auth=self.auth, events=self.events,
                          plain_fallback=self.plain_fallback)
        self.login_failures = 0
        self.last_error = None
        log.info("AMI logged in", extra={"fields": {"user": self.username, "ami_version": proto.ami_version}})
        if self.resync_enabled and self.tracker is not None:
            yield self.resync(proto)
        if proto is not self.protocol or not proto.connected:
            return
        self.ready = True
        waiters, self._waiters = self._waiters, []
        for d in waiters:
            d.callback(proto)
        for listener in list(self._ready_listeners):
            try:
                listener(proto)
            except Exception:
                log.exception("AMI ready listener failed")

    def _session_failed(self, failure, proto: AMIProtocol) -> None:
        self.last_error = failure.value
        if failure.check(AMILoginError):
            self.login_failures += 1
            log.error(
                "AMI login failed; will retry with backoff",
                extra={"fields": {"user": self.username, "error_id": AMILoginError.error_id, "failures": self.login_failures}},
            )
        else:
            self.login_failures += 1
            log.warning("AMI session setup failed; will retry with backoff",
                        extra={"fields": {"error": str(failure.value), "failures": self.login_failures,
                                          "error_id": getattr(failure.value, "error_id", None)}})
        if proto.connected and proto.transport is not None:
            proto.abort()

    def _connection_lost(self, proto: AMIProtocol) -> None:
        if proto is self.protocol:
            self.protocol = None
            self.ready = False
        reason = proto.lost_reason
        detail = reason.getErrorMessage() if reason is not None else "closed"
        log.warning("AMI connection lost", extra={"fields": {"reason": detail, "pending_agi": len(self._agi)}})
        for command_id, (d, channel, timer, owner) in list(self._agi.items()):
            if owner is proto:
                self._finish_agi(command_id)
                d.errback(AMIConnectionLost("AMI connection lost during AGI command", channel=channel, command_id=command_id, reason=detail))
        for action_id, (d, timer, owner) in list(self._originates.items()):
            if owner is proto:
                self._finish_originate(action_id)
                d.errback(AMIConnectionLost("AMI connection lost before OriginateResponse", action_id=action_id, reason=detail))

    # -- resynchronisation --------------------------------------------------
    @defer.inlineCallbacks
    def resync(self, proto: AMIProtocol | None = None):
        """Reconcile call tracking with the PBX's live channels and queue entries."""
        proto = proto or self._require()
        token = self.tracker.begin_resync()
        channels = yield proto.send_action("CoreShowChannels")
        try:
            queues = yield proto.send_action("QueueStatus")
        except AMIActionError:
            queues = None
        entries = [m for m in queues.events if m.name == "QueueEntry"] if queues is not None else []
        summary = self.tracker.resync(list(channels.events), token, now_from(self.clock), queue_entries=entries)
        log.info("AMI call tracking resynchronised", extra={"fields": summary})
        return summary

    def _track(self, name: str, frame: bytes) -> None:
        # One datetime per millisecond of reactor time, not one per event.
        seconds = self.clock.seconds()
        if seconds - self._now_at >= 0.001 or seconds < self._now_at:
            self._now_at = seconds
            self._now = now_from(self.clock)
        self.tracker.apply_frame(name, frame, self._now)

    # -- generic actions ----------------------------------------------------
    def _require(self) -> AMIProtocol:
        proto = self.protocol
        if proto is None or not proto.connected or not proto.logged_in:
            raise AMINotConnected("no logged-in AMI connection", user=self.username)
        return proto

    def send(self, name: str, headers=None, timeout: float | None | object = ...) -> defer.Deferred:
        """Send an action (headers as pairs or mapping); see :meth:`AMIProtocol.send_action`."""
        try:
            proto = self._require()
        except AMINotConnected as exc:
            return defer.fail(exc)
        return proto.send_action(name, headers, timeout=timeout)

    def action(self, name: str, **headers) -> defer.Deferred:
        """``action("QueuePause", Queue="hotline-general", Interface=..., Paused="true")``."""
        return self.send(name, headers)

    def subscribe(self, callback, names=None, predicate=None, typed: bool = False):
        """Receive events (raw :class:`Message`, or typed with ``typed=True``),
        optionally filtered by names and/or a predicate; returns a
        :class:`~callcenter.ami.dispatch.Subscription` (``.cancel()``)."""
        return self.dispatcher.subscribe(callback, names=names, predicate=predicate, typed=typed)

    def ping(self) -> defer.Deferred:
        try:
            return self._require().ping()
        except AMINotConnected as exc:
            return defer.fail(exc)

    def command(self, cli: str) -> defer.Deferred:
        """Run a CLI command; fires with its output text."""
        return self.send("Command", [("Command", cli)]).addCallback(lambda r: r.output)

    # -- call control -----------------------------------------------------------
    def originate(
        self,
        channel: str,
        *,
        context: str | None = None,
        exten: str | None = None,
        priority: int = 1,
        application: str | None = None,
        data: str | None = None,
        caller_id: str | None = None,
        timeout: float = 30.0,
        variables: dict | None = None,
        account: str | None = None,
        channel_id: str | None = None,
    ) -> defer.Deferred:
        """Place an async call; fires with the typed
        :class:`~callcenter.ami.events.OriginateResponse` (check ``answered``
        and ``reason``: 4 answered, 3 no answer, 5 busy, 8 congestion, 0 failed).
        ``timeout`` is the ring time in seconds."""
        if (application is None) == (context is None):
            return defer.fail(AMIActionError("originate needs either context/exten or application", None))
        headers = [("Channel", channel)]
        if application is not None:
            headers += [("Application", application), ("Data", data)]
        else:
            headers += [("Context", context), ("Exten", exten or "s"), ("Priority", priority)]
        headers += [("CallerID", caller_id), ("Timeout", int(timeout * 1000)), ("Account", account), ("ChannelId", channel_id), ("Async", "true")]
        for key, value in (variables or {}).items():
            headers.append(("Variable", f"{key}={value}"))
        try:
            proto = self._require()
        except AMINotConnected as exc:
            return defer.fail(exc)
        action_id = proto.next_action_id()
        result = defer.Deferred()
        timer = self.clock.callLater(timeout + self.originate_grace, self._originate_timeout, action_id)
        self._originates[action_id] = (result, timer, proto)
        sent = proto.send_action("Originate", headers, action_id=action_id)

        def refused(failure):
            if action_id in self._originates:
                self._finish_originate(action_id)
                result.errback(failure)

        sent.addErrback(refused)
        return result

    def _originate_event(self, message) -> None:
        action_id = message.get("ActionID")
        if action_id in self._originates:
            d = self._finish_originate(action_id)
            d.callback(from_message(message))

    def _finish_originate(self, action_id):
        d, timer, _ = self._originates.pop(action_id)
        if timer.active():
            timer.cancel()
        return d

    def _originate_timeout(self, action_id) -> None:
        if action_id in self._originates:
            d = self._originates.pop(action_id)[0]
            d.errback(AMITimeout("no OriginateResponse in time", action="Originate", action_id=action_id))

    def redirect(self, channel: str, context: str, exten: str, priority: int = 1, extra_channel: str | None = None) -> defer.Deferred:
        """Move a channel (and optionally its peer) to ``context,exten,priority``."""
        headers = [("Channel", channel), ("Context", context), ("Exten", exten), ("Priority", priority)]
        if extra_channel:
            headers += [("ExtraChannel", extra_channel), ("ExtraContext", context), ("ExtraExten", exten), ("ExtraPriority", priority)]
        return self.send("Redirect", headers)

    def setvar(self, variable: str, value: str, channel: str | None = None) -> defer.Deferred:
        """Set a channel variable (or a global one when ``channel`` is None)."""
        return self.send("Setvar", [("Channel", channel), ("Variable", variable), ("Value", value)])

    def getvar(self, variable: str, channel: str | None = None) -> defer.Deferred:
        """Fires with the variable's value (None when unset)."""
        d = self.send("Getvar", [("Channel", channel), ("Variable", variable)])
        return d.addCallback(lambda m: m.get("Value") or None)

    def hangup(self, channel: str, cause: int | None = None) -> defer.Deferred:
        return self.send("Hangup", [("Channel", channel), ("Cause", cause)])

    def mixmonitor(self, channel: str, file: str, options: str | None = None, command: str | None = None) -> defer.Deferred:
        """Start recording ``channel`` to ``file`` (``MixMonitorStart`` follows)."""
        return self.send("MixMonitor", [("Channel", channel), ("File", file), ("Options", options), ("Command", command)])

    def stop_mixmonitor(self, channel: str) -> defer.Deferred:
        return self.send("StopMixMonitor", [("Channel", channel)])

    def mixmonitor_mute(self, channel: str, mute: bool = True, direction: str = "both") -> defer.Deferred:
        return self.send("MixMonitorMute", [("Channel", channel), ("Direction", direction), ("State", 1 if mute else 0)])

    def user_event(self, name: str, **headers) -> defer.Deferred:
        return self.send("UserEvent", [("UserEvent", name)] + list(headers.items()))

    # -- AsyncAGI ---------------------------------------------------------------
    def agi(self, channel: str, command: str, command_id: str | None = None, timeout: float | None = None) -> defer.Deferred:
        """Queue an AGI command on a channel in ``AGI(agi:async)``; fires with
        the parsed :class:`~callcenter.ami.events.AGIResult` from the matching
        ``AsyncAGIExec``.  Fails with :class:`AGIError` when the channel's
        AsyncAGI ends or it hangs up first, and with :class:`AMIActionError`
        when Asterisk refuses the action (e.g. no such channel)."""
        try:
            proto = self._require()
        except AMINotConnected as exc:
            return defer.fail(exc)
        if command_id is None:
            command_id = "agi-" + proto.next_action_id()
        if command_id in self._agi:
            return defer.fail(AGIError("AGI CommandID already pending", command_id=command_id))
        result = defer.Deferred()
        timer = self.clock.callLater(timeout, self._agi_timeout, command_id) if timeout is not None else None
        self._agi[command_id] = (result, channel, timer, proto)
        sent = proto.send_action("AGI", [("Channel", channel), ("Command", command), ("CommandID", command_id)])

        def refused(failure):
            if command_id in self._agi:
                self._finish_agi(command_id)
                result.errback(failure)

        sent.addErrback(refused)
        return result

    def _finish_agi(self, command_id: str):
        entry = self._agi.pop(command_id)
        timer = entry[2]
        if timer is not None and timer.active():
            timer.cancel()
        return entry

    def _agi_timeout(self, command_id: str) -> None:
        if command_id in self._agi:
            d, channel = self._agi.pop(command_id)[:2]
            d.errback(AMITimeout("AGI command did not finish in time", channel=channel, command_id=command_id))

    def _agi_event(self, message) -> None:
        if not self._agi:
            return
        name = message.name
        if name == "AsyncAGIExec":
            command_id = message.get("CommandId")
            if command_id in self._agi:
                d = self._finish_agi(command_id)[0]
                d.callback(parse_agi_result(message.get("Result") or ""))
            return
        channel = message.get("Channel")
        for command_id, (d, target, _, _) in list(self._agi.items()):
            if target == channel:
                self._finish_agi(command_id)
                why = "AsyncAGI ended" if name == "AsyncAGIEnd" else "channel hung up"
                d.errback(AGIError(f"AGI command abandoned: {why}", channel=channel, command_id=command_id, event=name))


__all__ = ["AMIClient", "AMIFactory", "OriginateResponse"]
