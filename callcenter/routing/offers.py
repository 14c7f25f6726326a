"""Offering a caller to an agent: ringing, the answer, the bridge, and a failed ring's requeue.

``DialEnd`` ``ANSWER`` only means the agent's phone picked up; the call is connected when
``BridgeEnter`` shows both legs in one bridge.  A ring-out or an answer that never bridged
hands the caller back through ``AGI(agi:async,requeue)`` with their place.  Part of
:class:`callcenter.routing.acd.QueueController`.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from twisted.internet import defer

from callcenter.ami.errors import AMIActionError
from callcenter.routing.agent import AgentState
from callcenter.routing.queued import CallHandle, CallState, QueuedCall, callid_of

if TYPE_CHECKING:
    from callcenter.routing.policy import Match
    from callcenter.routing.skills import Agent

log = logging.getLogger("callcenter.routing.acd")


class Offers:
    """Ringing and connecting (a part of the queue controller)."""

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
        if qc is not None and qc.state is CallState.WAITING and channel:
            # A waiting caller's session started again (a prompt failed and res_agi ended the
            # session, or the dialplan came back here): hold goes on in the new session.
            self._resume_hold(qc, channel)
            return
        if qc is None or qc.state not in (CallState.RETURNING, CallState.RINGING, CallState.ANSWERED):
            # Back from a failed transfer, or a call we do not know (restart):
            # a new entry in the default queue, identified by HOTLINE_CALLID.
            call_id = callid_of(message) or message.get("Uniqueid")
            if not call_id:
                return
            number = env.get("agi_callerid", "")
            # agi_language is the channel's Asterisk language ("en" unless set), not the caller's
            # choice: that is HOTLINE_LANG, which the hold asks for first (Hold._hold)
            handle = CallHandle(call_id, channel, number if number.isdigit() else "",
                                qc.language if qc is not None else "zh")
            self.calls.pop(call_id, None)
            if qc is None:   # not ours before (a restart): ask the channel
                self.__dict__.setdefault("_ask_language", set()).add(call_id)
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
