"""The queue controller: the routing policy, carried out by Asterisk over AMI.

Callers wait inside their AsyncAGI session (the IVR hands them over with
:meth:`QueueController.enqueue`); the controller plays hold music and
position/estimated-wait announcements with AGI commands.  When the policy
picks an agent, the controller sets ``AGENT_DEVICE`` and ``RING_TIMEOUT`` on
the caller's channel and redirects it to ``hotline-connect,s,1`` (MixMonitor
linked to the call id, then ``Dial``).  ``DialBegin``/``DialEnd``/``BridgeEnter``/
``Hangup`` move the agent's :class:`~callcenter.routing.agent.AgentSession`.
``DialEnd`` ``ANSWER`` only means the agent's phone picked up ("answered,
bridging"); the call counts as connected — agent on call, caller answered —
when ``BridgeEnter`` shows the caller's channel and the agent's channel in the
same bridge, because a call can still fail between the two (the agent's leg
drops before the bridge).  On no answer, or an answer that never bridged, the
dialplan hands the caller back through ``AGI(agi:async,requeue)`` and the
caller keeps their place.

Callback in queue: a caller may hang up and keep their place; when their
turn comes the controller reserves the agent and Originates the caller's
number into ``hotline-connect`` (so the citizen, once they answer, rings that
agent exactly like a live caller).  Callers who abandon go to the callback
list; a number never has two pending callbacks.  A callback that does not reach
the citizen (no answer, busy, congestion) is retried on the satisfaction
callbacks' :class:`~ticketing.callbacks.policy.CallbackPolicy` (calling hours on
the working calendar, spaced retries, then ``unreachable``): when due, the
caller goes back into the queue with their priority and waits for a free agent.
Pending callbacks are reloaded when the ACD starts; each attempt is claimed with
a guarded UPDATE, so two ACDs on one database never dial the same row twice.

Supervisors listen, whisper or barge with an Originate of their device into
``ChanSpy`` on the agent's channel.
"""
from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any, Callable, Iterable

from twisted.application.service import Service
from twisted.internet import defer, task

from callcenter.ami.errors import AMIActionError
from callcenter.clock import now_from
from callcenter.routing.agent import AgentSession, AgentState, AgentStateChange
from callcenter.routing.announce import announcement, prompt_file
from callcenter.routing.errors import RoutingError
from callcenter.routing.policy import Match, OfferCallback, Overflow, Router
from callcenter.routing.skills import Agent, Caller, PriorityRules, QueueRules, check_name, is_elderly

log = logging.getLogger(__name__)

SPY_OPTIONS = {"listen": "q", "whisper": "qw", "barge": "qB"}
NO_ANSWER_STATUSES = {"NOANSWER", "BUSY", "CHANUNAVAIL", "CONGESTION", "DONTCALL", "TORTURE", "INVALIDARGS"}


class CallState(str, Enum):
    WAITING = "waiting"              # on hold in AsyncAGI, in the router
    RINGING = "ringing"              # redirected to hotline-connect, agent's phone rings
    ANSWERED = "answered"            # DialEnd ANSWER: the agent picked up, the bridge is not there yet
    RETURNING = "returning"          # ring failed; waiting for the requeue AGI to start
    CONNECTED = "connected"
    CALLBACK_WAIT = "callback_wait"  # hung up, place kept in the router
    CALLBACK_DIALING = "callback_dialing"
    ENDED = "ended"


@dataclass(frozen=True)
class CallHandle:
    """What the IVR hands over: the call id (``HOTLINE_CALLID``), the channel
    waiting in AsyncAGI, the caller's number and language."""

    call_id: str
    channel: str
    number: str = ""
    language: str = "zh"


@dataclass(eq=False)
class QueuedCall:
    caller: Caller
    channel: str | None
    language: str = "zh"
    state: CallState = CallState.WAITING
    agent_id: str = ""
    agent_channel: str = ""
    answered_at: datetime | None = None
    offer_callback: bool = False
    hold_token: object = None
    announced: bool = False
    caller_bridge: str = ""          # BridgeUniqueid the caller's channel entered
    agent_bridge: str = ""           # BridgeUniqueid the agent's channel entered
    callback_seen: int = 0           # queue_callbacks.attempts when this ACD queued the callback (claim guard)
    callback_at_once: bool = False   # booked while an agent was free: placed without waiting in the queue

    @property
    def call_id(self) -> str:
        return self.caller.call_id


def handle_from(call) -> CallHandle:
    """A :class:`CallHandle` from a handle or an IVR call (``uniqueid`` is ``HOTLINE_CALLID``)."""
    if isinstance(call, CallHandle):
        return call
    call_id = getattr(call, "call_id", None) or (getattr(call, "vars", {}) or {}).get("HOTLINE_CALLID") \
        or getattr(call, "uniqueid", "")
    number = getattr(call, "number", None) or getattr(call, "caller", "") or ""
    if not number.isdigit():
        number = ""  # <unknown>, anonymous: no callback possible
    return CallHandle(call_id, getattr(call, "channel", ""), number,
                      getattr(call, "language", None) or getattr(call, "lang", "zh") or "zh")


def _callid_of(message) -> str | None:
    for value in message.getall("ChanVariable"):
        name, _, val = value.partition("=")
        if name == "HOTLINE_CALLID" and val:
            return val
    return None


class QueueController(Service):
    """The ACD service: one per AMI connection (see module docs).

    ``ami`` is an :class:`callcenter.ami.client.AMIClient` (``subscribe``,
    ``setvar``, ``redirect``, ``originate``, ``agi``); ``clock`` an
    ``IReactorTime``; ``store`` an optional :class:`RoutingStore`, whose
    blocking methods run through ``db_runner`` (a thread pool by default).
    """

    #: the dial string for calling a citizen back (sim/tests; a trunk in production)
    pstn_dial = "Local/{number}@hotline-pstn"
    #: seconds after the ring timeout before a silent ring is given up
    ring_grace = 10.0
    #: seconds from DialEnd ANSWER without BridgeEnter or Hangup before Asterisk is asked (CoreShowChannels)
    bridge_timeout = 10.0

    def __init__(self, ami, clock, router: Router, *, store=None, db_runner=None,
                 ring_timeout: float = 15.0, wrap_up_seconds: float = 15.0, max_missed: int = 2,
                 moh_class: str = "default", tick_interval: float = 1.0, callback_timeout: float = 30.0,
                 default_queue: str = "hotline-general", caller_id: str = "12345",
                 sounds_dir: str | None = None, priority_rules: PriorityRules | None = None,
                 elderly_numbers: Iterable[str] = (), callback_policy=None, calendar=None) -> None:
        self.ami = ami
        self.clock = clock
        self.router = router
        self.store = store
        self.ring_timeout = ring_timeout
        self.wrap_up_seconds = wrap_up_seconds
        self.max_missed = max_missed
        self.moh_class = check_name("music class", moh_class)
        self.tick_interval = tick_interval
        self.callback_timeout = callback_timeout
        self.default_queue = default_queue
        self.caller_id = caller_id
        self.sounds_dir = sounds_dir
        self.priority_rules = priority_rules or PriorityRules()
        self.elderly_numbers = frozenset(elderly_numbers)
        from ticketing.callbacks.policy import CallbackPolicy

        #: retries of in-queue callbacks follow the satisfaction callbacks' policy (one policy)
        self.callback_policy = callback_policy or CallbackPolicy()
        self._calendar = calendar
        #: callbacks waiting for their next attempt (call id -> stored entry; due at next_attempt_at)
        self._callback_retries: dict[str, Any] = {}
        self._recent: dict[str, deque[datetime]] = {}
        self._recent_purged = 0.0
        self.sessions: dict[str, AgentSession] = {}
        self.home_devices: dict[str, str] = {}  # agent -> configured device (profiles may override it)
        self.calls: dict[str, QueuedCall] = {}
        self._by_channel: dict[str, QueuedCall] = {}
        self._by_agent_channel: dict[str, QueuedCall] = {}
        self._timers: dict[str, Any] = {}
        self._listeners: list[Callable[[str, dict], None]] = []
        self._subscription = None
        self._loop: task.LoopingCall | None = None
        self._db_chain: defer.Deferred = defer.succeed(None)
        if db_runner is None:
            if hasattr(clock, "getThreadPool"):
                from twisted.internet.threads import deferToThreadPool

                def db_runner(fn, *a, **kw):
                    return deferToThreadPool(clock, clock.getThreadPool(), fn, *a, **kw)
            else:
                db_runner = defer.maybeDeferred
        self._db_runner = db_runner
        self.stats = {"answered": 0, "abandoned": 0, "no_answer": 0, "bridge_failed": 0, "callbacks_booked": 0,
                      "callbacks_placed": 0, "overflows": 0}

    # -- service -----------------------------------------------------------

    def startService(self) -> None:
        super().startService()
        self._subscription = self.ami.subscribe(
            self._on_event, names=("AsyncAGIStart", "DialBegin", "DialEnd", "BridgeEnter", "Hangup", "FullyBooted"))
        self._loop = task.LoopingCall(self._tick)
        self._loop.clock = self.clock
        self._loop.start(self.tick_interval, now=False)
        if self.store is not None:
            self.reload_callbacks()

    def stopService(self):
        if self._subscription is not None:
            self._subscription.cancel()
            self._subscription = None
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        for timer in self._timers.values():
            if timer.active():
                timer.cancel()
        self._timers.clear()
        super().stopService()
        done = defer.Deferred()  # fires once queued store writes have finished

        def finished(result):
            done.callback(None)
            return result

        self._db_chain.addBoth(finished)
        return done

    def add_listener(self, listener: Callable[[str, dict], None]) -> None:
        """``listener(kind, data)`` hears agent state changes and call moves (desk, wallboard)."""
        self._listeners.append(listener)

    def _emit(self, kind: str, **data) -> None:
        for listener in list(self._listeners):
            try:
                listener(kind, data)
            except Exception:
                log.exception("ACD listener failed", extra={"fields": {"kind": kind}})

    def _now(self) -> datetime:
        return now_from(self.clock)

    def _db(self, method: str, *args, **kwargs) -> defer.Deferred:
        """Run a store method off the reactor thread, in order with the others."""
        if self.store is None:
            return defer.succeed(None)
        fn = getattr(self.store, method)
        result = defer.Deferred()

        def run(_):
            d = self._db_runner(fn, *args, **kwargs)
            d.addCallbacks(result.callback, result.errback)
            return d.addErrback(lambda f: log.error(
                "ACD store write failed", extra={"fields": {"method": method, "error": str(f.value)}}))

        self._db_chain.addCallback(run)
        return result

    # -- agents ------------------------------------------------------------

    def add_agent(self, agent: Agent) -> AgentSession:
        if not agent.device:
            raise RoutingError("routing.no_device", "an agent needs a device to ring / 坐席需要话机设备",
                               agent=agent.agent_id)
        self.router.add_agent(agent)
        self.home_devices[agent.agent_id] = agent.device
        session = self.sessions.get(agent.agent_id)
        if session is None:
            session = self.sessions[agent.agent_id] = AgentSession(
                agent.agent_id, wrap_up_seconds=self.wrap_up_seconds, max_missed=self.max_missed)
        return session

    def set_agent_device(self, agent_id: str, device: str | None) -> Agent:
        """Ring ``agent_id`` on ``device`` from now on (the phone in their account's profile;
        None: back to the configured one).  Only while logged out, so a ringing or talking
        agent never changes phone under a call."""
        from dataclasses import replace

        agent = self.router.agent(agent_id)
        device = device or self.home_devices.get(agent_id) or agent.device
        check_name("device", device)
        if agent.device == device:
            return agent
        if self.session(agent_id).state is not AgentState.LOGGED_OUT:
            raise RoutingError("routing.agent_active", "change the phone while logged out / 请在签出后更换话机",
                               agent=agent_id)
        agent = replace(agent, device=device)
        self.router.add_agent(agent)
        return agent

    def session(self, agent_id: str) -> AgentSession:
        try:
            return self.sessions[agent_id]
        except KeyError:
            raise RoutingError("routing.unknown_agent", "no such agent / 没有这个坐席", agent=agent_id) from None

    def agent_login(self, agent_id: str) -> AgentStateChange:
        return self._apply(self.session(agent_id).login(self._now()))

    def agent_ready(self, agent_id: str) -> AgentStateChange:
        """Ready for calls (also: wrap-up done)."""
        return self._apply(self.session(agent_id).ready(self._now()))

    wrap_up_done = agent_ready

    def agent_pause(self, agent_id: str, reason: str) -> AgentStateChange | None:
        change = self.session(agent_id).pause(self._now(), reason)
        return self._apply(change) if change is not None else None

    def agent_logout(self, agent_id: str) -> AgentStateChange:
        return self._apply(self.session(agent_id).logout(self._now()))

    def _apply(self, change: AgentStateChange) -> AgentStateChange:
        """Record a change, tell the router, and act on what it decides."""
        self._db("record_state_changes", [change])
        self._emit("agent", agent_id=change.agent_id, state=change.to_state.value, reason=change.reason,
                   call_id=change.call_id)
        timer = self._timers.pop(change.agent_id, None)
        if timer is not None and timer.active():
            timer.cancel()
        state = change.to_state
        if state is AgentState.READY:
            match = self.router.agent_ready(change.agent_id, change.at)
            if match is not None:
                self._connect(match)
        elif state in (AgentState.PAUSED, AgentState.LOGGED_OUT):
            self.router.agent_away(change.agent_id)
        else:
            self.router.agent_busy(change.agent_id)
            if state is AgentState.WRAP_UP:
                self._timers[change.agent_id] = self.clock.callLater(
                    self.wrap_up_seconds, self._wrap_up_over, change.agent_id)
            elif state is AgentState.RINGING:
                self._timers[change.agent_id] = self.clock.callLater(
                    self.ring_timeout + self.ring_grace, self._ring_lost, change.agent_id, change.call_id)
        return change

    def _wrap_up_over(self, agent_id: str) -> None:
        self._timers.pop(agent_id, None)
        session = self.sessions[agent_id]
        if session.wrap_up_due(self._now()):
            self._apply(session.ready(self._now()))

    def _ring_lost(self, agent_id: str, call_id: str) -> None:
        """No DialEnd long after the ring timeout: free the agent, do not strand them."""
        self._timers.pop(agent_id, None)
        session = self.sessions[agent_id]
        qc = self.calls.get(call_id)
        if qc is not None and qc.state is CallState.CALLBACK_DIALING and session.call_id == call_id:
            # The citizen's phone rings first (up to callback_timeout): wait on.
            self._timers[agent_id] = self.clock.callLater(
                self.ring_timeout + self.ring_grace, self._ring_lost, agent_id, call_id)
            return
        if session.state is AgentState.RINGING and session.call_id == call_id:
            log.warning("ring never ended; agent freed", extra={"fields": {"agent": agent_id, "call": call_id}})
            self._apply(session.cancel(self._now()))

    # -- callers -----------------------------------------------------------

    def enqueue(self, call, queue: str, skill: str | None = None, priority: int = 0) -> QueuedCall:
        """Take a caller from the IVR (``call``: a :class:`CallHandle` or anything
        with ``call_id``, ``channel``, ``number``, ``language``)."""
        rules = self.router.queue(queue)
        if call.call_id in self.calls and self.calls[call.call_id].state is not CallState.ENDED:
            raise RoutingError("routing.already_queued", "call is already queued / 来电已在队列中",
                               call=call.call_id)
        check_name("channel", call.channel)
        now = self._now()
        number = getattr(call, "number", "") or ""
        caller = Caller(call.call_id, queue, skill or rules.skill, self._priority(number, priority, now), now,
                        number=number)
        self._remember(number, now)
        qc = QueuedCall(caller, call.channel, getattr(call, "language", "zh") or "zh")
        self.calls[caller.call_id] = qc
        self._by_channel[call.channel] = qc
        self._emit("call", call_id=caller.call_id, state="queued", queue=queue)
        match = self.router.enqueue(caller, now)
        if match is not None:
            self._connect(match)
        else:
            self._start_hold(qc)
        return qc

    def _priority(self, number: str, given: int, now: datetime) -> int:
        """The IVR's priority (urgent faults) plus points for elderly and repeat callers."""
        extra = self.priority_rules.priority(
            now, elderly=is_elderly(number, self.elderly_numbers), previous_calls=self._recent.get(number, ()))
        return max(-100, min(100, int(given) + extra))

    def _remember(self, number: str, now: datetime) -> None:
        if not number:
            return
        window = self.priority_rules.repeat_window
        seen = self._recent.setdefault(number, deque())
        while seen and seen[0] < now - window:
            seen.popleft()
        seen.append(now)

    def prime_recent_calls(self) -> defer.Deferred:
        """Load the last window's callers from ``queue_calls`` (repeat callers survive a restart)."""
        since = self._now() - self.priority_rules.repeat_window

        def fill(rows):
            for number, at in rows or ():
                at = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
                self._recent.setdefault(number, deque()).append(at)
            for seen in self._recent.values():
                ordered = sorted(seen)
                seen.clear()
                seen.extend(ordered)
            return len(rows or ())

        return self._db("recent_calls", since).addCallback(fill)

    def _purge_recent(self, now: datetime) -> None:
        cutoff = now - self.priority_rules.repeat_window
        for number in [n for n, seen in self._recent.items() if not seen or seen[-1] < cutoff]:
            del self._recent[number]

    # The IVR's hooks (``IvrRunner(on_transfer=acd.on_transfer, on_callback=acd.on_callback)``).

    def on_transfer(self, call, queue: str, skill: str | None = None, priority: int = 0) -> QueuedCall:
        """Take over an :class:`ivr.runner.IvrCall` still in its AsyncAGI session."""
        return self.enqueue(handle_from(call), queue, skill, priority or 0)

    def on_callback(self, call, number: str, queue: str, skill: str | None = None,
                    priority: int = 0) -> defer.Deferred:
        """The IVR's "call me back" menu: keep a place in ``queue`` for ``number``."""
        return self.request_callback(handle_from(call), queue, skill, priority or 0, number=number)

    def request_callback(self, call, queue: str, skill: str | None = None, priority: int = 0,
                         number: str | None = None) -> defer.Deferred:
        """The IVR's "call me back": the caller leaves now and keeps a place in
        ``queue``; fires True when booked, False for a number already waiting."""
        rules = self.router.queue(queue)
        if call.call_id in self.calls and self.calls[call.call_id].state is not CallState.ENDED:
            return defer.fail(RoutingError("routing.already_queued", "call is already queued / 来电已在队列中",
                                           call=call.call_id))
        now = self._now()
        number = number or getattr(call, "number", "")
        caller = Caller(call.call_id, queue, skill or rules.skill, self._priority(number, priority, now), now,
                        number=number)
        self._remember(number, now)
        if self.router.callback_pending_for(number):
            return defer.succeed(False)
        qc = QueuedCall(caller, None, getattr(call, "language", "zh") or "zh", state=CallState.CALLBACK_WAIT)
        self.calls[caller.call_id] = qc
        match = self.router.enqueue(caller, now)
        if match is not None:
            # An agent is free right now: still a callback, placed at once — stored first (the
            # store runs in order), so a failed placement is retried like any other.
            caller.callback = True
            qc.callback_at_once = True
            self.stats["callbacks_booked"] += 1
            self._db("add_callback", call_id=caller.call_id, number=caller.number, queue=caller.queue,
                     reason="requested", now=now, priority=caller.priority, skill=caller.skill)
            self._connect(match)
            return defer.succeed(True)
        return self._book_callback(qc)

    def _book_callback(self, qc: QueuedCall) -> defer.Deferred:
        caller = qc.caller
        try:
            self.router.keep_place_for_callback(caller.call_id, caller.number)
        except RoutingError as exc:
            if qc.channel is None:
                self.router.abandon(caller.call_id)
                self.calls.pop(caller.call_id, None)
            log.info("callback refused", extra={"fields": {"call": caller.call_id, "error_id": exc.error_id}})
            return defer.succeed(False)
        qc.state = CallState.CALLBACK_WAIT
        now = self._now()

        def stored(added):
            if added is False:
                if qc.state is not CallState.CALLBACK_WAIT:
                    return False  # already being called back: nothing to undo
                self.router.release_callback(caller.call_id)
                if qc.channel is None:
                    self.router.abandon(caller.call_id)
                    self.calls.pop(caller.call_id, None)
                else:
                    qc.state = CallState.WAITING
                return False
            self.stats["callbacks_booked"] += 1
            self._db("record_queue_call", call_id=caller.call_id, queue=caller.queue, skill=caller.skill,
                     priority=caller.priority, number=caller.number, enqueued_at=caller.enqueued_at,
                     left_at=now, outcome="callback")
            self._emit("call", call_id=caller.call_id, state="callback_booked", queue=caller.queue)
            return True

        d = self._db("add_callback", call_id=caller.call_id, number=caller.number, queue=caller.queue,
                     reason="requested", now=now, priority=caller.priority, skill=caller.skill)
        d.addErrback(lambda failure: False)  # not stored: not booked (logged by _db)
        return d.addCallback(stored)

    def waiting(self, queue: str | None = None) -> int:
        return self.router.waiting_count(queue)

    def current_call(self, agent_id: str) -> QueuedCall | None:
        """The call the agent is ringing for, talking on or wrapping up (for the desk)."""
        session = self.session(agent_id)
        return self.calls.get(session.call_id) if session.call_id else None

    def snapshot(self) -> dict:
        """Live figures for wallboards: per queue waiting and longest wait, agents by state."""
        now = self._now()
        by_state: dict[str, int] = {state.value: 0 for state in AgentState}
        for session in self.sessions.values():
            by_state[session.state.value] += 1
        return {
            "queues": {name: {"waiting": self.router.waiting_count(name),
                              "longest_wait": round(self.router.longest_wait(name, now), 1)}
                       for name in self.router.queue_names()},
            "agents": by_state,
            "callbacks_waiting": sum(1 for qc in self.calls.values() if qc.state is CallState.CALLBACK_WAIT),
            "stats": dict(self.stats),
        }

    # -- putting a caller through --------------------------------------------

    def _connect(self, match: Match) -> None:
        caller, agent = match.caller, match.agent
        qc = self.calls.get(caller.call_id)
        if qc is None:  # defensive: a router entry without a call
            self.router.agent_ready(agent.agent_id, self._now())
            return
        qc.agent_id = agent.agent_id
        qc.hold_token = None
        was_callback = caller.callback
        qc.state = CallState.CALLBACK_DIALING if was_callback else CallState.RINGING
        self._apply(self.sessions[agent.agent_id].offer(self._now(), caller.call_id))
        self._emit("call", call_id=caller.call_id, state=qc.state.value, agent_id=agent.agent_id)
        if was_callback:
            self._place_callback(qc, agent)
        else:
            self._ring(qc, agent)

    @defer.inlineCallbacks
    def _ring(self, qc: QueuedCall, agent: Agent):
        channel = qc.channel
        try:
            yield self.ami.setvar("AGENT_DEVICE", agent.device, channel=channel)
            yield self.ami.setvar("RING_TIMEOUT", str(int(self.ring_timeout)), channel=channel)
            yield self.ami.redirect(channel, "hotline-connect", "s", 1)
        except Exception as exc:
            # Usually the caller hung up just as their agent was picked.
            level = logging.INFO if isinstance(exc, AMIActionError) else logging.WARNING
            log.log(level, "could not ring agent", extra={"fields": {
                "call": qc.call_id, "agent": agent.agent_id, "error": str(exc)}})
            session = self.sessions[agent.agent_id]
            if session.state is AgentState.RINGING and session.call_id == qc.call_id:
                self._apply(session.cancel(self._now()))
            if qc.state is CallState.RINGING:
                self._caller_gone(qc)

    @defer.inlineCallbacks
    def _place_callback(self, qc: QueuedCall, agent: Agent):
        caller = qc.caller
        now = self._now()
        entry, unstored = None, False
        if self.store is not None:
            # Claim this attempt first: a person may have called the citizen from /callbacks, or
            # another ACD on this database may hold the row; then we must not dial.
            lease = now + timedelta(seconds=self.callback_timeout + self.ring_timeout + self.ring_grace + 60)
            try:
                entry = yield self._db("claim_callback", caller.call_id, qc.callback_seen, now, lease)
            except Exception:
                entry = None  # logged by _db
            if entry is None and qc.callback_at_once:
                # Not stored because the number already had a pending row (e.g. an earlier
                # abandoned call, listed on /callbacks): dialled once anyway, as it was booked.
                try:
                    unstored = (yield self._db("callback_of", caller.call_id)) is None
                except Exception:
                    unstored = False  # logged by _db; not dialled
            if entry is None and not unstored:
                log.info("callback not claimed; not dialled", extra={"fields": {"call": caller.call_id}})
                self._free_callback_agent(qc, agent)
                self._emit("call", call_id=caller.call_id, state="callback_dropped")
                return
        self.stats["callbacks_placed"] += 1
        reason = 0
        try:
            response = yield self.ami.originate(
                self.pstn_dial.format(number=caller.number), context="hotline-connect", exten="s",
                timeout=self.callback_timeout, caller_id=self.caller_id,
                variables={"HOTLINE_CALLID": caller.call_id, "AGENT_DEVICE": agent.device,
                           "RING_TIMEOUT": str(int(self.ring_timeout))})
            answered = bool(response.answered)
            reason = response.reason or 0
        except Exception as exc:
            log.warning("callback originate failed", extra={"fields": {"call": caller.call_id, "error": str(exc)}})
            answered = False
        if answered:
            if entry is not None:
                self._db("set_callback_state", entry.id, "done", self._now())
            if qc.state is CallState.CALLBACK_DIALING:
                qc.state = CallState.RINGING
            return
        # Not reached: the agent is freed (not their miss); the policy says when to try again.
        self._free_callback_agent(qc, agent)
        data = {"at": str(now)}
        if entry is not None:
            from ticketing.callbacks.policy import REASONS
            from ticketing.domain.errors import ValidationFailed

            later = self._now()
            try:
                decision = self.callback_policy.after_attempt(entry.attempts, reason, later, self.calendar)
                retry_at = decision.at if decision.kind == "retry" else None
            except ValidationFailed as exc:  # no calling time in the calendar's next 60 days
                log.warning("callback retry not scheduled", extra={"fields": {"call": caller.call_id,
                                                                             "error_id": exc.error_id}})
                retry_at = None
            self._db("callback_attempt_failed", entry.id, entry.attempts, REASONS.get(reason, str(reason)),
                     later, retry_at)
            if retry_at is not None:
                self._callback_retries[caller.call_id] = replace(entry, next_attempt_at=retry_at)
                data["next_attempt_at"] = retry_at.isoformat()
            else:
                data["unreachable"] = True
        self._emit("call", call_id=caller.call_id, state="callback_failed", **data)

    def _free_callback_agent(self, qc: QueuedCall, agent: Agent) -> None:
        session = self.sessions[agent.agent_id]
        if session.state is AgentState.RINGING and session.call_id == qc.call_id:
            self._apply(session.cancel(self._now()))
        qc.state = CallState.ENDED
        if self.calls.get(qc.call_id) is qc:
            self.calls.pop(qc.call_id, None)

    @property
    def calendar(self):
        """The working calendar of the calling hours (package holidays unless one was given)."""
        if self._calendar is None:
            from ticketing.calendar_data import build_calendar

            self._calendar = build_calendar({})
        return self._calendar

    def reload_callbacks(self) -> defer.Deferred:
        """Pending in-queue callbacks from the store (after a restart): due ones are queued now,
        later ones when their ``next_attempt_at`` comes (checked every tick on ``clock``)."""
        def load(entries):
            for entry in entries or ():
                live = self.calls.get(entry.call_id)
                if live is None or live.state is CallState.ENDED:
                    self._callback_retries.setdefault(entry.call_id, entry)
            self._release_due_callbacks(self._now())
            return len(entries or ())

        d = self._db("dialable_callbacks").addCallback(load)
        d.addErrback(lambda failure: 0)  # logged by _db; rows stay for the next start
        return d

    def _release_due_callbacks(self, now: datetime) -> None:
        """A due callback goes back into its queue, with its priority, for the next free agent."""
        for call_id, entry in list(self._callback_retries.items()):
            if (entry.next_attempt_at or entry.created_at) > now:
                continue
            if self.router.callback_pending_for(entry.number):
                continue  # this number is being called back now: try again on a later tick
            del self._callback_retries[call_id]
            live = self.calls.get(call_id)
            if live is not None and live.state is not CallState.ENDED:
                continue  # already queued or dialling here
            queue = entry.queue if entry.queue in self.router.queue_names() else self.default_queue
            rules = self.router.queue(queue)
            caller = Caller(call_id, queue, entry.skill or rules.skill, entry.priority, now, number=entry.number)
            caller.callback = True
            qc = QueuedCall(caller, None, state=CallState.CALLBACK_WAIT, callback_seen=entry.attempts)
            self.calls[call_id] = qc
            self._emit("call", call_id=call_id, state="callback_due", queue=queue)
            match = self.router.enqueue(caller, now)
            if match is not None:
                self._connect(match)
            else:
                self.router.keep_place_for_callback(call_id, entry.number)

    # -- holding ---------------------------------------------------------------

    def _start_hold(self, qc: QueuedCall) -> None:
        if qc.channel is None:
            return
        token = qc.hold_token = object()
        self._hold(qc, token)

    @defer.inlineCallbacks
    def _hold(self, qc: QueuedCall, token):
        """Announcements and hold music until the call leaves the queue."""
        def holding():
            return qc.hold_token is token and qc.state is CallState.WAITING

        rules = self.router.queue(qc.caller.queue)
        try:
            while holding():
                commands = announcement(self.router.position(qc.call_id), self.router.estimated_wait(qc.call_id),
                                        first=not qc.announced, lang=qc.language, sounds_dir=self.sounds_dir)
                qc.announced = True
                for command in commands:
                    if not holding():
                        return
                    yield self.ami.agi(qc.channel, command)
                if holding() and qc.offer_callback and qc.caller.number:
                    qc.offer_callback = False
                    result = yield self.ami.agi(qc.channel, f"GET DATA {self._prompt('queue_callback_offer', qc)} 5000 1")
                    if holding() and (result.result or "").strip() == "1":
                        booked = yield self._book_callback(qc)
                        prompt = "queue_callback_booked" if booked else "queue_callback_exists"
                        yield self.ami.agi(qc.channel, f'STREAM FILE {self._prompt(prompt, qc)} ""')
                        if booked:
                            channel, qc.channel = qc.channel, None
                            self._by_channel.pop(channel, None)
                            yield self.ami.agi(channel, "HANGUP")
                            return
                if not holding():
                    return
                rules = self.router.queue(qc.caller.queue)
                yield self.ami.agi(qc.channel, f"EXEC MusicOnHold {self.moh_class},{int(rules.announce_every)}")
        except Exception as exc:
            # The channel left AsyncAGI (redirected to an agent) or hung up.
            log.debug("hold ended", extra={"fields": {"call": qc.call_id, "reason": str(exc)}})

    def _prompt(self, name: str, qc: QueuedCall) -> str:
        return prompt_file(name, qc.language, self.sounds_dir)

    # -- time ----------------------------------------------------------------

    def _tick(self) -> None:
        now = self._now()
        if self._callback_retries:
            self._release_due_callbacks(now)
        if self.clock.seconds() - self._recent_purged > 600:
            self._recent_purged = self.clock.seconds()
            self._purge_recent(now)
        for decision in self.router.tick(now):
            if isinstance(decision, Match):
                self._connect(decision)
            elif isinstance(decision, Overflow):
                self.stats["overflows"] += 1
                c = decision.caller
                self._db("record_queue_call", call_id=c.call_id, queue=decision.from_queue,
                         skill=decision.from_skill, priority=c.priority, number=c.number,
                         enqueued_at=c.enqueued_at, left_at=now, outcome="overflow")
                self._emit("call", call_id=decision.caller.call_id, state="overflow",
                           queue=decision.to_queue, from_queue=decision.from_queue)
            elif isinstance(decision, OfferCallback):
                qc = self.calls.get(decision.caller.call_id)
                if qc is not None:
                    qc.offer_callback = True

    # -- events ----------------------------------------------------------------

    def _call_for(self, message) -> QueuedCall | None:
        qc = self._by_channel.get(message.get("Channel"))
        if qc is not None:
            return qc
        call_id = _callid_of(message)
        return self.calls.get(call_id) if call_id else None

    def _on_event(self, message) -> None:
        name = message.name
        if name == "Hangup":
            self._on_hangup(message)
        elif name == "DialBegin":
            qc = self._call_for(message)
            if qc is not None and qc.state in (CallState.RINGING, CallState.CALLBACK_DIALING):
                channel = message.get("Channel")
                if channel and qc.channel != channel:
                    qc.channel = channel
                    self._by_channel[channel] = qc
                qc.agent_channel = message.get("DestChannel") or ""
                qc.caller_bridge = qc.agent_bridge = ""  # a new dial attempt
                if qc.agent_channel:
                    self._by_agent_channel[qc.agent_channel] = qc
        elif name == "DialEnd":
            qc = self._call_for(message)
            if qc is not None and qc.state in (CallState.RINGING, CallState.CALLBACK_DIALING):
                self._dial_end(qc, (message.get("DialStatus") or "").upper())
        elif name == "BridgeEnter":
            self._bridge_enter(message)
        elif name == "AsyncAGIStart":
            self._agi_start(message)
        elif name == "FullyBooted":
            self.resync()  # a (re)connected session: events may have been missed meanwhile

    def _dial_end(self, qc: QueuedCall, status: str) -> None:
        session = self.sessions.get(qc.agent_id)
        now = self._now()
        if session is None or session.state is not AgentState.RINGING or session.call_id != qc.call_id:
            return
        if status == "ANSWER":
            # Picked up, not yet talking: connected only once BridgeEnter puts both legs together.
            qc.state = CallState.ANSWERED
            timer = self._timers.pop(qc.agent_id, None)
            if timer is not None and timer.active():
                timer.cancel()
            self._timers[qc.agent_id] = self.clock.callLater(
                self.bridge_timeout, self._bridge_overdue, qc.agent_id, qc.call_id)
            self._emit("call", call_id=qc.call_id, state="answered", agent_id=qc.agent_id)
            if qc.caller_bridge and qc.caller_bridge == qc.agent_bridge:
                self._connected(qc)  # BridgeEnter came first (events of one bridge may interleave)
        elif status == "CANCEL":
            self._apply(session.cancel(now))   # the caller hung up while it rang
        else:
            self.stats["no_answer"] += 1
            qc.caller.declined_by.add(qc.agent_id)
            qc.caller.callback = False  # the citizen is on the line now
            qc.state = CallState.RETURNING
            if qc.agent_channel:
                self._by_agent_channel.pop(qc.agent_channel, None)
                qc.agent_channel = ""
            self._apply(session.no_answer(now))

    def _bridge_enter(self, message) -> None:
        """Connected when the caller's and the agent's channels are in one bridge, both inside."""
        channel = message.get("Channel")
        qc = self._by_agent_channel.get(channel) or self._by_channel.get(channel)
        if qc is None or qc.state not in (CallState.RINGING, CallState.CALLBACK_DIALING, CallState.ANSWERED):
            return
        bridge = message.get("BridgeUniqueid") or ""
        if channel == qc.agent_channel:
            qc.agent_bridge = bridge
        elif channel == qc.channel:
            qc.caller_bridge = bridge
        else:
            return
        try:
            inside = int(message.get("BridgeNumChannels") or 0)
        except ValueError:
            inside = 0
        # BridgeNumChannels >= 2: the leg that entered first has not left again meanwhile.
        if bridge and qc.caller_bridge == qc.agent_bridge and inside >= 2 and qc.state is CallState.ANSWERED:
            self._connected(qc)

    def _connected(self, qc: QueuedCall) -> None:
        """Caller and agent talk: the agent is on the call, the caller was answered."""
        session = self.sessions.get(qc.agent_id)
        now = self._now()
        if session is None or session.state is not AgentState.RINGING or session.call_id != qc.call_id:
            return
        qc.state = CallState.CONNECTED
        qc.answered_at = now
        self.stats["answered"] += 1
        self._apply(session.answer(now))
        c = qc.caller
        if not c.callback:
            self._db("record_queue_call", call_id=c.call_id, queue=c.queue, skill=c.skill,
                     priority=c.priority, number=c.number, enqueued_at=c.enqueued_at, left_at=now,
                     outcome="answered", agent_id=qc.agent_id)
        if c.number:
            # Served now: an earlier abandoned call from this number needs no callback.
            self._db("resolve_callbacks", c.number, now)
        self._emit("call", call_id=c.call_id, state="connected", agent_id=qc.agent_id)

    def _bridge_failed(self, qc: QueuedCall) -> None:
        """The agent's leg ended after DialEnd ANSWER but before the bridge: nobody talked.

        Counted as the agent's miss (a phone that answers and drops would
        otherwise take caller after caller); the caller comes back through
        the requeue AGI with their place, as after a ring-out.
        """
        self.stats["bridge_failed"] += 1
        log.warning("agent leg ended before the bridge", extra={"fields": {"call": qc.call_id,
                                                                            "agent": qc.agent_id}})
        session = self.sessions.get(qc.agent_id)
        now = self._now()
        qc.caller.declined_by.add(qc.agent_id)
        qc.caller.callback = False  # the citizen is on the line now
        qc.state = CallState.RETURNING
        if qc.agent_channel:
            self._by_agent_channel.pop(qc.agent_channel, None)
            qc.agent_channel = ""
        qc.caller_bridge = qc.agent_bridge = ""
        self._emit("call", call_id=qc.call_id, state="bridge_failed", agent_id=qc.agent_id)
        if session is not None and session.state is AgentState.RINGING and session.call_id == qc.call_id:
            self._apply(session.no_answer(now))

    def _bridge_overdue(self, agent_id: str, call_id: str) -> None:
        """Answered long ago, yet neither BridgeEnter nor Hangup: ask Asterisk (events may have been lost)."""
        self._timers.pop(agent_id, None)
        qc = self.calls.get(call_id)
        if qc is not None and qc.state is CallState.ANSWERED and qc.agent_id == agent_id:
            log.warning("no bridge after the answer; asking Asterisk", extra={"fields": {"call": call_id,
                                                                                        "agent": agent_id}})
            # Asked again later if both legs are still up but unbridged (settling cancels this timer).
            self._timers[agent_id] = self.clock.callLater(
                self.bridge_timeout, self._bridge_overdue, agent_id, call_id)
            self.resync()

    def _agi_start(self, message) -> None:
        from callcenter.ami.events import parse_agi_env

        env = parse_agi_env(message.get("Env"))
        if env.get("agi_arg_1") != "requeue":
            return
        channel = message.get("Channel")
        qc = self._call_for(message)
        now = self._now()
        if qc is None or qc.state not in (CallState.RETURNING, CallState.RINGING, CallState.ANSWERED):
            # Back from a failed transfer, or a call we do not know (restart):
            # a new entry in the default queue, identified by HOTLINE_CALLID.
            call_id = _callid_of(message) or message.get("Uniqueid")
            if not call_id or (qc is not None and qc.state is CallState.WAITING):
                return
            number = env.get("agi_callerid", "")
            handle = CallHandle(call_id, channel, number if number.isdigit() else "",
                                env.get("agi_language", "zh") or "zh")
            self.calls.pop(call_id, None)
            self.enqueue(handle, self.default_queue)
            return
        if qc.channel != channel:
            self._by_channel.pop(qc.channel, None)
            qc.channel = channel
            self._by_channel[channel] = qc
        if qc.state is CallState.RINGING:
            # The requeue came before DialEnd: count the agent's miss now.
            self._dial_end(qc, "NOANSWER")
        elif qc.state is CallState.ANSWERED:
            # Back from hotline-connect unbridged before we saw the agent's leg end.
            self._bridge_failed(qc)
        previous = qc.agent_id
        qc.agent_id = ""
        qc.state = CallState.WAITING
        self._emit("call", call_id=qc.call_id, state="requeued", declined_by=previous)
        match = self.router.requeue(qc.caller, now, declined_by=previous or None)
        if match is not None:
            self._connect(match)
        else:
            self._start_hold(qc)

    def _on_hangup(self, message) -> None:
        channel = message.get("Channel")
        now = self._now()
        qc = self._by_agent_channel.pop(channel, None)
        if qc is not None:
            if qc.state is CallState.ANSWERED:
                self._bridge_failed(qc)
            else:
                self._agent_leg_ended(qc, now)
            return
        qc = self._by_channel.get(channel)
        if qc is None:
            return
        self._by_channel.pop(channel, None)
        if qc.state is CallState.CONNECTED:
            self._agent_leg_ended(qc, now)
            if qc.agent_channel:
                self._by_agent_channel.pop(qc.agent_channel, None)
            qc.state = CallState.ENDED
            self.calls.pop(qc.call_id, None)
        elif qc.state in (CallState.WAITING, CallState.RINGING, CallState.ANSWERED, CallState.RETURNING,
                          CallState.CALLBACK_DIALING):
            self._caller_gone(qc)  # also between the agent's answer and the bridge: nobody talked
        elif qc.state is CallState.ENDED:
            self.calls.pop(qc.call_id, None)
        # CALLBACK_WAIT: the caller hung up by choice; the place is kept.

    def _agent_leg_ended(self, qc: QueuedCall, now: datetime) -> None:
        session = self.sessions.get(qc.agent_id)
        if session is not None and session.state is AgentState.ON_CALL and session.call_id == qc.call_id:
            talk = (now - qc.answered_at).total_seconds() if qc.answered_at else 0.0
            self.router.record_handle_time(qc.caller.skill, talk + self.wrap_up_seconds)
            self._apply(session.hangup(now))
            self._emit("call", call_id=qc.call_id, state="ended", agent_id=qc.agent_id)
        if qc.state is CallState.CONNECTED:
            qc.state = CallState.ENDED  # the caller may stay on for the rating

    def _caller_gone(self, qc: QueuedCall) -> None:
        """The caller hung up before reaching an agent: abandoned, on the callback list."""
        now = self._now()
        self.router.abandon(qc.call_id)
        session = self.sessions.get(qc.agent_id) if qc.agent_id else None
        if session is not None and session.state is AgentState.RINGING and session.call_id == qc.call_id:
            self._apply(session.cancel(now))
        qc.state = CallState.ENDED
        qc.hold_token = None
        self.calls.pop(qc.call_id, None)
        self.stats["abandoned"] += 1
        c = qc.caller
        self._db("record_queue_call", call_id=c.call_id, queue=c.queue, skill=c.skill, priority=c.priority,
                 number=c.number, enqueued_at=c.enqueued_at, left_at=now, outcome="abandoned")
        if c.number and not self.router.callback_pending_for(c.number):
            self._db("add_callback", call_id=c.call_id, number=c.number, queue=c.queue, reason="abandoned", now=now)
        self._emit("call", call_id=c.call_id, state="abandoned", queue=c.queue)

    # -- after a reconnect ------------------------------------------------------

    @defer.inlineCallbacks
    def resync(self):
        """Ask Asterisk which channels exist and settle calls whose end we missed."""
        try:
            result = yield self.ami.send("CoreShowChannels")
        except Exception as exc:
            log.warning("ACD resync failed", extra={"fields": {"error": str(exc)}})
            return None
        live = {m.get("Channel"): m.get("BridgeId") or "" for m in result.events}
        return self.reconcile(live)

    def reconcile(self, live) -> int:
        """Treat calls and agent legs missing from ``live`` (channel names, or channel → BridgeId
        as CoreShowChannels reports) as hung up; an answered call whose two legs share a bridge is
        connected.  Returns how many calls were settled."""
        settled = 0
        now = self._now()
        bridges = live if isinstance(live, dict) else {}
        for qc in list(self.calls.values()):
            if qc.state is CallState.ANSWERED:
                if qc.channel not in live:
                    self._by_channel.pop(qc.channel, None)
                    self._caller_gone(qc)
                elif qc.agent_channel not in live:
                    self._bridge_failed(qc)
                elif bridges.get(qc.channel) and bridges.get(qc.channel) == bridges.get(qc.agent_channel):
                    qc.caller_bridge = qc.agent_bridge = bridges[qc.channel]
                    self._connected(qc)
                else:
                    continue
                settled += 1
                continue
            if qc.agent_channel and qc.agent_channel not in live and qc.state is CallState.CONNECTED:
                self._by_agent_channel.pop(qc.agent_channel, None)
                self._agent_leg_ended(qc, now)
                settled += 1
            if qc.channel is None or qc.channel in live:
                continue
            if qc.state in (CallState.WAITING, CallState.RINGING, CallState.RETURNING):
                self._by_channel.pop(qc.channel, None)
                self._caller_gone(qc)
                settled += 1
            elif qc.state in (CallState.CONNECTED, CallState.ENDED):
                self._by_channel.pop(qc.channel, None)
                self._agent_leg_ended(qc, now)
                self.calls.pop(qc.call_id, None)
                settled += 1
        if settled:
            log.info("ACD resynchronised", extra={"fields": {"settled": settled}})
        return settled

    # -- supervisors and the desk ------------------------------------------------

    def supervise(self, supervisor_device: str, agent_id: str, mode: str) -> defer.Deferred:
        """Listen, whisper or barge on the agent's current call (ChanSpy via Originate)."""
        check_name("device", supervisor_device)
        if mode not in SPY_OPTIONS:
            return defer.fail(RoutingError("routing.bad_spy_mode", "mode is listen, whisper or barge / "
                                           "模式须为监听、耳语或强插", mode=mode))
        session = self.session(agent_id)
        qc = self.calls.get(session.call_id) if session.call_id else None
        if session.state is not AgentState.ON_CALL or qc is None or not qc.agent_channel:
            return defer.fail(RoutingError("routing.not_on_call", "agent is not on a call / 坐席当前没有通话",
                                           agent=agent_id))
        return self.ami.originate(supervisor_device, application="ChanSpy",
                                  data=f"{qc.agent_channel},{SPY_OPTIONS[mode]}", timeout=30,
                                  caller_id=self.caller_id)

    def transfer(self, agent_id: str, line: str) -> defer.Deferred:
        """Move the agent's caller to a department line (``hotline-transfer,<line>,1``)."""
        if not line.isdigit() or len(line) > 12:
            return defer.fail(RoutingError("routing.bad_line", "a line is digits / 转接号码须为数字", line=line))
        session = self.session(agent_id)
        qc = self.calls.get(session.call_id) if session.call_id else None
        if session.state is not AgentState.ON_CALL or qc is None or not qc.channel:
            return defer.fail(RoutingError("routing.not_on_call", "agent is not on a call / 坐席当前没有通话",
                                           agent=agent_id))
        return self.ami.redirect(qc.channel, "hotline-transfer", line, 1)

    def hang_up(self, agent_id: str) -> defer.Deferred:
        """End the agent's current call from the desk (the caller's channel is hung up)."""
        session = self.session(agent_id)
        qc = self.calls.get(session.call_id) if session.call_id else None
        if session.state is not AgentState.ON_CALL or qc is None or not qc.channel:
            return defer.fail(RoutingError("routing.not_on_call", "agent is not on a call / 坐席当前没有通话",
                                           agent=agent_id))
        return self.ami.hangup(qc.channel)

    def callback_list(self) -> defer.Deferred:
        """Pending callbacks (oldest first) from the store."""
        return self._db("callbacks")


def queues_from_config(section: dict) -> list[QueueRules]:
    """``[routing.queues.<name>]`` tables → :class:`QueueRules`."""
    return [QueueRules.from_config(name, data) for name, data in (section or {}).items()]


def agents_from_config(items: list[dict]) -> list[Agent]:
    """``[[routing.agents]]`` entries: ``id``, ``device``, ``skills`` (name → level), ``groups``."""
    out = []
    for item in items or ():
        unknown = set(item) - {"id", "device", "skills", "groups"}
        if unknown:
            raise RoutingError("routing.bad_agent", "unknown agent settings / 未知的坐席设置",
                               agent=item.get("id"), keys=sorted(unknown))
        out.append(Agent(item.get("id"), item.get("skills") or {}, frozenset(item.get("groups") or ()),
                         device=item.get("device", "")))
    return out


def _absolute(path: str | None) -> str | None:
    """Asterisk plays our prompts by absolute path (the IVR's sounds directory)."""
    if not path:
        return None
    from pathlib import Path

    return str(Path(path).resolve())


def controller_from_config(config, ami, clock, *, store=None, db_runner=None, calendar=None) -> QueueController:
    """Build the ACD from the ``[routing]`` config section; in-queue callbacks are retried on the
    ``[callbacks]`` policy and the ``[calendar]`` working calendar (or ``calendar``, e.g. the work
    order service's, which includes the database's overrides)."""
    from ticketing.calendar_data import build_calendar
    from ticketing.callbacks.policy import CallbackPolicy

    section = config.section("routing")
    router = Router(queues_from_config(section.get("queues", {})))
    router.check_overflows()
    acd = QueueController(
        ami, clock, router, store=store, db_runner=db_runner,
        ring_timeout=float(section.get("ring_timeout", 15)),
        wrap_up_seconds=float(section.get("wrap_up_seconds", 15)),
        max_missed=int(section.get("max_missed", 2)),
        moh_class=section.get("moh_class", "default"),
        callback_timeout=float(section.get("callback_timeout", 30)),
        default_queue=section.get("default_queue", "hotline-general"),
        sounds_dir=_absolute(config.get("ivr.sounds_dir")),
        elderly_numbers=section.get("elderly_numbers", ()),
        callback_policy=CallbackPolicy.from_config(config.section("callbacks")),
        calendar=calendar if calendar is not None else build_calendar(config.section("calendar")),
    )
    for agent in agents_from_config(section.get("agents", [])):
        acd.add_agent(agent)
    return acd
