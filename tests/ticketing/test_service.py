"""The service facade on both databases: round-trips, permissions, scoping,
masking, bad input that stores nothing, idempotency, batched intake."""
from __future__ import annotations

import threading
from datetime import timedelta, timezone

import pytest
from sqlalchemy import func, select

from callcenter.db import make_engine
from ticketing.domain.errors import (
    DomainError, DuplicateSubmission, Forbidden, IllegalTransition, NotFound, UnknownDepartment, ValidationFailed,
)
from ticketing.persistence.tables import idempotency_keys, sla_timers, work_order_history, work_orders
from callcenter.personal_data import mask_phone
from ticketing.service import Actor, WorkOrderService
from tests.ticketing.helpers import CALENDAR, TAXONOMY, cst, fields

NOW = cst(2026, 11, 23, 10, 0)
AGENT = Actor("agent-1", "agent")
DISPATCHER = Actor("disp-1", "dispatcher")
SUPERVISOR = Actor("sup-1", "supervisor")
URBAN = Actor("um-1", "department", "urban-management")
TRANSPORT = Actor("tr-1", "department", "transport")


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def service(engine):
    return WorkOrderService(engine, TAXONOMY, CALENDAR)


def counts(engine) -> tuple[int, int, int, int]:
    with engine.connect() as conn:
        return tuple(conn.execute(select(func.count()).select_from(t)).scalar_one()
                     for t in (work_orders, work_order_history, sla_timers, idempotency_keys))


def test_create_get_roundtrip(service):
    """Every field survives the database; the number is date + daily sequence; routing fills the department."""
    a = service.create(fields(call_ids=["1700000000.1"]), AGENT, NOW)
    b = service.create(fields(summary="第二单"), AGENT, NOW)
    assert a["number"] == "2026112300001" and b["number"] == "2026112300002"
    got = service.get(a["number"], AGENT, now=NOW)
    for key in ("type", "category", "district", "subdistrict", "address", "summary", "description",
                "caller_name", "caller_phone", "call_ids", "channel", "urgency"):
        assert got[key] == a[key]
    assert got["department"] == "urban-management" and got["status"] == "registered"
    assert got["category_name"]["zh"] == "占道经营" and got["district_name"]["en"] == "Haishu District"
    assert got["caller_phone"] == "13812341234"
    assert service.history(a["number"], AGENT)[0]["action"] == "create"


def test_numbers_follow_the_local_day(service):
    """At 23:30 UTC it is already the next day in Ningbo: the number uses the local date."""
    late = cst(2026, 11, 24, 7, 30)  # 23:30 UTC on the 23rd
    assert late.astimezone(timezone.utc).day == 23
    assert service.create(fields(), AGENT, late)["number"].startswith("20261124")


def test_full_lifecycle_and_history(service, engine):
    """Dispatch → acknowledge → reply → satisfied callback, with history and timers kept in step."""
    n = service.create(fields(), AGENT, NOW)["number"]
    o = service.perform(n, "dispatch", {}, DISPATCHER, NOW)
    assert o["status"] == "dispatched" and o["deadlines"]["acknowledge"]["due_at"]
    assert counts(engine)[2] == 4  # ack + resolve, warning + breach each
    o = service.perform(n, "acknowledge", {"note": "收到"}, URBAN, NOW + timedelta(minutes=30))
    assert set(o["deadlines"]) == {"resolve"} and counts(engine)[2] == 2
    o = service.perform(n, "reply", {"reply": "已劝离 / vendors moved on"}, URBAN, NOW + timedelta(hours=2))
    assert o["status"] == "replied" and set(o["deadlines"]) == {"callback"}
    o = service.perform(n, "callback-result", {"outcome": "satisfied", "satisfaction": 5}, AGENT,
                        NOW + timedelta(hours=3))
    assert o["status"] == "closed" and o["status_kind"] == "closed" and counts(engine)[2] == 0
    history = service.history(n, SUPERVISOR)
    assert [h["action"] for h in history] == ["create", "dispatch", "acknowledge", "reply", "callback-result"]
    assert history[2]["actor"] == "um-1" and history[2]["reason"] == "收到"
    assert history[1]["from"] == "registered" and history[1]["to"] == "dispatched"


def test_return_review_and_redispatch(service):
    """A department returns a misrouted order; the dispatcher approves and re-dispatches it elsewhere."""
    n = service.create(fields(), AGENT, NOW)["number"]
    service.perform(n, "dispatch", {}, DISPATCHER, NOW)
    o = service.perform(n, "return", {"reason_code": "not_our_duty", "reason": "属交通"}, URBAN, NOW)
    assert o["status"] == "return_requested" and o["sla_paused"]
    with pytest.raises(UnknownDepartment):
        service.perform(n, "review-return", {"approve": True, "department": "nasa"}, DISPATCHER, NOW)
    o = service.perform(n, "review-return", {"approve": True, "department": "transport"}, DISPATCHER, NOW)
    assert o["department"] == "transport" and o["status"] == "dispatched"
    with pytest.raises(NotFound):  # no longer urban management's order
        service.get(n, URBAN)
    assert service.get(n, TRANSPORT)["number"] == n


def test_permissions_are_enforced(service):
    """Roles outside the table get Forbidden; nothing changes."""
    n = service.create(fields(), AGENT, NOW)["number"]
    with pytest.raises(Forbidden):
        service.perform(n, "dispatch", {}, AGENT, NOW)
    with pytest.raises(Forbidden):
        service.perform(n, "supervise", {}, AGENT, NOW)
    with pytest.raises(Forbidden):
        service.create(fields(), URBAN, NOW)
    with pytest.raises(Forbidden):
        service.get(n, Actor("x", "janitor"))
    with pytest.raises(Forbidden):
        service.get(n, Actor("x", "department", None))
    assert service.get(n, AGENT)["status"] == "registered"
    assert service.get(n, AGENT)["allowed_actions"] == ["resolve-on-call"]
    assert service.get(n, DISPATCHER)["allowed_actions"] == ["cancel", "dispatch", "merge", "resolve-on-call", "supervise"]


def test_department_scope_and_masking(service):
    """Departments see only their orders (others are not found) and see the phone masked."""
    mine = service.create(fields(), AGENT, NOW)["number"]
    theirs = service.create(fields(category="road-damage"), AGENT, NOW)["number"]
    service.perform(mine, "dispatch", {"co_departments": ["housing"]}, DISPATCHER, NOW)
    service.perform(theirs, "dispatch", {}, DISPATCHER, NOW)
    o = service.get(mine, URBAN)
    assert o["caller_phone"] == "138****1234" and "acknowledge" in o["allowed_actions"]
    with pytest.raises(NotFound):
        service.get(theirs, URBAN)
    with pytest.raises(NotFound):
        service.history(theirs, URBAN)
    with pytest.raises(NotFound):
        service.perform(theirs, "acknowledge", {}, URBAN, NOW)
    page = service.list(URBAN)
    assert [i["number"] for i in page["items"]] == [mine] and page["total"] == 1
    # the co-handling department sees it but may not act as the lead, only on its own part
    housing = Actor("hs-1", "department", "housing")
    assert service.list(housing)["total"] == 1
    assert service.get(mine, housing)["allowed_actions"] == ["co-acknowledge", "co-reply"]
    with pytest.raises(Forbidden):
        service.perform(mine, "acknowledge", {}, housing, NOW)
    assert service.list(DISPATCHER)["total"] == 2
    assert service.list(DISPATCHER, department="transport")["items"][0]["number"] == theirs
    assert service.list(DISPATCHER, status="registered")["total"] == 0
    assert mask_phone("13812341234") == "138****1234" and mask_phone("+86 138-1234-1234") == "138****1234"


def test_list_search_and_paging(service):
    """q searches summary/description/address/number literally (% and _ are not wildcards)."""
    service.create_many([fields(summary=f"井盖缺失 {i}", category="road-damage") for i in range(5)]
                        + [fields(summary="100% 噪声_扰民")], DISPATCHER, NOW)
    assert service.list(AGENT, q="井盖")["total"] == 5
    assert service.list(AGENT, q="100%")["total"] == 1
    assert service.list(AGENT, q="%")["total"] == 1
    assert service.list(AGENT, q="_")["total"] == 1
    page = service.list(AGENT, limit=2, offset=2)
    assert len(page["items"]) == 2 and page["total"] == 6
    for bad in ({"limit": 0}, {"limit": 10_000}, {"offset": -1}, {"status": "lost"}, {"department": "x"},
                {"q": "x" * 101}, {"limit": "5"}):
        with pytest.raises(ValidationFailed):
            service.list(AGENT, **bad)


BAD_FIELDS = [
    ({"summary": None}, "summary"),
    ({"colour": "red"}, "colour"),
    ({"type": "rant"}, "type"),
    ({"urgency": 5}, "urgency"),
    ({"category": "alien-landing"}, "category"),
    ({"district": "atlantis"}, "district"),
    ({"subdistrict": "ximen-of-beilun", "district": "beilun"}, "subdistrict"),
    ({"department": "ministry"}, "department"),
    ({"co_departments": ["housing", "ministry"]}, "co_departments"),
    ({"summary": "长" * 201}, "summary"),
    ({"description": "x" * 4001}, "description"),
    ({"caller_phone": "13812341234\r\nX-Injected: 1"}, "caller_phone"),
    ({"call_ids": "not-a-list"}, "call_ids"),
    ({"address": "a\x00b"}, "address"),
]


@pytest.mark.parametrize("bad,field", BAD_FIELDS, ids=[f for _, f in BAD_FIELDS])
def test_bad_fields_store_nothing(service, engine, bad, field):
    """Each kind of bad input is a ValidationFailed naming the field, and no row is written."""
    with pytest.raises(ValidationFailed) as info:
        service.create(fields(**bad), AGENT, NOW)
    assert field in info.value.details
    assert counts(engine) == (0, 0, 0, 0)
    with pytest.raises(ValidationFailed):
        service.create_many([fields(), fields(**bad)], DISPATCHER, NOW, dispatch=True)
    assert counts(engine) == (0, 0, 0, 0)


def test_injection_text_is_stored_verbatim(service):
    """SQL and HTML in text fields are data: stored and returned unchanged, nothing else happens."""
    evil = "'; DROP TABLE work_orders; -- <script>alert(1)</script>"
    o = service.create(fields(summary=evil[:200], description=evil), AGENT, NOW)
    assert service.get(o["number"], AGENT)["description"] == evil
    assert service.list(AGENT, q="DROP TABLE")["total"] == 1


def test_bad_actions_change_nothing(service, engine):
    """Illegal transitions, unknown actions and bad params leave the order and history as they were."""
    n = service.create(fields(), AGENT, NOW)["number"]
    before = (service.get(n, AGENT, now=NOW), counts(engine))
    attempts = [
        (IllegalTransition, "acknowledge", {}, URBAN),
        (IllegalTransition, "reply", {"reply": "x"}, Actor("adm-1", "admin")),
        (ValidationFailed, "fly", {}, DISPATCHER),
        (ValidationFailed, ["dispatch"], {}, DISPATCHER),
        (ValidationFailed, "dispatch", ["department"], DISPATCHER),
        (ValidationFailed, "dispatch", {"department": 42}, DISPATCHER),
        (ValidationFailed, "dispatch", {"extra": True}, DISPATCHER),
        (UnknownDepartment, "dispatch", {"department": "ministry"}, DISPATCHER),
        (ValidationFailed, "dispatch", {"co_departments": ["urban-management"]}, DISPATCHER),
        (ValidationFailed, "cancel", {"reason": ""}, DISPATCHER),
        (NotFound, "merge", {"into": "2026112399999"}, DISPATCHER),
        (ValidationFailed, "merge", {"into": n}, DISPATCHER),
    ]
    for error, action, params, actor in attempts:
        with pytest.raises(error) as info:
            service.perform(n, action, params, actor, NOW)
        assert isinstance(info.value, DomainError) and info.value.error_id
    with pytest.raises(NotFound):
        service.perform("2026112399999", "dispatch", {}, DISPATCHER, NOW)
    with pytest.raises(NotFound):
        service.get("1 OR 1=1", AGENT)
    assert (service.get(n, AGENT, now=NOW), counts(engine)) == before


def test_merge_and_cancel(service):
    """A duplicate report merges into the open original (history on both); cancel needs a reason."""
    first = service.create(fields(call_ids=["c1"]), AGENT, NOW)["number"]
    dup = service.create(fields(summary="同一事件", call_ids=["c2"]), AGENT, NOW)["number"]
    o = service.perform(dup, "merge", {"into": first, "reason": "重复"}, DISPATCHER, NOW)
    assert o["status"] == "merged" and o["merged_into"] == first
    assert service.history(first, DISPATCHER)[-1]["action"] == "merged-from"
    assert service.get(first, DISPATCHER)["call_ids"] == ["c1", "c2"]
    with pytest.raises(IllegalTransition):
        service.perform(dup, "dispatch", {}, DISPATCHER, NOW)
    third = service.create(fields(), AGENT, NOW)["number"]
    service.perform(third, "cancel", {"reason": "来电人撤回"}, DISPATCHER, NOW)
    with pytest.raises(IllegalTransition):  # cannot merge into a closed order (a state conflict, 409)
        service.perform(service.create(fields(), AGENT, NOW)["number"], "merge", {"into": third}, DISPATCHER, NOW)


def test_supervise_and_remind_flags(service):
    """督办 sets the flag, 催办 counts; both appear in history."""
    n = service.create(fields(), AGENT, NOW)["number"]
    service.perform(n, "dispatch", {}, DISPATCHER, NOW)
    service.perform(n, "remind", {"reason": "市民再次来电"}, AGENT, NOW)
    service.perform(n, "remind", {}, AGENT, NOW)
    o = service.perform(n, "supervise", {"reason": "领导批示"}, SUPERVISOR, NOW)
    assert o["supervised"] and o["reminders"] == 2


def test_idempotent_create(service, engine):
    """The same key and content returns the first order; the same key with other content is refused."""
    a = service.create(fields(), AGENT, NOW, idempotency_key="call-1700000000.1")
    b = service.create(fields(), AGENT, NOW + timedelta(seconds=5), idempotency_key="call-1700000000.1")
    assert a["number"] == b["number"] and a["replayed"] is False and b["replayed"] is True
    with pytest.raises(DuplicateSubmission):
        service.create(fields(summary="别的"), AGENT, NOW, idempotency_key="call-1700000000.1")
    with pytest.raises(ValidationFailed):
        service.create(fields(), AGENT, NOW, idempotency_key="k" * 129)
    assert counts(engine)[0] == 1 and counts(engine)[3] == 1


def test_idempotent_create_under_concurrency(service, engine):
    """Eight threads submitting the same key at once create exactly one order."""
    results, errors = [], []
    barrier = threading.Barrier(8)

    def submit():
        barrier.wait()
        try:
            results.append(service.create(fields(), AGENT, NOW, idempotency_key="web-form-77")["number"])
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(results)) == 1 and counts(engine)[0] == 1


def test_concurrent_numbers_are_unique(service):
    """Parallel creators never share a work-order number."""
    numbers, lock = [], threading.Lock()

    def create_some():
        for _ in range(10):
            n = service.create(fields(), AGENT, NOW)["number"]
            with lock:
                numbers.append(n)

    threads = [threading.Thread(target=create_some) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(numbers) == 40 and len(set(numbers)) == 40


def test_create_many_dispatches_in_one_transaction(service, engine):
    """Batched intake registers and dispatches every order, with timers, in one go."""
    out = service.create_many([fields(category=c) for c in ("road-damage", "gas-leak", "street-vending")],
                              DISPATCHER, NOW, dispatch=True)
    assert [o["status"] for o in out] == ["dispatched"] * 3
    assert [o["department"] for o in out] == ["transport", "gas", "urban-management"]
    assert counts(engine)[:3] == (3, 6, 12)
    with pytest.raises(Forbidden):
        service.create_many([fields()], AGENT, NOW, dispatch=True)


def test_large_batch_roundtrip(service, engine):
    """A batch big enough for the COPY path stores JSON fields, history and timers exactly."""
    batch = [fields(call_ids=[f"1700000000.{i}"], co_departments=["housing"], summary=f"第 {i} 单 \\ tab\t")
             for i in range(30)]
    out = service.create_many(batch, DISPATCHER, NOW, dispatch=True)
    assert len({o["number"] for o in out}) == 30
    got = service.get(out[7]["number"], DISPATCHER, now=NOW)
    assert got["call_ids"] == ["1700000000.7"] and got["co_departments"] == ["housing"]
    assert got["summary"] == "第 7 单 \\ tab" and got["deadlines"] == out[7]["deadlines"]
    assert [h["action"] for h in service.history(got["number"], DISPATCHER)] == ["create", "dispatch"]
    assert counts(engine)[:3] == (30, 60, 120)
    o = service.perform(got["number"], "acknowledge", {}, URBAN, NOW)
    assert o["status"] == "acknowledged" and counts(engine)[2] == 118
    more = service.create(fields(), AGENT, NOW)  # ids and numbers continue after the batch
    assert more["number"] == "2026112300031"


def test_events_are_published_after_commit(service):
    """Subscribers hear status changes after the change is stored."""
    heard = []
    service.subscribe(heard.extend)
    n = service.create(fields(), AGENT, NOW)["number"]
    service.perform(n, "dispatch", {}, DISPATCHER, NOW)
    assert {"event": "status_changed", "number": n, "from": "registered", "to": "dispatched",
            "action": "dispatch", "at": NOW.isoformat()} in heard


def test_stale_write_is_refused(engine):
    """Optimistic concurrency: saving an order loaded before someone else's change raises ConcurrentUpdate."""
    from ticketing.domain.errors import ConcurrentUpdate
    from ticketing.persistence import SqlAlchemyUnitOfWork

    service = WorkOrderService(engine, TAXONOMY, CALENDAR)
    n = service.create(fields(), AGENT, NOW)["number"]
    with SqlAlchemyUnitOfWork(engine) as uow:
        stale = uow.orders.get(n)
    service.perform(n, "dispatch", {}, DISPATCHER, NOW)
    stale.perform("cancel", {"reason": "x"}, actor="d", role="dispatcher", now=NOW, sla=service.sla_context(stale))
    with SqlAlchemyUnitOfWork(engine) as uow:
        with pytest.raises(ConcurrentUpdate):
            uow.orders.save(stale)
    assert service.get(n, AGENT)["status"] == "dispatched"


def test_from_config_reads_sla_and_calendar_settings(engine):
    """The deployment factory applies [sla] warning_share and [calendar] hours and DB overrides."""
    from datetime import date

    from callcenter.config import load_config
    from ticketing.calendar_data import set_override

    set_override(engine, date(2027, 1, 1), False, "元旦")
    config = load_config(None, environ={}).with_overrides({"sla.warning_share": 0.5, "calendar.work_start": "08:30"})
    service = WorkOrderService.from_config(config, engine)
    assert service.warning_share == 0.5
    assert service.calendar.workday_seconds == 7.5 * 3600 and 2027 in service.calendar.known_years
    n = service.create(fields(), AGENT, NOW)["number"]
    o = service.perform(n, "dispatch", {}, DISPATCHER, NOW)
    assert o["deadlines"]["acknowledge"]["warn_at"] == cst(2026, 11, 23, 12, 0).astimezone(timezone.utc).isoformat()


def test_create_with_a_first_action_commits_both_or_neither(service, engine):
    """The desk's create-and-dispatch is one transaction: with a first action that succeeds the order is stored
    already dispatched (one sequence of history entries); with one that fails inside the transaction
    (acknowledge before dispatch) nothing is stored — no order, no history, no idempotency key."""
    order = service.create(fields(), AGENT, NOW, idempotency_key="desk:call-1",
                           then=("dispatch", {"note": "坐席直派"}, DISPATCHER))
    assert order["status"] == "dispatched" and order["department"] == "urban-management"
    assert [h["action"] for h in service.history(order["number"], AGENT)] == ["create", "dispatch"]

    def count(table):
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(table)).scalar_one()

    before = (count(work_orders), count(work_order_history), count(idempotency_keys))
    with pytest.raises(IllegalTransition):
        service.create(fields(), AGENT, NOW, idempotency_key="desk:call-2", then=("acknowledge", {}, URBAN))
    assert (count(work_orders), count(work_order_history), count(idempotency_keys)) == before
