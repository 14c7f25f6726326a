"""The lifecycle table: every legal transition works, every other pair raises,
SLA deadlines start, pause, extend and are met with an explicit ``now``."""
from __future__ import annotations

from datetime import timedelta

import pytest

from ticketing.domain.errors import IllegalTransition, ValidationFailed
from ticketing.domain.lifecycle import STATUSES, TRANSITIONS, TRANSITION_TABLE
from ticketing.domain.workorder import WorkOrder
from tests.ticketing.helpers import CALENDAR, CST, cst, sla_for

NOW = cst(2026, 11, 23, 10, 0)  # a Monday

SAMPLE_PARAMS = {
    "dispatch": {"department": "urban-management"},
    "resolve-on-call": {"reply": "已当场解答 / answered on the call"},
    "acknowledge": {}, "start": {},
    "return": {"reason_code": "not_our_duty", "reason": "属交通局职责"},
    "extend": {"duration": "3 working days", "reason": "需协调"},
    "await-caller": {"reason": "需来电人补充材料"}, "resume": {},
    "reply": {"reply": "已处理 / handled"},
    "close": {}, "reopen": {"reason": "市民不满意"}, "remind": {}, "supervise": {"reason": "领导督办"},
    "merge": {"into": "2026112399999"}, "cancel": {"reason": "来电人撤回"},
    "co-acknowledge": {"department": "transport"}, "co-reply": {"department": "transport", "reply": "已配合处理"},
    "release-co": {"department": "transport", "reason": "无需协办"}, "sub-dispatch": {"sub_unit": "yuehu"},
    "respond-supervision": {"response": "已于当日整改完毕"},
}
CO_ACTIONS = ("co-acknowledge", "co-reply", "release-co")


def params_for(t) -> dict:
    if t.action == "review-return":
        return {"approve": t.outcome == "approve", "department": "transport"}
    if t.action == "review-extension":
        return {"approve": t.outcome == "approve"}
    if t.action == "callback-result":
        return {"outcome": t.outcome, "satisfaction": 5 if t.outcome == "satisfied" else 2}
    return dict(SAMPLE_PARAMS[t.action])


def order_in(status: str) -> WorkOrder:
    """An order placed in ``status`` with the deadlines that status would have."""
    order = WorkOrder.register(actor="a1", role="agent", now=NOW, number="2026112300001", type="complaint",
                               category="street-vending", district="haishu", summary="占道经营",
                               department="urban-management")
    if status != "registered":
        order.perform("dispatch", {"department": "urban-management"}, actor="d1", role="dispatcher", now=NOW,
                      sla=sla_for())
    order.status = status
    if status == "return_requested":
        order.pending["return"] = {"department": "urban-management", "reason_code": "other", "reason": "x"}
        order.deadlines = {k: d.pause(NOW, CALENDAR) for k, d in order.deadlines.items()}
    if status == "extension_requested":
        order.pending["extension"] = {"duration": "3 working days", "reason": "x"}
    order.new_history.clear()
    return order


LEGAL = [(t, s) for t in TRANSITIONS for s in sorted(t.sources)]
ILLEGAL = sorted({(t.action, t.outcome, s) for t in TRANSITIONS for s in STATUSES if s not in t.sources},
                 key=lambda x: (x[0], str(x[1]), x[2]))


@pytest.mark.parametrize("transition,source", LEGAL, ids=[f"{t.action}:{t.outcome}:{s}" for t, s in LEGAL])
def test_every_legal_transition(transition, source):
    """Each (action, source) row of the table reaches its target and appends one audit entry."""
    order = order_in(source)
    if transition.action in CO_ACTIONS:  # a co-handler whose part is still open
        order.co_departments, order.co_parts = ["transport"], {"transport": {"state": "assigned"}}
    if transition.action == "respond-supervision":  # a 督办 awaiting its response
        order.pending["supervision"] = {"due_at": (NOW + timedelta(days=1)).isoformat()}
    events = order.perform(transition.action, params_for(transition), actor="u9", role="supervisor",
                           now=NOW + timedelta(hours=1), sla=sla_for())
    assert order.status == (transition.target or source)
    [entry] = order.new_history
    assert (entry.actor, entry.action, entry.from_status, entry.to_status) == (
        "u9", transition.action, source, order.status)
    assert entry.at == NOW + timedelta(hours=1)
    if transition.target and transition.target != source:
        assert any(e.name == "status_changed" for e in events)


@pytest.mark.parametrize("action,outcome,source", ILLEGAL, ids=[f"{a}:{o}:{s}" for a, o, s in ILLEGAL])
def test_every_illegal_transition_raises_and_changes_nothing(action, outcome, source):
    """Any action from a status outside its sources raises IllegalTransition; the order is untouched."""
    order = order_in(source)
    before = dict(vars(order))
    t = TRANSITION_TABLE[(action, outcome)]
    with pytest.raises(IllegalTransition) as info:
        order.perform(action, params_for(t), actor="u9", role="admin", now=NOW, sla=sla_for())
    assert info.value.error_id == "workorder.illegal_transition"
    assert info.value.details["status"] == source
    assert vars(order) == before


def test_unknown_action_and_bad_params():
    """Unknown actions, unknown/missing/mistyped params are ValidationFailed with field details."""
    order = order_in("dispatched")
    with pytest.raises(ValidationFailed) as info:
        order.perform("teleport", {}, actor="u", role="admin", now=NOW, sla=sla_for())
    assert info.value.error_id == "workorder.unknown_action"
    with pytest.raises(ValidationFailed) as info:
        order.perform("return", {"reason_code": "bored", "colour": "red"}, actor="u", role="admin", now=NOW,
                      sla=sla_for())
    assert set(info.value.details) == {"reason_code", "reason", "colour"}
    with pytest.raises(ValidationFailed):
        order.perform("return", {"reason_code": "other", "reason": "x" * 2001}, actor="u", role="admin", now=NOW,
                      sla=sla_for())
    assert order.status == "dispatched" and not order.new_history


def test_failing_handler_rolls_back():
    """Approving a return without a new department fails and leaves the pending request intact."""
    order = order_in("return_requested")
    before = dict(vars(order), pending=dict(order.pending))
    with pytest.raises(ValidationFailed):
        order.perform("review-return", {"approve": True}, actor="d", role="dispatcher", now=NOW, sla=sla_for())
    assert order.pending == before["pending"] and order.status == "return_requested"


def test_dispatch_starts_acknowledge_and_resolve_deadlines():
    """Dispatch on Monday 10:00: acknowledge in 4 working hours (15:30 after lunch), resolve in 5 working days."""
    order = order_in("registered")
    order.perform("dispatch", {"department": "urban-management"}, actor="d", role="dispatcher", now=NOW,
                  sla=sla_for())
    ack, res = order.deadlines["acknowledge"], order.deadlines["resolve"]
    assert ack.due_at.astimezone(CST) == cst(2026, 11, 23, 15, 30)
    assert ack.warn_at.astimezone(CST) == cst(2026, 11, 23, 14, 30)  # 3 of the 4 hours
    assert res.due_at.astimezone(CST) == cst(2026, 11, 30, 10, 0)
    assert order.next_deadline is ack
    assert order.sla_level(cst(2026, 11, 23, 14, 0)) == "green"
    assert order.sla_level(cst(2026, 11, 23, 14, 31)) == "yellow"
    assert order.sla_level(cst(2026, 11, 23, 15, 31)) == "red"


def test_warning_share_is_configurable():
    """With a 50 % share the 4-hour acknowledge warning comes after 2 working hours."""
    order = order_in("registered")
    order.perform("dispatch", {}, actor="d", role="dispatcher", now=NOW, sla=sla_for(share=0.5))
    assert order.deadlines["acknowledge"].warn_at.astimezone(CST) == cst(2026, 11, 23, 12, 0)


def test_urgent_wall_clock_targets():
    """An urgent gas leak is due in 2 wall-clock hours even at night."""
    order = order_in("registered")
    order.category, order.urgency = "gas-leak", "urgent"
    night = cst(2026, 11, 28, 23, 0)  # Saturday night
    order.perform("dispatch", {"department": "gas"}, actor="d", role="dispatcher", now=night,
                  sla=sla_for("gas-leak", "urgent"))
    assert order.deadlines["resolve"].due_at == night + timedelta(hours=2)
    assert order.deadlines["acknowledge"].due_at == night + timedelta(minutes=15)


def test_return_pauses_and_review_resumes_the_clock():
    """Time spent awaiting the dispatcher's review of a return is not charged to the department."""
    order = order_in("registered")
    order.perform("dispatch", {}, actor="d", role="dispatcher", now=NOW, sla=sla_for())
    order.perform("acknowledge", {}, actor="h", role="department", now=NOW + timedelta(hours=1), sla=sla_for())
    due_before = order.deadlines["resolve"].due_at
    order.perform("return", {"reason_code": "wrong_district", "reason": "不属本辖区"}, actor="h", role="department",
                  now=cst(2026, 11, 23, 14, 0), sla=sla_for())
    assert order.deadlines["resolve"].paused and order.sla_level(NOW) == "paused"
    # reviewed one working day (7 h) later: the deadline moves by exactly that
    order.perform("review-return", {"approve": False}, actor="d", role="dispatcher", now=cst(2026, 11, 24, 14, 0),
                  sla=sla_for())
    assert order.status == "dispatched"
    assert order.deadlines["resolve"].due_at == CALENDAR.add_working_time(due_before, timedelta(hours=7))


def test_awaiting_caller_pauses():
    """Waiting for the caller's documents stops the resolve clock until resumed."""
    order = order_in("registered")
    order.perform("dispatch", {}, actor="d", role="dispatcher", now=NOW, sla=sla_for())
    order.perform("acknowledge", {}, actor="h", role="department", now=NOW, sla=sla_for())
    due = order.deadlines["resolve"].due_at
    order.perform("await-caller", {"reason": "等材料"}, actor="h", role="department", now=NOW, sla=sla_for())
    order.perform("resume", {}, actor="h", role="department", now=NOW + timedelta(days=7), sla=sla_for())
    assert order.deadlines["resolve"].due_at == due + timedelta(days=7)  # same weekday and hour, one week later


def test_approved_extension_moves_the_deadline_denied_does_not():
    """Extension: approval adds the requested working time to the resolve deadline; denial changes nothing."""
    for approve, expected_shift in ((True, timedelta(days=7)), (False, timedelta(0))):
        order = order_in("registered")
        order.perform("dispatch", {}, actor="d", role="dispatcher", now=NOW, sla=sla_for())
        order.perform("acknowledge", {}, actor="h", role="department", now=NOW, sla=sla_for())
        order.perform("start", {}, actor="h", role="department", now=NOW, sla=sla_for())
        due = order.deadlines["resolve"].due_at
        order.perform("extend", {"duration": "5 working days", "reason": "需协调"}, actor="h", role="department",
                      now=NOW, sla=sla_for())
        order.perform("review-extension", {"approve": approve}, actor="d", role="dispatcher", now=NOW, sla=sla_for())
        assert order.status == "in_progress" and "extension" not in order.pending
        assert order.deadlines["resolve"].due_at == due + expected_shift
        assert order.deadlines["resolve"].extended == int(approve)


def test_full_path_reply_callback_reopen_close():
    """Reply meets resolve and starts the callback clock; dissatisfied reopens (counted); satisfied closes."""
    order = order_in("registered")
    sla = sla_for()
    order.perform("dispatch", {"co_departments": ["transport"]}, actor="d", role="dispatcher", now=NOW, sla=sla)
    assert order.co_departments == ["transport"]
    order.perform("acknowledge", {}, actor="h", role="department", now=NOW, sla=sla)
    order.perform("co-reply", {"department": "transport", "reply": "已配合"}, actor="t", role="department",
                  now=NOW, sla=sla)  # the lead replies once its co-handler has answered
    order.perform("reply", {"reply": "已清理"}, actor="h", role="department", now=NOW, sla=sla)
    assert set(order.deadlines) == {"callback"}
    order.perform("callback-result", {"outcome": "dissatisfied", "satisfaction": 1}, actor="a", role="agent",
                  now=NOW, sla=sla)
    assert order.status == "reopened" and order.reopen_count == 1 and not order.deadlines
    order.perform("remind", {}, actor="a", role="agent", now=NOW, sla=sla)
    order.perform("dispatch", {}, actor="d", role="dispatcher", now=NOW, sla=sla)
    order.perform("acknowledge", {}, actor="h", role="department", now=NOW, sla=sla)
    order.perform("reply", {"reply": "已再次处理"}, actor="h", role="department", now=NOW, sla=sla)
    order.perform("callback-result", {"outcome": "unreachable"}, actor="a", role="agent", now=NOW, sla=sla)
    assert order.status == "callback_pending"
    order.perform("callback-result", {"outcome": "satisfied", "satisfaction": 5}, actor="a", role="agent",
                  now=NOW, sla=sla)
    assert order.status == "closed" and order.satisfaction == 5 and order.reminders == 1
    assert [h.action for h in order.history][:3] == ["create", "dispatch", "acknowledge"]


def test_merge_into_itself_is_refused():
    """An order cannot be merged into itself."""
    order = order_in("dispatched")
    with pytest.raises(ValidationFailed):
        order.perform("merge", {"into": order.number}, actor="d", role="dispatcher", now=NOW, sla=sla_for())
    assert order.status == "dispatched"
