"""The ACD's side of adoption: queued callers back in their place, agents as they really are.

* :meth:`QueueAdoption.checkpoint` — a listener on the ACD: each caller who joins a queue gets
  ``HOTLINE_QUEUE`` = ``queue|skill|priority|joined epoch`` on their channel (AMI Setvar), so any
  later controller knows they were queued, where and since when;
* :meth:`adopt_waiting` — such a caller parked in AsyncAGI that the ACD does not know goes back into
  the queue with their original join time (their place) and hold music;
* :meth:`resume_holds` — after a reconnect, hold loops whose AGI commands died with the link are
  started again (otherwise a caller would sit in silence when the music's turn ended);
* :meth:`restore_agents` — once per process, each configured agent's last state from
  ``agent_state_log`` (logged in, ready or paused with its reason), so a standby that takes over
  routes to the same agents the dead leader did;
* :meth:`adopt_live` — agents whose phone has a live call (ringing or talking) are attached to it
  (RINGING / ON_CALL), so nobody on a call is offered a second one and the call's end is seen.
"""
from __future__ import annotations

import logging

from sqlalchemy import func, select
from twisted.internet import defer

from callcenter.failover.adoption import QUEUE_CHECKPOINT, queue_checkpoint
from callcenter.routing.agent import PAUSE_REASONS, AgentState
from callcenter.routing.queued import CallHandle, CallState, QueuedCall, callid_of
from callcenter.routing.skills import Caller

log = logging.getLogger(__name__)

RINGING_STATES = {"5", "Ringing"}


def last_agent_states(engine) -> dict[str, tuple[str, str]]:
    """agent id -> (last to_state, reason) from ``agent_state_log``."""
    from callcenter.routing.store import agent_state_log as t

    latest = select(t.c.agent_id, func.max(t.c.id).label("id")).group_by(t.c.agent_id).subquery()
    q = select(t.c.agent_id, t.c.to_state, t.c.reason).join(latest, t.c.id == latest.c.id)
    with engine.connect() as conn:
        return {row.agent_id: (row.to_state, row.reason) for row in conn.execute(q)}


class QueueAdoption:
    def __init__(self, acd, ami, *, engine=None):
        self.acd = acd
        self.ami = ami
        self.engine = engine
        self.restored = False
        self._available: set[str] = set()
        acd.add_listener(self.checkpoint)

    # -- the checkpoint ---------------------------------------------------------------------------
    def checkpoint(self, kind: str, data: dict) -> None:
        if kind != "call" or data.get("state") != "queued":
            return
        qc = self.acd.calls.get(data.get("call_id"))
        if qc is None or not qc.channel:
            return
        c = qc.caller
        self.ami.setvar(QUEUE_CHECKPOINT, queue_checkpoint(c.queue, c.skill, c.priority, c.enqueued_at),
                        channel=qc.channel).addErrback(lambda f: None)

    # -- callers ----------------------------------------------------------------------------------
    def adopt_waiting(self, channel_message, queue: str, skill, priority: int, joined_at) -> bool:
        """Queue the caller of a CoreShowChannel entry again, in their place; False if already known."""
        channel = channel_message.get("Channel")
        call_id = callid_of(channel_message) or channel_message.get("Uniqueid") or channel
        if channel in self.acd._by_channel:
            return False
        live = self.acd.calls.get(call_id)
        if live is not None and live.state is not CallState.ENDED:
            return False
        self.acd.calls.pop(call_id, None)
        number = channel_message.get("CallerIDNum") or ""
        handle = CallHandle(call_id, channel, number if number.isdigit() else "",
                            channel_message.get("Language") or "zh")
        try:
            self.acd.router.queue(queue)
        except Exception:  # noqa: BLE001 - a queue no longer configured: the default one
            queue, skill = self.acd.default_queue, None
        self.acd.enqueue(handle, queue, skill, priority, joined_at=joined_at)
        log.info("queued caller adopted in their place", extra={"fields": {"call": call_id, "queue": queue}})
        return True

    def resume_holds(self, live_channels) -> int:
        """Start the hold loop again for every waiting caller still in the PBX."""
        resumed = 0
        for qc in list(self.acd.calls.values()):
            if qc.state is CallState.WAITING and qc.channel and qc.channel in live_channels:
                self.acd._start_hold(qc)
                resumed += 1
        return resumed

    # -- agents ---------------------------------------------------------------------------------
    @defer.inlineCallbacks
    def restore_agents(self):
        """Once per process: every configured agent logged in (and paused with its reason) as the log
        last saw them; those who were available are made ready by :meth:`ready_restored`."""
        if self.restored or self.engine is None:
            return 0
        self.restored = True
        states = yield self.acd._db_runner(last_agent_states, self.engine)
        restored = 0
        for agent_id, session in self.acd.sessions.items():
            state, reason = states.get(agent_id, ("logged_out", ""))
            if state == "logged_out" or session.state is not AgentState.LOGGED_OUT:
                continue
            self.acd.agent_login(agent_id)
            if state == "paused":
                if reason not in ("login", "") and reason in PAUSE_REASONS:
                    self.acd.agent_pause(agent_id, reason)
            else:
                self._available.add(agent_id)
            restored += 1
        return restored

    def ready_restored(self) -> int:
        """Restored agents who were available and are not on a live call: ready again."""
        made = 0
        for agent_id in sorted(self._available):
            session = self.acd.sessions.get(agent_id)
            if session is not None and session.state is AgentState.PAUSED and session.reason == "login":
                self.acd.agent_ready(agent_id)
                made += 1
        self._available.clear()
        return made

    def adopt_live(self, channels) -> int:
        """Attach agents whose phone has a live call to it: talking (bridged with a caller) → ON_CALL,
        ringing → RINGING.  Returns how many were attached."""
        acd = self.acd
        by_device = {}
        for agent_id in acd.sessions:
            try:
                by_device[acd.router.agent(agent_id).device] = agent_id
            except Exception:  # noqa: BLE001 - an agent without a device
                continue
        by_linkedid: dict[str, list] = {}
        channels_by_name = {m.get("Channel"): m for m in channels}
        for m in channels:
            by_linkedid.setdefault(m.get("Linkedid") or "", []).append(m)
        attached = 0
        now = acd._now()
        for m in channels:
            name = m.get("Channel") or ""
            device = name.rsplit("-", 1)[0]
            agent_id = by_device.get(device)
            if agent_id is None:
                continue
            known = acd._by_agent_channel.get(name)
            if known is not None and known.state in (CallState.RINGING, CallState.ANSWERED):
                # this process rang the agent and the link dropped before it saw the answer: connected
                # if the two legs are bridged now (their answer's events were lost), else events follow
                caller_leg = channels_by_name.get(known.channel or "") or {}
                bridge = m.get("BridgeId") or ""
                if bridge and caller_leg.get("BridgeId") == bridge:
                    known.caller_bridge = known.agent_bridge = bridge
                    known.state = CallState.ANSWERED
                    acd._connected(known)
                    attached += 1
                continue
            if known is not None and known.state is not CallState.CALLBACK_DIALING:
                continue
            session = acd.sessions[agent_id]
            held = None
            if session.state is AgentState.RINGING:
                # reserved for a queue callback whose answer (or bridge) this controller never saw
                # (the AMI link was cut meanwhile): attached to that call below
                held = acd.calls.get(session.call_id)
                if held is None or held.state is not CallState.CALLBACK_DIALING \
                        or held.agent_channel not in ("", name):
                    continue
            elif session.state is AgentState.ON_CALL:
                continue
            peers = [p for p in by_linkedid.get(m.get("Linkedid") or "", []) if p is not m
                     and by_device.get((p.get("Channel") or "").rsplit("-", 1)[0]) is None]
            if not peers:
                continue
            # the caller's leg: the one bridged with the agent, else the one dialling them (a callback's
            # Local pair and the trunk leg share the Linkedid too)
            bridged_with = [p for p in peers if m.get("BridgeId") and p.get("BridgeId") == m.get("BridgeId")]
            dialling = [p for p in peers if (p.get("Application") or "").lower() == "dial"]
            caller = (bridged_with or dialling or peers)[0]
            call_id = callid_of(caller) or caller.get("Uniqueid")
            bridged = bool(m.get("BridgeId")) and m.get("BridgeId") == caller.get("BridgeId")
            number = caller.get("CallerIDNum") or ""
            if held is not None:
                qc = held
                qc.channel = caller.get("Channel")
                qc.caller.callback = False  # the citizen is on the line now
                qc.agent_channel = name
                acd._by_channel[qc.channel] = qc
                acd._by_agent_channel[name] = qc
                if bridged:
                    qc.state = CallState.CONNECTED
                    qc.answered_at = now
                    qc.caller_bridge = qc.agent_bridge = m.get("BridgeId")
                    acd._apply(session.answer(now))
                else:
                    qc.state = CallState.RINGING
                attached += 1
                log.info("agent's live callback call adopted", extra={"fields": {"agent": agent_id,
                                                                                "call": qc.call_id}})
                continue
            qc = QueuedCall(Caller(call_id, acd.default_queue, acd.router.queue(acd.default_queue).skill, 0, now,
                                   number=number if number.isdigit() else ""), caller.get("Channel"))
            qc.agent_id, qc.agent_channel = agent_id, name
            acd.calls[call_id] = qc
            acd._by_channel[qc.channel] = qc
            acd._by_agent_channel[name] = qc
            # the steps to the call's state, recorded; only the last is applied (never ready to the router)
            steps = []
            if session.state is AgentState.LOGGED_OUT:
                steps.append(session.login(now))
            if session.state is AgentState.PAUSED and session.reason not in ("login", "missed"):
                session.pause_after_call = session.reason
            if session.state in (AgentState.PAUSED, AgentState.WRAP_UP):
                steps.append(session.ready(now))
            steps.append(session.offer(now, call_id))
            if bridged:
                qc.state = CallState.CONNECTED
                qc.answered_at = now
                qc.caller_bridge = qc.agent_bridge = m.get("BridgeId")
                steps.append(session.answer(now))
            else:
                qc.state = CallState.RINGING
            acd._db("record_state_changes", steps[:-1])
            acd._apply(steps[-1])
            self._available.discard(agent_id)
            attached += 1
            log.info("agent's live call adopted", extra={"fields": {"agent": agent_id, "call": call_id,
                                                                   "state": qc.state.value}})
        return attached
