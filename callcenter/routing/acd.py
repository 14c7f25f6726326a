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

:class:`QueueController` is one object built from rooms, one job each; this module keeps the
service's life, the agents, taking callers in, the clock tick and the AMI event dispatch:

- :mod:`callcenter.routing.queued` — the calls it holds (``CallHandle``, ``QueuedCall``, ``CallState``)
- :mod:`callcenter.routing.hold` — hold music, position/wait announcements, the callback offer
- :mod:`callcenter.routing.offers` — ringing an agent, the answer, the bridge, a failed ring's requeue
- :mod:`callcenter.routing.queue_callbacks` — in-queue callbacks: booking, placing, retrying
- :mod:`callcenter.routing.transfers` — transfer, hang up, listen/whisper/barge from the desk
- :mod:`callcenter.routing.resync` — settling missed ends after a reconnect (CoreShowChannels)
- :mod:`callcenter.routing.metrics` — live figures (``snapshot``) and their Prometheus view
"""
from __future__ import annotations

import logging
from collections import deque
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from twisted.application.service import Service
from twisted.internet import defer, task

from callcenter.clock import now_from
from callcenter.routing.agent import AgentSession, AgentState, AgentStateChange
from callcenter.routing.errors import RoutingError
from callcenter.routing.hold import Hold
from callcenter.routing.metrics import Figures
from callcenter.routing.offers import Offers
from callcenter.routing.policy import Match, OfferCallback, Overflow, Router
from callcenter.routing.queue_callbacks import QueueCallbacks
from callcenter.routing.queued import CallHandle, CallState, QueuedCall, callid_of, handle_from
from callcenter.routing.resync import Resync
from callcenter.routing.skills import Agent, Caller, PriorityRules, QueueRules, check_name, is_elderly
from callcenter.routing.transfers import Transfers

__all__ = ["CallHandle", "CallState", "QueueController", "QueuedCall", "controller_from_config"]

log = logging.getLogger(__name__)


class QueueController(Hold, Offers, QueueCallbacks, Transfers, Resync, Figures, Service):
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
                 sounds_dir: str = "hotline", prompts_dir: str | None = None,
                 priority_rules: PriorityRules | None = None,
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
        # the prompts as Asterisk names them (ivr.pbx_sounds_dir, relative to its sounds directory)
        # and as this process sees them (ivr.sounds_dir: a prompt whose file is missing is not played)
        self.sounds_dir = sounds_dir
        self.prompts_dir = prompts_dir
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

    # -- callers -----------------------------------------------------------

    def current_call(self, agent_id: str) -> QueuedCall | None:
        """The call the agent is ringing for, talking on or wrapping up (for the desk)."""
        session = self.session(agent_id)
        return self.calls.get(session.call_id) if session.call_id else None

    def enqueue(self, call, queue: str, skill: str | None = None, priority: int = 0,
                joined_at: datetime | None = None) -> QueuedCall:
        """Take a caller from the IVR (``call``: a :class:`CallHandle` or anything
        with ``call_id``, ``channel``, ``number``, ``language``).  ``joined_at``: when the
        caller first joined (a caller adopted after a controller change keeps their place)."""
        rules = self.router.queue(queue)
        if call.call_id in self.calls and self.calls[call.call_id].state is not CallState.ENDED:
            raise RoutingError("routing.already_queued", "call is already queued / 来电已在队列中",
                               call=call.call_id)
        check_name("channel", call.channel)
        now = self._now()
        number = getattr(call, "number", "") or ""
        # an adopted caller's priority already has its points (it is what the checkpoint recorded)
        points = priority if joined_at is not None else self._priority(number, priority, now)
        caller = Caller(call.call_id, queue, skill or rules.skill, points, joined_at or now, number=number)
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
        call_id = callid_of(message)
        return self.calls.get(call_id) if call_id else None

    def _on_event(self, message) -> None:
        name = message.name
        if name == "Hangup":
            self._on_hangup(message)
        elif name == "DialBegin":
            qc = self._call_for(message)
            if qc is not None and qc.state in (CallState.RINGING, CallState.CALLBACK_DIALING) \
                    and self._agent_leg(qc, message.get("DestChannel")):
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
            if qc is not None and qc.state in (CallState.RINGING, CallState.CALLBACK_DIALING) \
                    and self._agent_leg(qc, message.get("DestChannel")):
                self._dial_end(qc, (message.get("DialStatus") or "").upper())
        elif name == "BridgeEnter":
            self._bridge_enter(message)
        elif name == "AsyncAGIStart":
            self._agi_start(message)
        elif name == "FullyBooted":
            self.resync()  # a (re)connected session: events may have been missed meanwhile

    def _agent_leg(self, qc: QueuedCall, dest: str | None) -> bool:
        """Whether a Dial's destination is the agent's phone.  A queue callback's Local half ``;2``
        Dials the citizen's trunk with the same HOTLINE_CALLID (Asterisk copies the Originate's
        variables to both halves): that leg is not the agent's."""
        if not dest or not qc.agent_id:
            return True
        try:
            device = self.router.agent(qc.agent_id).device
        except Exception:  # noqa: BLE001 - an agent no longer configured: as before
            return True
        return not device or dest.rsplit("-", 1)[0] == device

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


def controller_from_config(config, ami, clock, *, store=None, db_runner=None, calendar=None) -> QueueController:
    """Build the ACD from the ``[routing]`` config section; in-queue callbacks are retried on the
    ``[callbacks]`` policy and the ``[calendar]`` working calendar (or ``calendar``, e.g. the work
    order service's, which includes the database's overrides)."""
    from ivr.sounds import check_pbx_sounds_dir
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
        sounds_dir=check_pbx_sounds_dir(config.get("ivr.pbx_sounds_dir")),
        prompts_dir=config.get("ivr.sounds_dir") or None,
        elderly_numbers=section.get("elderly_numbers", ()),
        callback_policy=CallbackPolicy.from_config(config.section("callbacks")),
        calendar=calendar if calendar is not None else build_calendar(config.section("calendar")),
    )
    for agent in agents_from_config(section.get("agents", [])):
        acd.add_agent(agent)
    return acd
