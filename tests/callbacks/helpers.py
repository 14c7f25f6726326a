"""Shared builders for the callback tests: a migrated database, the real work-order service,
and an order brought to 回复 (replied)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from callcenter.callbacks.jobs import ResultRecorder
from callcenter.db import make_engine
from ticketing.calendar_data import build_calendar
from ticketing.service import Actor, WorkOrderService
from ticketing.taxonomy import load_taxonomy

CST = timezone(timedelta(hours=8))
CALENDAR = build_calendar({})
TAXONOMY = load_taxonomy()
AGENT = Actor("agent-1", "agent")
DISPATCHER = Actor("disp-1", "dispatcher")
URBAN = Actor("um-1", "department", "urban-management")
SYSTEM = Actor("system:callbacks", "dispatcher")
MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=CST)


def cst(*args) -> datetime:
    return datetime(*args, tzinfo=CST)


def fields(**overrides) -> dict:
    base = {"type": "complaint", "category": "street-vending", "district": "haishu", "subdistrict": "nanmen",
            "address": "中山西路 1 号", "summary": "路边占道经营 / street vending", "caller_name": "张先生",
            "caller_phone": "13800000001", "description": "每天傍晚占用人行道。", "channel": "phone"}
    base.update(overrides)
    return base


class Notes:
    """Collects notifications (the hook's contract: kind, data)."""

    def __init__(self):
        self.sent: list[tuple[str, dict]] = []

    def __call__(self, kind, data):
        self.sent.append((kind, data))


def world(db_url):
    engine = make_engine(db_url)
    service = WorkOrderService(engine, TAXONOMY, CALENDAR)
    notes = Notes()
    recorder = ResultRecorder(engine, service, SYSTEM, notify=notes)
    return engine, service, recorder, notes


def replied_order(service, now=MONDAY, **overrides) -> str:
    number = service.create(fields(**overrides), AGENT, now)["number"]
    service.perform(number, "dispatch", {}, DISPATCHER, now)
    service.perform(number, "acknowledge", {}, URBAN, now + timedelta(minutes=10))
    service.perform(number, "reply", {"reply": "已劝离 / vendors moved on"}, URBAN, now + timedelta(minutes=20))
    return number
