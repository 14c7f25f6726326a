"""In-queue callbacks: a caller hangs up and keeps their place; when their turn comes the ACD
reserves the agent and Originates the citizen into ``hotline-connect``.

Not to be confused with *satisfaction callbacks* (:mod:`callcenter.callbacks`: the survey call
after a work order is answered) or the *webhook outbox* (:mod:`callcenter.callbacks.outbox`).
A callback that does not reach the citizen is retried on the satisfaction callbacks'
:class:`~ticketing.callbacks.policy.CallbackPolicy` (one retry policy); each attempt is claimed
with a guarded UPDATE, so two ACDs on one database never dial the same row twice.  Part of
:class:`callcenter.routing.acd.QueueController`.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from twisted.internet import defer

from callcenter.routing.agent import AgentState
from callcenter.routing.errors import RoutingError
from callcenter.routing.queued import CallState, QueuedCall, handle_from
from callcenter.routing.skills import Caller

if TYPE_CHECKING:
    from callcenter.routing.skills import Agent

log = logging.getLogger("callcenter.routing.acd")


class QueueCallbacks:
    """Booking, placing and retrying in-queue callbacks (a part of the queue controller).

    Each placed attempt is claimed first (the row records the attempt and ``dialled_at``/
    ``dialled_by``, durably, before the Originate) and its call carries ``HOTLINE_CALLBACK`` =
    ``queue|<row id>|<attempt>``; a row with an attempt in flight is never claimed again — a
    controller that takes over adopts its call or settles it (:mod:`callcenter.failover.callbacks`)."""

    #: which PBX this ACD drives (stored as ``dialled_by``; :func:`callcenter.failover.callbacks.pbx_scope`)
    callback_scope = ""

    @property
    def _callbacks_dialling(self) -> dict:
        """Call ids of the callbacks this ACD is claiming or placing, until the attempt's outcome
        is stored (an adoption meanwhile must not judge their rows)."""
        return self.__dict__.setdefault("_callbacks_dialling_", {})

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

    @defer.inlineCallbacks
    def _place_callback(self, qc: QueuedCall, agent: Agent):
        call_id = qc.caller.call_id
        self._callbacks_dialling[call_id] = True
        handed = []   # the pending mark goes when the outcome is stored (see _place_attempt)
        try:
            yield self._place_attempt(qc, agent, handed)
        finally:
            if not handed:
                self._callbacks_dialling.pop(call_id, None)

    @defer.inlineCallbacks
    def _place_attempt(self, qc: QueuedCall, agent: Agent, handed: list):
        caller = qc.caller
        now = self._now()
        entry, unstored = None, False
        if self.store is not None:
            # Claim this attempt first: a person may have called the citizen from /callbacks, or
            # another ACD on this database may hold the row; then we must not dial.
            lease = now + timedelta(seconds=self.callback_timeout + self.ring_timeout + self.ring_grace + 60)
            try:
                entry = yield self._db("claim_callback", caller.call_id, qc.callback_seen, now, lease,
                                       dialled_by=self.callback_scope or None)
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
        variables = {"HOTLINE_CALLID": caller.call_id, "AGENT_DEVICE": agent.device,
                     "RING_TIMEOUT": str(int(self.ring_timeout))}
        if entry is not None:
            from callcenter.failover.callbacks import CALLBACK_MARK, callback_mark
            from ticketing.callbacks.policy import QUEUE

            variables[CALLBACK_MARK] = callback_mark(QUEUE, entry.id, entry.attempts)
        try:
            response = yield self.ami.originate(
                self.pstn_dial.format(number=caller.number), context="hotline-connect", exten="s",
                timeout=self.callback_timeout, caller_id=self.caller_id, variables=variables)
            answered = bool(response.answered)
            reason = response.reason or 0
        except Exception as exc:
            from callcenter.ami.errors import AMINotConnected

            if isinstance(exc, AMINotConnected) and entry is not None:
                # never sent: the claim is undone (not counted) and the callback tried again when due
                self._free_callback_agent(qc, agent)
                from callcenter.failover.callbacks import queue_release

                released = yield self._db_runner(queue_release, self.store.engine, entry.id, entry.attempts,
                                                 self._now())
                if released:
                    self._callback_retries[caller.call_id] = replace(entry, attempts=entry.attempts - 1,
                                                                    next_attempt_at=self._now(), dialled_at=None)
                log.info("callback not dialled: no AMI link; released", extra={"fields": {"call": caller.call_id}})
                return
            # sent or maybe sent (the link dropped, no response): the attempt stays in flight; the
            # adoption after the reconnect (or the lease sweep) finds its call or settles it
            log.warning("callback originate outcome unknown", extra={"fields": {"call": caller.call_id,
                                                                               "error": str(exc)}})
            if entry is not None:
                # the agent stays reserved: the citizen's phone may be ringing into hotline-connect
                self._emit("call", call_id=caller.call_id, state="callback_in_flight")
                return
            answered = False

        def recorded(result):
            # pending until the outcome is stored: an adoption meanwhile must not judge the row
            self._callbacks_dialling.pop(caller.call_id, None)
            return result
        if entry is not None:
            handed.append(True)
        if answered:
            if entry is not None:
                self._db("set_callback_state", entry.id, "done", self._now()).addBoth(recorded)
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
                     later, retry_at).addBoth(recorded)
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
                if entry.dialled_at is not None:
                    continue  # an attempt in flight: adopted or settled by callcenter.failover.callbacks
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

