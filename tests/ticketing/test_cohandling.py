"""协办 co-handling and 二级派单 two-level dispatch, through the service on both databases: co-handlers
acknowledge and answer their own part, the lead cannot reply until each has answered or been released,
the citizen's reply carries the parts; refusals carry error ids and change nothing."""
from __future__ import annotations

from datetime import datetime

import pytest

from callcenter.db import make_engine
from ticketing.domain.errors import Forbidden, IllegalTransition, ValidationFailed
from ticketing.service import Actor, WorkOrderService
from tests.ticketing.helpers import CALENDAR, TAXONOMY, cst, fields

NOW = cst(2026, 11, 23, 10, 0)
AGENT = Actor("agent-1", "agent")
DISPATCHER = Actor("disp-1", "dispatcher")
URBAN = Actor("um-1", "department", "urban-management")      # the lead of street-vending
TRANSPORT = Actor("tr-1", "department", "transport")           # co-handler
MARKET = Actor("mr-1", "department", "market-regulation")      # co-handler
SUBDISTRICT = Actor("sd-1", "department", "subdistrict-office")


@pytest.fixture
def service(db_url):
    engine = make_engine(db_url)
    yield WorkOrderService(engine, TAXONOMY, CALENDAR)
    engine.dispose()


def dispatched(service, **extra) -> str:
    number = service.create(fields(), AGENT, NOW)["number"]
    service.perform(number, "dispatch", {"co_departments": ["transport", "market-regulation"], **extra},
                    DISPATCHER, NOW)
    return number


def unchanged(service, number, action):
    before = service.get(number, DISPATCHER, now=NOW)
    history = service.history(number, DISPATCHER)
    return lambda: (service.get(number, DISPATCHER, now=NOW) == before
                    and service.history(number, DISPATCHER) == history) or action


def test_lead_reply_waits_for_every_co_handler_then_carries_their_parts(service):
    number = dispatched(service)
    service.perform(number, "acknowledge", {}, URBAN, NOW)
    same = unchanged(service, number, "reply")
    with pytest.raises(IllegalTransition) as refused:
        service.perform(number, "reply", {"reply": "已处理"}, URBAN, NOW)
    assert refused.value.error_id == "co_handling.pending"
    assert refused.value.details["pending"] == ["transport", "market-regulation"]
    assert same() is True

    view = service.perform(number, "co-acknowledge", {}, TRANSPORT, NOW)
    assert [p["state"] for p in view["co_parts"]] == ["acknowledged", "assigned"]
    service.perform(number, "co-reply", {"reply": "已在路口增设禁停标志"}, TRANSPORT, NOW)
    service.perform(number, "release-co", {"department": "market-regulation", "reason": "无证照问题，无需协办"},
                    DISPATCHER, NOW)
    view = service.perform(number, "reply", {"reply": "已清理占道摊位"}, URBAN, NOW)
    assert view["status"] == "replied" and view["co_pending"] == []
    assert view["lead_reply"] == "已清理占道摊位"
    assert view["reply"] == "已清理占道摊位\n【协办·交通运输局】已在路口增设禁停标志"
    actions = [h["action"] for h in service.history(number, DISPATCHER)]
    assert actions[-4:] == ["co-acknowledge", "co-reply", "release-co", "reply"]


def test_co_handlers_act_only_on_their_own_part(service):
    number = dispatched(service)
    as_transport = service.get(number, TRANSPORT, now=NOW)
    assert "co-acknowledge" in as_transport["allowed_actions"] and "reply" not in as_transport["allowed_actions"]
    assert "co-reply" not in service.get(number, URBAN, now=NOW)["allowed_actions"]
    same = unchanged(service, number, "co")
    with pytest.raises(Forbidden):  # another department's part
        service.perform(number, "co-reply", {"department": "market-regulation", "reply": "x"}, TRANSPORT, NOW)
    with pytest.raises(Forbidden):  # the lead's actions are the lead's
        service.perform(number, "acknowledge", {}, TRANSPORT, NOW)
    with pytest.raises(ValidationFailed) as not_co:  # the lead is no co-handler
        service.perform(number, "co-reply", {"reply": "x"}, URBAN, NOW)
    assert not_co.value.error_id == "co_handling.not_co_department"
    with pytest.raises(ValidationFailed) as empty:
        service.perform(number, "co-reply", {"reply": "  "}, TRANSPORT, NOW)
    assert empty.value.details == {"reply": "must not be empty"}
    with pytest.raises(Forbidden):  # a department cannot release anyone
        service.perform(number, "release-co", {"department": "transport", "reason": "x"}, URBAN, NOW)
    assert same() is True
    service.perform(number, "co-reply", {"reply": "已答复"}, TRANSPORT, NOW)
    with pytest.raises(IllegalTransition) as closed:
        service.perform(number, "co-reply", {"reply": "再答一次"}, TRANSPORT, NOW)
    assert closed.value.error_id == "co_handling.part_closed"
    with pytest.raises(IllegalTransition):
        service.perform(number, "release-co", {"department": "transport", "reason": "x"}, DISPATCHER, NOW)


def test_redispatch_starts_fresh_co_parts(service):
    number = dispatched(service)
    service.perform(number, "co-reply", {"reply": "已答复"}, TRANSPORT, NOW)
    service.perform(number, "return", {"reason_code": "not_our_duty", "reason": "非本局职责"}, URBAN, NOW)
    view = service.perform(number, "review-return", {"approve": True, "department": "market-regulation",
                                                     "co_departments": ["transport"]}, DISPATCHER, NOW)
    assert [(p["department"], p["state"]) for p in view["co_parts"]] == [("transport", "assigned")]


def test_two_level_dispatch_hands_to_a_subdistrict_of_the_orders_district(service):
    number = service.create(fields(category="garbage-collection"), AGENT, NOW)["number"]  # haishu → subdistrict-office
    service.perform(number, "dispatch", {}, DISPATCHER, NOW)
    view = service.get(number, SUBDISTRICT, now=NOW)
    assert view["department"] == "subdistrict-office" and view["two_level"] is True
    assert "sub-dispatch" in view["allowed_actions"]
    same = unchanged(service, number, "sub-dispatch")
    with pytest.raises(ValidationFailed) as elsewhere:
        service.perform(number, "sub-dispatch", {"sub_unit": "zhongma"}, SUBDISTRICT, NOW)  # a Jiangbei subdistrict
    assert elsewhere.value.error_id == "sub_dispatch.unknown_sub_unit"
    assert same() is True
    view = service.perform(number, "sub-dispatch", {"sub_unit": "yuehu"}, SUBDISTRICT, NOW)
    assert view["sub_unit"] == "yuehu" and view["sub_unit_name"]["zh"] == "月湖街道"
    one_level = dispatched(service)
    assert "sub-dispatch" not in service.get(one_level, DISPATCHER, now=NOW)["allowed_actions"]
    with pytest.raises(ValidationFailed) as flat:
        service.perform(one_level, "sub-dispatch", {"sub_unit": "yuehu"}, DISPATCHER, NOW)
    assert flat.value.error_id == "sub_dispatch.not_two_level"


def test_supervision_with_a_response_deadline_waits_for_the_leads_answer(service):
    number = dispatched(service)
    view = service.perform(number, "supervise", {"reason": "群众反映强烈", "respond_within": "1 working day"},
                           DISPATCHER, NOW)
    request = view["pending"]["supervision"]
    assert view["supervised"] is True
    assert datetime.fromisoformat(request["due_at"]) == cst(2026, 11, 24, 10, 0)
    assert "respond-supervision" in service.get(number, URBAN, now=NOW)["allowed_actions"]
    same = unchanged(service, number, "respond")
    with pytest.raises(Forbidden):  # a co-handler does not answer for the lead
        service.perform(number, "respond-supervision", {"response": "x"}, TRANSPORT, NOW)
    with pytest.raises(ValidationFailed):
        service.perform(number, "supervise", {"respond_within": "soon"}, DISPATCHER, NOW)
    assert same() is True
    later = cst(2026, 11, 24, 11, 0)
    view = service.perform(number, "respond-supervision", {"response": "已增派执法力量"}, URBAN, later)
    assert view["pending"]["supervision"]["response"] == "已增派执法力量"
    assert view["pending"]["supervision"]["late"] is True
    with pytest.raises(IllegalTransition) as again:
        service.perform(number, "respond-supervision", {"response": "再答"}, URBAN, later)
    assert again.value.error_id == "supervision.no_request"
