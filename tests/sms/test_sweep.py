"""The sweep: orders owe their citizens accepted / replied / closed messages, once each per round."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from callcenter.db import make_engine
from callcenter.sms import outbox, policy
from callcenter.sms.tables import sms_messages
from tests.web.conftest import ORDER, _ticketing_parts, test_config
from ticketing.service import Actor, WorkOrderService

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=timezone.utc)   # 10:00 in Shanghai
AGENT, DISPATCHER = Actor("a1", "agent"), Actor("d1", "dispatcher")


@pytest.fixture
def hotline(db_url):
    engine = make_engine(db_url)
    taxonomy, calendar = _ticketing_parts(test_config(db_url))
    yield engine, WorkOrderService(engine, taxonomy, calendar)
    engine.dispose()


def sweep(engine, at=NOW):
    return outbox.sweep(engine, at, window=timedelta(hours=6), link=lambda k, n: f"https://h/track/{n}",
                        quiet=policy.QuietHours())


def messages(engine):
    with engine.connect() as conn:
        return [(r.order_number, r.kind, r.state, r.dedupe_key) for r in
                conn.execute(select(sms_messages).order_by(sms_messages.c.id))]


def test_each_order_gets_each_message_once_per_round_and_landlines_none(hotline):
    engine, svc = hotline
    mobile = svc.create(ORDER, AGENT, NOW)["number"]
    landline = svc.create(dict(ORDER, caller_phone="0574-87654321"), AGENT, NOW)["number"]
    assert sweep(engine) == 1
    assert sweep(engine) == 0  # nothing twice
    dept = Actor("c1", "department", svc.get(mobile, AGENT)["department"])
    svc.perform(mobile, "dispatch", {}, DISPATCHER, NOW)
    svc.perform(mobile, "acknowledge", {}, dept, NOW)
    svc.perform(mobile, "reply", {"reply": "已拆除违建。"}, dept, NOW)
    assert sweep(engine) == 1 and sweep(engine) == 0
    svc.perform(mobile, "callback-result", {"outcome": "dissatisfied", "satisfaction": 1}, DISPATCHER, NOW)
    svc.perform(mobile, "dispatch", {}, DISPATCHER, NOW)
    svc.perform(mobile, "acknowledge", {}, dept, NOW)
    svc.perform(mobile, "reply", {"reply": "已再次核查并拆除。"}, dept, NOW)
    assert sweep(engine) == 1  # the second round's reply
    found = messages(engine)
    assert [(n, k, s) for n, k, s, _ in found if n == mobile] == [
        (mobile, "accepted", "pending"), (mobile, "replied", "pending"), (mobile, "replied", "pending")]
    assert [(k, s) for n, k, s, _ in found if n == landline] == [("accepted", "no_mobile")]
    with engine.connect() as conn:
        body = conn.execute(select(sms_messages.c.body).where(sms_messages.c.dedupe_key == f"{mobile}:replied:1")
                            ).scalar_one()
    assert "已再次核查并拆除" in body and f"https://h/track/{mobile}" in body


def test_the_language_the_citizen_chose_carries_to_later_messages(hotline):
    engine, svc = hotline
    number = svc.create(ORDER, AGENT, NOW)["number"]
    with engine.begin() as conn:  # the portal, in English, queued the first message
        outbox.enqueue(conn, kind="accepted", phone=ORDER["caller_phone"], lang="en", now=NOW,
                       body=policy.render("accepted", "en", number=number, link="x"), quiet=policy.QuietHours(),
                       order_number=number, dedupe_key=f"{number}:accepted")
    dept = Actor("c1", "department", svc.get(number, AGENT)["department"])
    svc.perform(number, "dispatch", {}, DISPATCHER, NOW)
    svc.perform(number, "acknowledge", {}, dept, NOW)
    svc.perform(number, "reply", {"reply": "Removed."}, dept, NOW)
    assert sweep(engine) == 1
    with engine.connect() as conn:
        body = conn.execute(select(sms_messages.c.body).where(sms_messages.c.kind == "replied")).scalar_one()
    assert body.startswith("[12345 Hotline] Order") and "Please rate it" in body
