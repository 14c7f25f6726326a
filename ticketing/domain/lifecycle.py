"""The work-order lifecycle as data: statuses and the transition table.

Statuses carry their kind (open/closed) and whether the SLA clock is paused
while an order sits in them; transitions are rows (action, outcome) → sources,
target.  Code never asks "if status == ..." to decide legality: it looks here.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Status:
    code: str
    zh: str
    en: str
    kind: str  # "open" | "closed"
    sla_paused: bool = False

    @property
    def is_open(self) -> bool:
        return self.kind == "open"


STATUSES: dict[str, Status] = {
    s.code: s
    for s in (
        Status("registered", "已受理", "registered", "open"),
        Status("resolved_on_call", "直接办结", "resolved on the call", "closed"),
        Status("dispatched", "已派单", "dispatched", "open"),
        Status("acknowledged", "已签收", "acknowledged", "open"),
        Status("return_requested", "退单待审", "returned, awaiting review", "open", sla_paused=True),
        Status("in_progress", "办理中", "in progress", "open"),
        Status("extension_requested", "延期待审", "extension requested", "open"),
        Status("awaiting_caller", "待来电人补充", "awaiting the caller", "open", sla_paused=True),
        Status("replied", "已回复", "replied", "open"),
        Status("callback_pending", "待回访", "callback pending", "open"),
        Status("closed", "已办结", "closed", "closed"),
        Status("reopened", "重办", "reopened", "open"),
        Status("merged", "已合并", "merged", "closed"),
        Status("cancelled", "已撤单", "cancelled", "closed"),
    )
}

OPEN = frozenset(code for code, s in STATUSES.items() if s.is_open)
IN_DEPARTMENT = frozenset(
    {"dispatched", "acknowledged", "in_progress", "extension_requested", "awaiting_caller", "return_requested"}
)

# Where co-handling departments work on their parts (the lead has the order).
CO_HANDLING = frozenset({"dispatched", "acknowledged", "in_progress", "extension_requested", "awaiting_caller"})

# A co-handler's part: assigned → acknowledged → answered, or released by the dispatcher.
CO_STATES: dict[str, tuple[str, str]] = {
    "assigned": ("待签收", "awaiting acknowledgement"),
    "acknowledged": ("已签收", "acknowledged"),
    "answered": ("已答复", "answered"),
    "released": ("已解除", "released"),
}
CO_DONE = frozenset({"answered", "released"})


@dataclass(frozen=True)
class Transition:
    action: str
    outcome: str | None
    sources: frozenset[str]
    target: str | None  # None: the status stays (a flag-only action)
    zh: str
    en: str


def _t(action, outcome, sources, target, zh, en) -> Transition:
    return Transition(action, outcome, frozenset(sources), target, zh, en)


TRANSITIONS: tuple[Transition, ...] = (
    _t("dispatch", None, {"registered", "reopened"}, "dispatched", "派单", "dispatch"),
    _t("resolve-on-call", None, {"registered"}, "resolved_on_call", "直接办结", "resolve on the call"),
    _t("acknowledge", None, {"dispatched"}, "acknowledged", "签收", "acknowledge"),
    _t("start", None, {"acknowledged"}, "in_progress", "开始办理", "start work"),
    _t("return", None, {"dispatched", "acknowledged"}, "return_requested", "退单", "return"),
    _t("review-return", "approve", {"return_requested"}, "dispatched", "退单审核通过(改派)", "return approved, re-dispatched"),
    _t("review-return", "reject", {"return_requested"}, "dispatched", "退单驳回", "return rejected"),
    _t("extend", None, {"acknowledged", "in_progress"}, "extension_requested", "申请延期", "request extension"),
    _t("review-extension", "approve", {"extension_requested"}, "in_progress", "延期批准", "extension approved"),
    _t("review-extension", "deny", {"extension_requested"}, "in_progress", "延期驳回", "extension denied"),
    _t("await-caller", None, {"acknowledged", "in_progress"}, "awaiting_caller", "等待来电人补充", "await the caller"),
    _t("resume", None, {"awaiting_caller"}, "in_progress", "恢复办理", "resume"),
    _t("reply", None, {"acknowledged", "in_progress"}, "replied", "回复", "reply"),
    _t("callback-result", "satisfied", {"replied", "callback_pending"}, "closed", "回访满意", "callback: satisfied"),
    _t("callback-result", "dissatisfied", {"replied", "callback_pending"}, "reopened", "回访不满意(重办)", "callback: dissatisfied"),
    _t("callback-result", "unreachable", {"replied", "callback_pending"}, "callback_pending", "回访未接通", "callback: unreachable"),
    _t("close", None, {"replied", "callback_pending"}, "closed", "办结", "close"),
    _t("reopen", None, {"replied", "callback_pending", "closed"}, "reopened", "重办", "reopen"),
    _t("remind", None, IN_DEPARTMENT | {"reopened"}, None, "催办", "remind"),
    _t("supervise", None, OPEN, None, "督办", "supervise"),
    _t("respond-supervision", None, OPEN, None, "督办答复", "respond to supervision"),
    _t("merge", None, {"registered", "dispatched", "acknowledged", "in_progress", "return_requested", "reopened"},
       "merged", "合并", "merge"),
    _t("cancel", None, {"registered", "dispatched", "return_requested", "reopened"}, "cancelled", "撤单", "cancel"),
    # 协办: each co-handling department acknowledges and answers its part while the lead works;
    # the dispatcher may release one from it.  None of these moves the order.
    _t("co-acknowledge", None, CO_HANDLING, None, "协办签收", "co-handler acknowledges"),
    _t("co-reply", None, CO_HANDLING, None, "协办答复", "co-handler replies its part"),
    _t("release-co", None, CO_HANDLING | {"return_requested"}, None, "解除协办", "release a co-handler"),
    # 二级派单: a two-level department hands the order to one of its sub-units (街道 / 社区).
    _t("sub-dispatch", None, {"dispatched", "acknowledged", "in_progress"}, None, "二级派单", "hand to a sub-unit"),
)

TRANSITION_TABLE: dict[tuple[str, str | None], Transition] = {(t.action, t.outcome): t for t in TRANSITIONS}
ACTIONS: frozenset[str] = frozenset(t.action for t in TRANSITIONS)

# Actions whose target depends on a parameter: the parameter and its mapping.
OUTCOME_PARAMS: dict[str, tuple[str, object]] = {
    "review-return": ("approve", {True: "approve", False: "reject"}),
    "review-extension": ("approve", {True: "approve", False: "deny"}),
    "callback-result": ("outcome", {"satisfied": "satisfied", "dissatisfied": "dissatisfied", "unreachable": "unreachable"}),
}

RETURN_REASONS: dict[str, tuple[str, str]] = {
    "not_our_duty": ("非本单位职责", "not this department's duty"),
    "wrong_district": ("不属本辖区", "outside this department's district"),
    "insufficient_info": ("信息不全无法办理", "information insufficient"),
    "duplicate": ("重复工单", "duplicate order"),
    "other": ("其他", "other"),
}
