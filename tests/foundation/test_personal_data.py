"""The one personal-data policy (callcenter/personal_data.py): one masked form per kind of data, whole
values only for the roles and channels the table names, and no full citizen number in the logs."""
from __future__ import annotations

import io
import json
import logging
from datetime import timedelta

import pytest
import pytest_twisted
from twisted.internet import threads

from callcenter.personal_data import (API, EXPORT, LIVE, LOG, METRIC, PAGE, PUBLIC, WORKLIST, address_for, mask_address,
                                      mask_name, mask_phone, mask_text, name_for, phone_for, sees_whole)


@pytest.mark.parametrize("number,masked", [
    ("13812345678", "138****5678"),
    ("+8613812345678", "138****5678"),
    ("+86 138-1234-5678", "138****5678"),
    ("008613812345678", "138****5678"),
    ("87654321", "****4321"),
    ("0574-87654321", "0574-****4321"),
    ("057487654321", "057*****4321"),
    ("12345", "***45"),
    ("1001", "****"),
    ("", ""),
    (None, None),
])
def test_a_phone_number_has_one_masked_form(number, masked):
    """Mobiles keep carrier prefix and last four, other numbers the last four (an area code stays),
    short numbers show at most two digits."""
    assert mask_phone(number) == masked


def test_every_screen_masks_87654321_the_same_way():
    """The number that used to come out three ways (and once whole) is masked identically by the work-order
    API, the live-calls view, the desk, the IVR's stored visit and read-back, and intake summaries."""
    from datetime import datetime, timezone

    from callcenter.calls.model import Call, Channel
    from ivr.prompts import OrderStatus, render_lookup
    from ticketing.intake.extractor import summarise

    assert phone_for("87654321", "department", API) == "****4321"
    assert phone_for("87654321", None, LIVE) == "****4321"
    spoken = render_lookup("{summary}", OrderStatus(number="1", status="registered", summary="请回电 87654321"),
                           "zh", "Asia/Shanghai")
    assert spoken == "请回电 ****4321"
    assert "****4321" in summarise("请回电87654321，路灯坏了，麻烦尽快修", "zh")
    at = datetime(2026, 11, 23, 1, 0, tzinfo=timezone.utc)
    call = Call(linkedid="1.1", started_at=at)
    call.channels["1.1"] = Channel(uniqueid="1.1", name="PJSIP/trunk-00000001", linkedid="1.1",
                                   caller_id_num="87654321", created_at=at)
    assert call.caller_number_masked == "****4321"


def test_numbers_in_text_are_masked_but_ids_stay_readable():
    assert mask_text("Local/13800000001@hotline-pstn-0000000d;1") == "Local/138****0001@hotline-pstn-0000000d;1"
    assert mask_text("来电13800000001反映") == "来电138****0001反映"
    assert mask_text("call 13812341234 or 0574-87654321") == "call 138****1234 or 0574-****4321"
    assert mask_text("+8613800000001 / 008613800000001 / 057487654321") == "138****0001 / 138****0001 / 057*****4321"
    for kept in ("1795421344.17", "PJSIP/trunk-00000001", "73c16376-3d6e-4d4d-ac63-9c99eddc7d3a", "PJSIP/1001",
                 "hotline-in,12345", "WO-20261123-0001", "2026-11-23 09:00", "order 2026112300001",
                 "1733500000", None, ""):
        assert mask_text(kept) == kept


def test_names_and_addresses_keep_only_what_is_needed():
    assert mask_name("张三丰") == "张**" and mask_name("John Smith") == "J*** S****"
    assert mask_address("中山西路138号3幢501室") == "中山西路***号*幢***室"
    assert mask_address("12 Main Street, Flat 3") == "** Main Street, Flat *"


def test_who_sees_what_whole_by_role_and_channel():
    """Calling staff see phones whole on pages, API and exports; only diallers on the callback worklist;
    departments see names and addresses but masked phones; the public, live monitors, logs and metrics
    see nothing whole; an unknown channel is refused."""
    for role in ("agent", "dispatcher", "supervisor", "admin"):
        assert all(sees_whole("phone", role, ch) for ch in (PAGE, API, EXPORT))
    assert phone_for("13812345678", "department", PAGE) == "138****5678"
    assert phone_for("13812345678", "agent", WORKLIST) == "13812345678"
    assert phone_for("13812345678", "supervisor", WORKLIST) == "138****5678"
    assert name_for("张三", "department", PAGE) == "张三" and address_for("1号", "department", API) == "1号"
    for channel in (PUBLIC, LIVE, LOG, METRIC):
        for role in ("agent", "admin", "department", None):
            assert phone_for("13812345678", role, channel) == "138****5678"
            assert name_for("张三", role, channel) == "张*"
    assert phone_for("13812345678", None, PAGE) == "138****5678"
    with pytest.raises(ValueError):
        sees_whole("phone", "admin", "somewhere")


@pytest.fixture
def service_log():
    """The service's own log set-up (callcenter.logs.setup_logging) writing into a buffer; pytest's
    handlers are put back afterwards."""
    from callcenter.logs import setup_logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    out = io.StringIO()
    setup_logging("INFO", "text", stream=out)
    yield out
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_log_lines_never_carry_a_whole_number(service_log):
    """Message arguments, structured fields (text and JSON) and tracebacks are masked."""
    from callcenter.logs import JsonFormatter

    log = logging.getLogger("ivr.runner")
    log.info("IVR session started", extra={"fields": {"channel": "Local/13800000001@hotline-pstn-00000001;2"}})
    log.warning("dialling %s failed", "13900000002")
    try:
        raise RuntimeError("no route to 0574-87654321")
    except RuntimeError:
        log.exception("originate failed")
    text = service_log.getvalue()
    assert "channel=Local/138****0001@hotline-pstn-00000001;2" in text
    assert "dialling 139****0002 failed" in text and "0574-****4321" in text
    assert "13800000001" not in text and "13900000002" not in text and "87654321" not in text
    handler = logging.getLogger().handlers[0]
    handler.setFormatter(JsonFormatter())
    log.info("IVR session started", extra={"fields": {"channel": "Local/13800000001@hotline-pstn", "n": 12345678}})
    line = json.loads(service_log.getvalue().splitlines()[-1])
    assert line["channel"] == "Local/138****0001@hotline-pstn" and line["n"] == 12345678


@pytest_twisted.inlineCallbacks
def test_a_satisfaction_callback_logs_no_citizen_number(tmp_path, db_url, service_log):
    """Issue 22 item 4: a real satisfaction callback (PBX simulator over TCP, callback worker, IVR runner)
    logs its channel as Local/138****0001@hotline-pstn at INFO, never the citizen's whole number."""
    from tests.callbacks.helpers import MONDAY, replied_order
    from tests.callbacks.test_e2e_pbxsim import TUESDAY_9, Rig

    rig = yield Rig.create(tmp_path, db_url)
    try:
        number = yield threads.deferToThread(replied_order, rig.service)
        rig.sim.add_pstn("13800000001", "answer", answer_after=0.5, digits="1", digit_after=5.0)
        rig.now.at = TUESDAY_9 + timedelta(minutes=1)
        assert rig.now.at > MONDAY
        yield rig.worker.tick()
        yield rig.until(lambda: bool(rig.finished))       # the survey call went through the IVR and ended
    finally:
        yield rig.close()
    text = service_log.getvalue()
    assert "IVR session started" in text and "Local/138****0001@hotline-pstn" in text
    assert "13800000001" not in text
