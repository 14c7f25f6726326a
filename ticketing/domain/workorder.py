"""The ``WorkOrder`` entity: fields, flags, deadlines and the behaviour of
every lifecycle action.  Pure: ``now`` and the SLA context are passed in,
each action returns domain events and appends one audit-history entry."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ticketing.domain.durations import parse_duration
from ticketing.domain.errors import IllegalTransition, ValidationFailed
from ticketing.domain.lifecycle import (
    ACTIONS, CO_DONE, OUTCOME_PARAMS, RETURN_REASONS, STATUSES, TRANSITION_TABLE, Transition,
)
from ticketing.domain.sla import Deadline, SlaContext

ORDER_TYPES = ("consultation", "complaint", "help", "report", "suggestion", "praise")
URGENCIES = ("normal", "urgent")
CHANNELS = ("phone", "web", "open311")
MAX_TEXT = 2000

# Parameters of each action: name → (python type, required, max length or allowed values).
_TEXT = (str, False, MAX_TEXT)
ACTION_PARAMS: dict[str, dict[str, tuple]] = {
    "dispatch": {"department": (str, False, 64), "co_departments": (list, False, 10), "note": _TEXT},
    "resolve-on-call": {"reply": (str, True, MAX_TEXT), "note": _TEXT},
    "acknowledge": {"note": _TEXT},
    "start": {"note": _TEXT},
    "return": {"reason_code": (str, True, tuple(RETURN_REASONS)), "reason": (str, True, MAX_TEXT)},
    "review-return": {"approve": (bool, True, None), "department": (str, False, 64),
                      "co_departments": (list, False, 10), "reason": _TEXT},
    "extend": {"duration": (str, True, 64), "reason": (str, True, MAX_TEXT)},
    "review-extension": {"approve": (bool, True, None), "reason": _TEXT},
    "await-caller": {"reason": (str, True, MAX_TEXT)},
    "resume": {"note": _TEXT},
    "reply": {"reply": (str, True, MAX_TEXT), "note": _TEXT},
    "callback-result": {"outcome": (str, True, ("satisfied", "dissatisfied", "unreachable")),
                        "satisfaction": (int, False, (1, 2, 3, 4, 5)), "note": _TEXT},
    "close": {"reason": _TEXT},
    "reopen": {"reason": (str, True, MAX_TEXT)},
    "remind": {"reason": _TEXT},
    "supervise": {"reason": _TEXT, "respond_within": (str, False, 64)},
    "respond-supervision": {"response": (str, True, MAX_TEXT)},
    "merge": {"into": (str, True, 32), "reason": _TEXT},
    "cancel": {"reason": (str, True, MAX_TEXT)},
    "co-acknowledge": {"department": (str, True, 64), "note": _TEXT},
    "co-reply": {"department": (str, True, 64), "reply": (str, True, MAX_TEXT)},
    "release-co": {"department": (str, True, 64), "reason": (str, True, MAX_TEXT)},
    "sub-dispatch": {"sub_unit": (str, True, 32), "note": _TEXT},
}
assert set(ACTION_PARAMS) == ACTIONS


def validate_params(action: str, params: Any) -> dict[str, Any]:
    """Check an action's parameters; every problem is reported at once."""
    if not isinstance(action, str) or action not in ACTION_PARAMS:
        raise ValidationFailed(f"未知操作 / unknown action {str(action)[:32]!r}",
                               {"action": f"expected one of {sorted(ACTIONS)}"}, error_id="workorder.unknown_action")
    if not isinstance(params, dict):
        raise ValidationFailed("参数必须是对象 / params must be an object", {"params": "expected an object"})
    spec = ACTION_PARAMS[action]
    problems: dict[str, str] = {}
    for name in params:
        if name not in spec:
            problems[str(name)[:64]] = "unknown field"
    for name, (typ, required, limit) in spec.items():
        if name not in params or params[name] is None:
            if required:
                problems[name] = "required"
            continue
        value = params[name]
        if typ is int and isinstance(value, bool) or not isinstance(value, typ):
            problems[name] = f"expected {typ.__name__}"
        elif typ is list and not all(isinstance(v, str) and len(v) <= 64 for v in value):
            problems[name] = "expected a list of codes"
        elif isinstance(limit, tuple) and value not in limit:
            problems[name] = f"expected one of {list(limit)}"
        elif isinstance(limit, int) and len(value) > limit:
            problems[name] = f"too long (max {limit})"
        elif typ is str and isinstance(limit, int) and required and not value.strip():
            problems[name] = "must not be empty"
    if problems:
        raise ValidationFailed("参数无效 / invalid parameters", problems)
    return {k: v for k, v in params.items() if v is not None}


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    actor: str
    role: str
    action: str
    from_status: str | None
    to_status: str
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DomainEvent:
    name: str
    number: str
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class WorkOrder:
    number: str
    type: str
    category: str
    district: str
    summary: str
    created_at: datetime
    urgency: str = "normal"
    channel: str = "phone"
    subdistrict: str | None = None
    address: str | None = None
    caller_name: str | None = None
    caller_phone: str | None = None
    description: str | None = None
    call_ids: list[str] = field(default_factory=list)
    department: str | None = None  # 主办 (lead)
    co_departments: list[str] = field(default_factory=list)  # 协办
    co_parts: dict[str, dict[str, Any]] = field(default_factory=dict)  # 协办 department → its part (CO_STATES)
    sub_unit: str | None = None  # 二级派单: the lead department's sub-unit (a subdistrict code)
    status: str = "registered"
    supervised: bool = False
    reminders: int = 0
    reopen_count: int = 0
    merged_into: str | None = None
    reply: str | None = None
    satisfaction: int | None = None
    pending: dict[str, Any] = field(default_factory=dict)
    deadlines: dict[str, Deadline] = field(default_factory=dict)
    updated_at: datetime | None = None
    id: int | None = None
    version: int = 0
    history: list[HistoryEntry] = field(default_factory=list)
    new_history: list[HistoryEntry] = field(default_factory=list)

    # -- creation ---------------------------------------------------------
    @classmethod
    def register(cls, *, actor: str, role: str, now: datetime, **fields: Any) -> "WorkOrder":
        order = cls(created_at=now, updated_at=now, **fields)
        order._record(HistoryEntry(now, actor, role, "create", None, "registered"))
        return order

    # -- reading ----------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return STATUSES[self.status].is_open

    @property
    def next_deadline(self) -> Deadline | None:
        running = [d for d in self.deadlines.values() if not d.paused]
        return min(running, key=lambda d: d.due_at) if running else None

    def sla_level(self, now: datetime) -> str:
        """The worst colour of the running deadlines (none when nothing runs)."""
        if not self.deadlines:
            return "none"
        levels = {d.level(now) for d in self.deadlines.values()}
        for level in ("red", "yellow", "green", "paused"):
            if level in levels:
                return level
        return "none"

    def allowed_actions(self) -> list[str]:
        return sorted({t.action for t in TRANSITION_TABLE.values() if self.status in t.sources})

    # -- behaviour --------------------------------------------------------
    def transition_for(self, action: str, params: dict[str, Any]) -> Transition:
        outcome = None
        if action in OUTCOME_PARAMS:
            name, mapping = OUTCOME_PARAMS[action]
            outcome = mapping.get(params.get(name))
        transition = TRANSITION_TABLE.get((action, outcome))
        if transition is None:
            raise ValidationFailed(f"未知操作 / unknown action {action!r}", {"action": action}, error_id="workorder.unknown_action")
        if self.status not in transition.sources:
            raise IllegalTransition(
                f"工单状态“{STATUSES[self.status].zh}”不能执行“{transition.zh}” / "
                f"cannot {transition.en} an order that is {STATUSES[self.status].en}",
                {"number": self.number, "status": self.status, "action": action,
                 "allowed": self.allowed_actions()},
            )
        return transition

    def perform(self, action: str, params: dict[str, Any], *, actor: str, role: str,
                now: datetime, sla: SlaContext) -> list[DomainEvent]:
        """Apply one lifecycle action; raises before changing anything if illegal."""
        params = validate_params(action, params)
        transition = self.transition_for(action, params)
        handler = getattr(self, "_on_" + action.replace("-", "_"))
        before = self.status
        events: list[DomainEvent] = []
        saved = {k: v for k, v in vars(self).items() if k not in ("history", "new_history")}
        saved.update(pending=copy.deepcopy(self.pending), deadlines=dict(self.deadlines),
                     co_departments=list(self.co_departments), co_parts=copy.deepcopy(self.co_parts))
        try:
            details = handler(params, now, sla, events) or {}
            target = transition.target or self.status
            was_paused, now_paused = STATUSES[before].sla_paused, STATUSES[target].sla_paused
            if now_paused and not was_paused:
                self.deadlines = {k: d.pause(now, sla.calendar) for k, d in self.deadlines.items()}
                events.append(DomainEvent("sla_paused", self.number, now))
            elif was_paused and not now_paused:
                self.deadlines = {k: d.resume(now, sla.calendar) for k, d in self.deadlines.items()}
                events.append(DomainEvent("sla_resumed", self.number, now))
        except Exception:
            vars(self).update(saved)  # a refused action leaves the order exactly as it was
            raise
        self.status = target
        self.updated_at = now
        reason = params.get("reason") or params.get("note")
        self._record(HistoryEntry(now, actor, role, action, before, target, reason, details))
        if before != target:
            events.append(DomainEvent("status_changed", self.number, now, {"from": before, "to": target, "action": action}))
        return events

    def absorb(self, duplicate: "WorkOrder", *, actor: str, role: str, now: datetime, reason: str | None = None) -> None:
        """Take in a duplicate report merged into this order: its calls become ours, and the history says so."""
        if not self.is_open:  # a state conflict (409): e.g. a concurrent merge made this order "merged"
            raise IllegalTransition(
                f"工单状态“{STATUSES[self.status].zh}”不能作为合并目标 / "
                f"cannot merge into an order that is {STATUSES[self.status].en}",
                {"into": self.number, "status": self.status, "action": "merge"})
        self.call_ids = list(dict.fromkeys([*self.call_ids, *duplicate.call_ids]))
        self.updated_at = now
        self._record(HistoryEntry(now, actor, role, "merged-from", self.status, self.status, reason,
                                  {"number": duplicate.number, "call_ids": list(duplicate.call_ids)}))

    #: what a voice message's transcript may fill in on its draft
    TRANSCRIPT_FIELDS = ("type", "category", "district", "subdistrict", "address", "urgency", "summary",
                         "description", "department")

    def fill_from_transcript(self, fields: dict[str, Any], *, actor: str, role: str, now: datetime,
                             transcript_id: int | None = None) -> list[str]:
        """A voice message's draft (受理, not yet dispatched) takes the fields intake proposed from its
        transcript; the history entry marks it for a dispatcher's review.  Returns the fields changed."""
        if self.status != "registered":
            raise IllegalTransition(
                f"工单状态“{STATUSES[self.status].zh}”不能再按转写补全 / "
                f"cannot fill an order that is {STATUSES[self.status].en} from a transcript",
                {"number": self.number, "status": self.status, "action": "transcribed"})
        changed = []
        for name in self.TRANSCRIPT_FIELDS:
            if name in fields and fields[name] != getattr(self, name):
                setattr(self, name, fields[name])
                changed.append(name)
        self.updated_at = now
        self._record(HistoryEntry(now, actor, role, "transcribed", self.status, self.status,
                                  "语音留言已转写，待派单员审核 / voice message transcribed: for dispatcher review",
                                  {"fields": changed, "transcript_id": transcript_id}))
        return changed

    def _record(self, entry: HistoryEntry) -> None:
        self.history.append(entry)
        self.new_history.append(entry)

    # deadlines
    def _start(self, kinds, now, sla, events) -> None:
        for kind in kinds:
            self.deadlines[kind] = Deadline.start(kind, getattr(sla.targets, kind), now, sla)
            events.append(DomainEvent("deadline_started", self.number, now,
                                      {"kind": kind, "due_at": self.deadlines[kind].due_at.isoformat()}))

    def _meet(self, kinds, now, events) -> None:
        for kind in kinds:
            deadline = self.deadlines.pop(kind, None)
            if deadline is not None:
                late = deadline.due_at is not None and now > deadline.due_at
                events.append(DomainEvent("deadline_met", self.number, now, {"kind": kind, "late": late}))

    def _assign(self, params, now, sla, events) -> dict:
        if params.get("department"):
            self.department = params["department"]
        if not self.department:
            raise ValidationFailed("派单需要主办单位 / dispatch needs a lead department", {"department": "required"})
        co = list(dict.fromkeys(params.get("co_departments", [])))
        if self.department in co:
            raise ValidationFailed("协办单位不能与主办单位相同 / a co-handling department cannot be the lead",
                                   {"co_departments": self.department})
        self.co_departments = co
        self.co_parts = {d: {"state": "assigned", "at": now.isoformat()} for d in co}
        self.sub_unit = None
        self._meet(("acknowledge", "resolve", "callback"), now, [])
        self._start(("acknowledge", "resolve"), now, sla, events)
        return {"department": self.department, "co_departments": co}

    # handlers: one per action, named _on_<action>
    def _on_dispatch(self, params, now, sla, events):
        return self._assign(params, now, sla, events)

    def _on_resolve_on_call(self, params, now, sla, events):
        self.reply = params["reply"]
        self._meet(tuple(self.deadlines), now, events)

    def _on_acknowledge(self, params, now, sla, events):
        self._meet(("acknowledge",), now, events)

    def _on_start(self, params, now, sla, events):
        self._meet(("acknowledge",), now, events)

    def _on_return(self, params, now, sla, events):
        self.pending["return"] = {"reason_code": params["reason_code"], "reason": params["reason"],
                                  "department": self.department, "at": now.isoformat()}
        return {"reason_code": params["reason_code"], "department": self.department}

    def _on_review_return(self, params, now, sla, events):
        request = self.pending.pop("return", {})
        if params["approve"]:
            if not params.get("department"):
                raise ValidationFailed("改派需要新的主办单位 / approving a return needs the new department",
                                       {"department": "required"})
            if params["department"] == request.get("department"):
                raise ValidationFailed("改派单位不能是退单单位 / re-dispatch to a different department",
                                       {"department": params["department"]})
            return {"approved": True, **self._assign(params, now, sla, events)}
        return {"approved": False, "department": self.department}

    def _on_extend(self, params, now, sla, events):
        duration = parse_duration(params["duration"])
        self.pending["extension"] = {"duration": str(duration), "reason": params["reason"], "at": now.isoformat()}
        return {"duration": str(duration)}

    def _on_review_extension(self, params, now, sla, events):
        request = self.pending.pop("extension", None) or {}
        if params["approve"] and "resolve" in self.deadlines:
            duration = parse_duration(request["duration"])
            self.deadlines["resolve"] = self.deadlines["resolve"].extend(duration, sla.calendar)
            due = self.deadlines["resolve"].due_at
            events.append(DomainEvent("deadline_extended", self.number, now,
                                      {"kind": "resolve", "due_at": due.isoformat() if due else None}))
            return {"approved": True, "duration": request["duration"]}
        return {"approved": bool(params["approve"]), "duration": request.get("duration")}

    def _on_await_caller(self, params, now, sla, events):
        return None

    def _on_resume(self, params, now, sla, events):
        return None

    @property
    def co_pending(self) -> list[str]:
        """Co-handling departments that have neither answered nor been released (the lead cannot reply yet)."""
        return [d for d in self.co_departments if self.co_parts.get(d, {}).get("state") not in CO_DONE]

    def _co_part(self, department: str) -> dict[str, Any]:
        if department not in self.co_departments:
            raise ValidationFailed("该单位不是本工单的协办单位 / not a co-handling department of this order",
                                   {"department": department}, error_id="co_handling.not_co_department")
        return self.co_parts.setdefault(department, {"state": "assigned"})

    def _co_open(self, department: str, action: str) -> dict[str, Any]:
        part = self._co_part(department)
        if part["state"] in CO_DONE:
            raise IllegalTransition(f"协办部分已{'答复' if part['state'] == 'answered' else '解除'} / this co-handling "
                                    f"part is already {part['state']}",
                                    {"department": department, "state": part["state"], "action": action},
                                    error_id="co_handling.part_closed")
        return part

    def _on_co_acknowledge(self, params, now, sla, events):
        part = self._co_open(params["department"], "co-acknowledge")
        if part["state"] != "assigned":
            raise IllegalTransition("协办部分已签收 / this co-handling part is already acknowledged",
                                    {"department": params["department"], "state": part["state"]},
                                    error_id="co_handling.part_closed")
        part.update(state="acknowledged", at=now.isoformat())
        return {"department": params["department"]}

    def _on_co_reply(self, params, now, sla, events):
        part = self._co_open(params["department"], "co-reply")
        part.update(state="answered", reply=params["reply"], at=now.isoformat())
        events.append(DomainEvent("co_answered", self.number, now, {"department": params["department"]}))
        return {"department": params["department"]}

    def _on_release_co(self, params, now, sla, events):
        part = self._co_open(params["department"], "release-co")
        part.update(state="released", reason=params["reason"], at=now.isoformat())
        return {"department": params["department"]}

    def _on_sub_dispatch(self, params, now, sla, events):
        self.sub_unit = params["sub_unit"]
        return {"sub_unit": params["sub_unit"], "department": self.department}

    def _on_reply(self, params, now, sla, events):
        if self.co_pending:
            raise IllegalTransition("协办单位尚未全部答复 / co-handling departments have not all answered (or been "
                                    "released by the dispatcher)", {"pending": self.co_pending},
                                    error_id="co_handling.pending")
        self.reply = params["reply"]
        self._meet(("acknowledge", "resolve"), now, events)
        self._start(("callback",), now, sla, events)

    def _on_callback_result(self, params, now, sla, events):
        outcome = params["outcome"]
        if "satisfaction" in params:
            self.satisfaction = params["satisfaction"]
        if outcome != "unreachable":
            self._meet(tuple(self.deadlines), now, events)
        if outcome == "dissatisfied":
            self.reopen_count += 1
            events.append(DomainEvent("reopened", self.number, now, {"count": self.reopen_count}))
        return {"outcome": outcome, "satisfaction": params.get("satisfaction")}

    def _on_close(self, params, now, sla, events):
        self._meet(tuple(self.deadlines), now, events)

    def _on_reopen(self, params, now, sla, events):
        self._meet(tuple(self.deadlines), now, events)
        self.reopen_count += 1
        events.append(DomainEvent("reopened", self.number, now, {"count": self.reopen_count}))
        return {"count": self.reopen_count}

    def _on_remind(self, params, now, sla, events):
        self.reminders += 1
        events.append(DomainEvent("reminded", self.number, now, {"count": self.reminders}))
        return {"count": self.reminders}

    def _on_supervise(self, params, now, sla, events):
        self.supervised = True
        details = {}
        if params.get("respond_within"):  # 督办 asking the lead department for a written response by a deadline
            duration = parse_duration(params["respond_within"])
            due = duration.after(now, sla.calendar)
            self.pending["supervision"] = {"reason": params.get("reason"), "respond_within": str(duration),
                                           "due_at": due.isoformat(), "at": now.isoformat()}
            details = {"respond_within": str(duration), "due_at": due.isoformat()}
        events.append(DomainEvent("supervised", self.number, now, details))
        return details

    def _on_respond_supervision(self, params, now, sla, events):
        request = self.pending.get("supervision")
        if not request or request.get("response"):
            raise IllegalTransition("没有待答复的督办 / no supervision is awaiting a response",
                                    {"number": self.number}, error_id="supervision.no_request")
        late = now > datetime.fromisoformat(request["due_at"])
        request.update(response=params["response"], answered_at=now.isoformat(), late=late)
        return {"late": late}

    def _on_merge(self, params, now, sla, events):
        if params["into"] == self.number:
            raise ValidationFailed("不能合并到自身 / cannot merge an order into itself", {"into": params["into"]})
        self.merged_into = params["into"]
        self._meet(tuple(self.deadlines), now, events)
        return {"into": params["into"]}

    def _on_cancel(self, params, now, sla, events):
        self._meet(tuple(self.deadlines), now, events)
