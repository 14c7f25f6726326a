"""Shared builders for the ticketing tests (real taxonomy, real calendar)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from ticketing.calendar_data import build_calendar
from ticketing.domain.sla import SlaContext
from ticketing.taxonomy import load_taxonomy

CST = timezone(timedelta(hours=8))
TAXONOMY = load_taxonomy()
CALENDAR = build_calendar({})


def cst(*args) -> datetime:
    """A Beijing-time instant (the calendar's zone)."""
    return datetime(*args, tzinfo=CST)


def sla_for(category: str = "street-vending", urgency: str = "normal", share: float = 0.75) -> SlaContext:
    return SlaContext(CALENDAR, TAXONOMY.category(category).targets(urgency), share)


def fields(**overrides) -> dict:
    base = {"type": "complaint", "category": "street-vending", "district": "haishu", "subdistrict": "nanmen",
            "address": "中山西路 1 号", "summary": "路边占道经营 / street vending", "caller_name": "张先生",
            "caller_phone": "13812341234", "description": "每天傍晚占用人行道。", "channel": "phone"}
    base.update(overrides)
    return base
