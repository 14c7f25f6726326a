"""Adapters: business hours from ticketing's working calendar, lookups through the
work-order service (masking), messages registered as draft orders."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from twisted.internet import defer
from twisted.internet.task import Clock

from callcenter.db import make_engine
from ivr.prompts import OrderStatus
from ivr.runner import IvrCall
from ivr.services import WorkOrderDesk, working_hours

CST = timezone(timedelta(hours=8))


@pytest.fixture(scope="module")
def calendar():
    from ticketing.calendar_data import build_calendar

    return build_calendar({})


@pytest.mark.parametrize("when,expected", [
    (datetime(2026, 11, 23, 10, 0, tzinfo=CST), True),    # Monday morning
    (datetime(2026, 11, 23, 12, 30, tzinfo=CST), False),  # lunch break
    (datetime(2026, 11, 23, 18, 0, tzinfo=CST), False),   # evening
    (datetime(2026, 11, 28, 10, 0, tzinfo=CST), False),   # Saturday
    (datetime(2026, 10, 1, 10, 0, tzinfo=CST), False),    # National Day holiday
    (datetime(2026, 11, 23, 1, 0, tzinfo=timezone.utc), True),  # 09:00 Beijing given in UTC
])
def test_working_hours_follow_the_calendar(calendar, when, expected):
    """The business-hours branch is open exactly in the calendar's working periods on working days."""
    assert working_hours(calendar)(when) is expected


def _service(db_url):
    from ticketing.calendar_data import build_calendar
    from ticketing.service import WorkOrderService
    from ticketing.taxonomy import load_taxonomy

    return WorkOrderService(make_engine(db_url), load_taxonomy(), build_calendar({}))


def _call(caller="13512345678"):
    now = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
    return IvrCall(channel="PJSIP/trunk-1", uniqueid="1795421328.13", linkedid="1795421328.12", caller=caller,
                   caller_name="", flow="hotline", started_at=now)


def _inline(fn, *args):
    return defer.maybeDeferred(fn, *args)


def _result(d):
    out = []
    d.addBoth(out.append)
    return out[0]


def test_lookup_and_draft_through_the_service(db_url):
    """A message becomes a registered order (same order on a repeat) and one transcription job for its
    recording; lookup finds it by number
    and yields only status/deadline/summary/reply; malformed or unknown numbers give None."""
    from ticketing.service import Actor

    service = _service(db_url)
    clock = Clock()
    clock.advance(datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc).timestamp())
    from callcenter.asr.jobs import TranscriptionQueue

    jobs = TranscriptionQueue(make_engine(db_url))
    desk = WorkOrderDesk(service, clock, run_blocking=_inline, message_category="community-service",
                         message_district="haishu", transcriptions=jobs)
    call = _call()
    order = _result(desk.on_message(call, "/rec/ivr-1.wav"))
    again = _result(desk.on_message(call, "/rec/ivr-1.wav"))
    assert again["number"] == order["number"] and again["replayed"] is True
    assert jobs.counts().get("queued") == 1  # one transcription job, not one per repeat
    job = jobs.job(1)
    assert job["recording_path"] == "/rec/ivr-1.wav" and job["call_id"] == call.uniqueid
    assert order["status"] == "registered" and order["caller_phone"] == "13512345678"
    service.perform(order["number"], "dispatch", {}, Actor("d", "dispatcher"),
                    datetime(2026, 11, 23, 2, 5, tzinfo=timezone.utc))
    status = _result(desk.lookup(order["number"]))
    assert isinstance(status, OrderStatus) and status.status == "dispatched"
    assert status.deadline is not None and status.deadline > datetime(2026, 11, 23, 2, 5, tzinfo=timezone.utc)
    assert _result(desk.lookup("2099010100001")) is None
    assert _result(desk.lookup("12ab")) is None


def test_lookup_by_caller_finds_the_newest_open_order_of_that_number(db_url):
    """The calling number's newest order still open is found, however the caller ID writes the number
    (+86, trunk 0); a closed order, another caller's order and a withheld number give None."""
    from ticketing.service import Actor

    service = _service(db_url)
    clock = Clock()
    t0 = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
    clock.advance(t0.timestamp())
    desk = WorkOrderDesk(service, clock, run_blocking=_inline, message_category="community-service",
                         message_district="haishu")
    agent = Actor("a1", "agent")

    def report(phone, minutes):
        return service.create({"type": "complaint", "category": "street-vending", "district": "haishu",
                               "summary": "占道经营", "caller_phone": phone}, agent,
                              t0 + timedelta(minutes=minutes))["number"]

    report("13812345678", 0)
    newer = report("13812345678", 5)
    cancelled = report("13812345678", 10)
    service.perform(cancelled, "cancel", {"reason": "重复来电 / duplicate"}, Actor("d1", "dispatcher"),
                    t0 + timedelta(minutes=11))
    report("13900000000", 15)
    for caller in ("13812345678", "+86 138 1234 5678", "013812345678"):
        found = _result(desk.lookup_by_caller(caller))
        assert isinstance(found, OrderStatus) and found.number == newer, caller
    assert _result(desk.lookup_by_caller("")) is None
    assert _result(desk.lookup_by_caller("13700000000")) is None


def test_build_runner_from_config_validates_flows(tmp_path):
    """build_runner wires the config's directories and timeout; a broken flows_dir refuses to start."""
    from twisted.internet import reactor

    from callcenter.config import load_config
    from ivr.flow import FlowError
    from ivr.services import build_runner

    cfg = load_config(None, environ={}).with_overrides({"ivr.sounds_dir": str(tmp_path / "s"),
                                                         "ivr.command_timeout": 33.0})
    runner = build_runner(cfg, None, reactor)  # the AMI client is only used from start()
    assert runner.command_grace == 33.0 and runner.sounds_dir == (tmp_path / "s").resolve()
    # Asterisk's name for the prompts (relative to its sounds dir), never this process's path
    assert runner.pbx_sounds_dir == "hotline"
    other = build_runner(cfg.with_overrides({"ivr.pbx_sounds_dir": "custom/prompts"}), None, reactor)
    assert other.pbx_sounds_dir == "custom/prompts" and other.sounds_dir == runner.sounds_dir
    with pytest.raises(ValueError, match="pbx_sounds_dir"):
        build_runner(cfg.with_overrides({"ivr.pbx_sounds_dir": str(tmp_path / "s")}), None, reactor)
    assert runner.library.get("ivr").name == "hotline" and runner.is_open(datetime.now(timezone.utc))
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "x.yaml").write_text("name: x\nnodes: {}\n", "utf-8")
    with pytest.raises(FlowError):
        build_runner(cfg.with_overrides({"ivr.flows_dir": str(tmp_path / "flows")}), None, reactor)
