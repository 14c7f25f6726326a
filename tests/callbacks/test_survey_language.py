"""The satisfaction callback speaks the language the request was made in: the worker finds it in the IVR
visits of the order's calls (else of the citizen's number) and hands it to the survey flow as HOTLINE_LANG."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert

from callcenter.callbacks.worker import request_language
from ivr.store import ivr_visits
from tests.callbacks.helpers import MONDAY, replied_order, world


def _visit(engine, call_id, caller, lang, flow="hotline", at=MONDAY):
    with engine.begin() as conn:
        conn.execute(insert(ivr_visits).values(call_id=call_id, channel="PJSIP/trunk-1", flow=flow, caller=caller,
                                               lang=lang, outcome="transfer", queue=None, started_at=at,
                                               ended_at=at + timedelta(seconds=30), steps=3, path="[]"))


def test_the_order_calls_language_wins_then_the_numbers_then_chinese(db_url):
    engine, service, _, _ = world(db_url)
    english = replied_order(service, call_ids=["call-en"])
    _visit(engine, "call-en", "13800000001", "en")
    _visit(engine, "call-en", "13800000001", "zh", flow="rating")   # other flows do not count
    assert request_language(engine, english, "13800000001") == "en"

    by_number = replied_order(service, caller_phone="13900000002")
    _visit(engine, "other-call", "13900000002", "en")
    assert request_language(engine, by_number, "13900000002") == "en"

    unknown = replied_order(service, caller_phone="13700000003")
    assert request_language(engine, unknown, "13700000003") == "zh"
