"""An agent's working state as an explicit transition table.

Every change returns an :class:`AgentStateChange`, which the controller feeds
to the router and records in ``agent_state_log`` for reports (occupancy,
pause reasons, missed rings).  Illegal moves raise ``agent.bad_transition``
and change nothing.  Pure: ``now`` is passed in, timers are the caller's job
(``wrap_up_until`` says when wrap-up ends).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from callcenter.routing.errors import RoutingError


class AgentState(str, Enum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


# Pause reason codes (the desk shows the Chinese label first).
PAUSE_REASONS = {
    "break": "休息 / Break",
    "lunch": "用餐 / Lunch",
    "training": "培训 / Training",
    "meeting": "会议 / Meeting",
    "after_call_work": "话后处理 / After-call work",
    "missed": "未接 / Missed calls",
    "login": "刚签入 / Just logged in",
}

S = AgentState
# (state, event) -> next state.  Events not listed for a state are refused.
TRANSITIONS: dict[tuple[AgentState, str], AgentState] = {
    (S.LOGGED_OUT, "login"): S.PAUSED,
    (S.PAUSED, "ready"): S.READY,
    (S.WRAP_UP, "ready"): S.READY,
    (S.READY, "pause"): S.PAUSED,
    (S.PAUSED, "pause"): S.PAUSED,           # change of reason
    (S.WRAP_UP, "pause"): S.PAUSED,
    (S.READY, "offer"): S.RINGING,
    (S.RINGING, "answer"): S.ON_CALL,
    (S.RINGING, "no_answer"): S.READY,       # or PAUSED "missed" after N misses
    (S.RINGING, "cancel"): S.READY,          # caller gave up while ringing: not the agent's miss
    (S.ON_CALL, "hangup"): S.WRAP_UP,        # or READY with no wrap-up time
    (S.READY, "logout"): S.LOGGED_OUT,
    (S.PAUSED, "logout"): S.LOGGED_OUT,
    (S.WRAP_UP, "logout"): S.LOGGED_OUT,
}


@dataclass(frozen=True)
class AgentStateChange:
    """One row of ``agent_state_log``."""

    agent_id: str
    from_state: AgentState
    to_state: AgentState
    event: str
    at: datetime
    reason: str = ""
    call_id: str = ""


class AgentSession:
    """One agent's shift: state, reason, current call, missed-ring count."""

    def __init__(self, agent_id: str, *, wrap_up_seconds: float = 15.0, max_missed: int = 2) -> None:
        if wrap_up_seconds < 0 or max_missed < 1:
            raise RoutingError("agent.bad_settings", "wrap-up must be >= 0 s and max missed >= 1",
                               wrap_up=wrap_up_seconds, max_missed=max_missed)
        self.agent_id = agent_id
        self.wrap_up_seconds = float(wrap_up_seconds)
        self.max_missed = max_missed
        self.state = AgentState.LOGGED_OUT
        self.reason = ""
        self.call_id = ""
        self.missed = 0
        self.since: datetime | None = None
        self.wrap_up_until: datetime | None = None
        self.pause_after_call: str = ""

    def _move(self, event: str, now: datetime, *, to: AgentState | None = None, reason: str = "",
              call_id: str = "") -> AgentStateChange:
        target = TRANSITIONS.get((self.state, event))
        if target is None:
            raise RoutingError("agent.bad_transition",
                               f"cannot {event} while {self.state.value} / 当前状态不允许此操作",
                               agent=self.agent_id, state=self.state.value, event=event)
        target = to or target
        change = AgentStateChange(self.agent_id, self.state, target, event, now, reason,
                                  call_id or self.call_id)
        self.state, self.reason, self.since = target, reason, now
        if target is not AgentState.WRAP_UP:
            self.wrap_up_until = None
        return change

    def login(self, now: datetime) -> AgentStateChange:
        """Logging in leaves the agent paused ("login") until they say they are ready."""
        self.missed = 0
        return self._move("login", now, reason="login")

    def ready(self, now: datetime) -> AgentStateChange:
        """Ready for calls (also ends wrap-up early, or by its timer)."""
        if self.state is AgentState.PAUSED:
            self.missed = 0
        self.call_id = ""
        return self._move("ready", now)

    def pause(self, now: datetime, reason: str) -> AgentStateChange | None:
        """Pause with a reason code.  During a call the pause is kept for after
        it (returns None): the agent goes paused instead of ready."""
        if reason not in PAUSE_REASONS:
            raise RoutingError("agent.bad_reason", "unknown pause reason / 未知的暂停原因",
                               agent=self.agent_id, reason=reason, allowed=sorted(PAUSE_REASONS))
        if self.state in (AgentState.RINGING, AgentState.ON_CALL):
            self.pause_after_call = reason
            return None
        return self._move("pause", now, reason=reason)

    def offer(self, now: datetime, call_id: str) -> AgentStateChange:
        """The router picked this agent; their phone rings."""
        self.call_id = call_id
        return self._move("offer", now, call_id=call_id)

    def answer(self, now: datetime) -> AgentStateChange:
        return self._move("answer", now)

    def no_answer(self, now: datetime) -> AgentStateChange:
        """Rang out (or busy): counted; after ``max_missed`` in a row, paused "missed"."""
        self.missed += 1
        call_id = self.call_id
        self.call_id = ""
        if self.missed >= self.max_missed:
            return self._move("no_answer", now, to=AgentState.PAUSED, reason="missed", call_id=call_id)
        if self.pause_after_call:
            reason, self.pause_after_call = self.pause_after_call, ""
            return self._move("no_answer", now, to=AgentState.PAUSED, reason=reason, call_id=call_id)
        return self._move("no_answer", now, call_id=call_id)

    def cancel(self, now: datetime) -> AgentStateChange:
        """The caller hung up while this agent's phone rang: no fault of theirs."""
        call_id, self.call_id = self.call_id, ""
        if self.pause_after_call:
            reason, self.pause_after_call = self.pause_after_call, ""
            return self._move("cancel", now, to=AgentState.PAUSED, reason=reason, call_id=call_id)
        return self._move("cancel", now, call_id=call_id)

    def hangup(self, now: datetime) -> AgentStateChange:
        """The call ended: timed wrap-up, straight to ready with none, or the
        pause asked for during the call."""
        self.missed = 0
        if self.pause_after_call:
            reason, self.pause_after_call = self.pause_after_call, ""
            return self._move("hangup", now, to=AgentState.PAUSED, reason=reason)
        if self.wrap_up_seconds <= 0:
            change = self._move("hangup", now, to=AgentState.READY)
            self.call_id = ""
            return change
        change = self._move("hangup", now)
        self.wrap_up_until = now + timedelta(seconds=self.wrap_up_seconds)
        return change

    def wrap_up_due(self, now: datetime) -> bool:
        return self.state is AgentState.WRAP_UP and self.wrap_up_until is not None and now >= self.wrap_up_until

    def logout(self, now: datetime) -> AgentStateChange:
        self.pause_after_call = ""
        self.call_id = ""
        return self._move("logout", now)
