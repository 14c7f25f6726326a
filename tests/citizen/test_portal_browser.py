"""A citizen in Debian's chromium with real Kannel: submit with a photo (the code and the order
number come by SMS through the fake SMSC), track the order with a fresh code, read the
department's reply from the SMS's link, rate it online — and the phone callback is cancelled."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
import pytest_twisted
from sqlalchemy import select
from twisted.internet.threads import deferToThread

from callcenter.callbacks.tables import callback_jobs
from tests.browser import accessibility_violations, chromium_page
from tests.citizen.helpers import photo_png
from tests.sms.conftest import make_rig

PHONE = "13612345678"
TEXT = "中山西路88号门口的人行道路面塌陷了一个大坑，晚上很危险，请尽快修理。"


@pytest.fixture
def rig(sqlite_url):
    made = make_rig(sqlite_url)
    made.server.deps.config = made.server.deps.config.with_overrides({"sms.public_url": made.server.base})
    from twisted.internet import reactor

    from callcenter.citizen.web import portal_of
    from callcenter.sms.service import build_sms

    service = build_sms(made.server.deps.config, engine=made.engine, clock=reactor, reactor=reactor,
                        pool=made.server.deps.pool, sendsms_url=made.gateway.sendsms_url,
                        username=made.gateway.username, password=made.gateway.password)
    service.interval = 0.3
    service.quiet = service.quiet.__class__(zone="Asia/Shanghai", start=service.quiet.end, end=service.quiet.end)
    portal_of(made.server.deps).quiet = service.quiet  # the journey must not wait for the morning
    portal_of(made.server.deps).code_interval = 0      # tracking asks for a second code at once
    service.startService()
    yield made
    pytest_twisted.blockon(service.stopService())
    made.gateway.stop()
    from tests.web.conftest import stop_server

    stop_server(made.server)


def handle_the_order(rig, number: str) -> None:
    """The hotline's side, between the citizen's visits: dispatched, acknowledged, replied, and the
    satisfaction callback scheduled."""
    from callcenter.callbacks import jobs
    from ticketing.callbacks.policy import CallbackPolicy
    from ticketing.service import Actor

    svc = rig.server.deps.workorders
    now = datetime.now(timezone.utc)
    order = svc.get(number, Actor("t", "supervisor"))
    dept = Actor("clerk", "department", order["department"])
    svc.perform(number, "dispatch", {"note": "内部：请核实 / internal"}, Actor("disp1", "dispatcher"), now)
    svc.perform(number, "acknowledge", {}, dept, now)
    svc.perform(number, "reply", {"reply": "已安排抢修，路面已修复。"}, dept, now)
    jobs.schedule_replied(rig.engine, now, CallbackPolicy(), svc.calendar)


def journey(rig, photo: str) -> dict:
    seen: dict = {}
    base, phone = rig.server.base, rig.gateway.phone
    with chromium_page(seen, viewport={"width": 390, "height": 844}) as page:  # a phone's screen
        page.goto(base + "/?lang=en")
        seen["english"] = page.locator("h1").inner_text()
        page.goto(base + "/?lang=zh")
        seen["staff_link"] = page.locator("#cz-staff").get_attribute("href")
        seen["axe"] = accessibility_violations(page)
        page.click("#cz-report")
        seen["axe"] += accessibility_violations(page)
        page.fill("#text", TEXT)
        page.select_option("#place", "haishu")
        page.fill("#address", "中山西路88号")
        page.fill("#phone", PHONE)
        page.click("#report-next")
        page.wait_for_selector("#confirm-form")
        seen["axe"] += accessibility_violations(page)
        code = phone.wait_for(PHONE, r"验证码(\d{6})").group(1)
        if not page.locator("#category option[selected]").count():
            page.select_option("#category", "road-damage")
        page.set_input_files("#photo", photo)
        page.fill("#code", code)
        page.click("#confirm-submit")
        page.wait_for_selector("#submitted")
        seen["number"] = page.locator("#order-number").inner_text()
        seen["sms_number"] = phone.wait_for(PHONE, r"工单号(\d+)").group(1)

        handle_the_order(rig, seen["number"])
        link = phone.wait_for(PHONE, r"请评价办理结果：(\S+)").group(1)
        seen["rating_link"] = link

        page.context.clear_cookies()  # another day, another visit: prove the phone again
        page.goto(base + "/track")
        page.fill("#number", seen["number"])
        page.fill("#phone", PHONE)
        page.click("#track-submit")
        page.wait_for_selector("#verify-form")
        codes = re.findall(r"验证码(\d{6})", " ".join(phone.to(PHONE)))
        deadline = __import__("time").monotonic() + 20
        while len(codes) < 2 and __import__("time").monotonic() < deadline:
            __import__("time").sleep(0.2)
            codes = re.findall(r"验证码(\d{6})", " ".join(phone.to(PHONE)))
        page.fill("#code", codes[-1])
        page.click("#verify-submit")
        page.wait_for_selector("#timeline")
        seen["timeline"] = page.locator("#timeline li").evaluate_all("els => els.map(e => e.dataset.status)")
        seen["page_text"] = page.locator("main").inner_text()

        page.goto(link)
        page.wait_for_selector("#rate-form")
        seen["reply"] = page.locator("#reply").inner_text()
        seen["axe"] += accessibility_violations(page)
        page.check("#answer-satisfied")
        page.fill("#comment", "处理及时")
        page.click("#rate-submit")
        page.wait_for_selector("#rated")
        seen["status_after"] = page.locator("#order-status").get_attribute("data-status")
        seen["rate_form_after"] = page.locator("#rate-form").count()
        seen["closed_sms"] = phone.wait_for(PHONE, r"工单(\d+)已办结").group(1)
    return seen


@pytest.mark.browser
@pytest_twisted.ensureDeferred
async def test_a_citizen_submits_tracks_and_rates_online_through_sms_codes_in_chromium(rig, tmp_path):
    photo = tmp_path / "hole.png"
    photo.write_bytes(photo_png())
    seen = await deferToThread(journey, rig, str(photo))

    number = seen["number"]
    assert seen["staff_link"] == "/login" and seen["english"] == "12345 Citizen requests"
    assert seen["axe"] == []
    assert seen["sms_number"] == number
    assert seen["rating_link"] == f"{rig.server.base}/track/{number}?rate=1"
    assert seen["timeline"] == ["registered", "dispatched", "acknowledged", "replied"]
    assert "内部" not in seen["page_text"] and "disp1" not in seen["page_text"] and "clerk" not in seen["page_text"]
    assert "路面已修复" in seen["reply"]
    assert seen["status_after"] == "closed" and seen["rate_form_after"] == 0
    assert seen["closed_sms"] == number
    with rig.engine.connect() as conn:
        job = conn.execute(select(callback_jobs).where(callback_jobs.c.order_number == number)).one()
    assert job.state == "done" and job.result == "satisfied" and job.result_by == "web:citizen:web"
    from callcenter.attachments.web import store_of

    [photo_meta] = store_of(rig.server.deps).list(number)
    assert photo_meta["source"] == "citizen" and photo_meta["media_type"] == "image/png"
    assert not [m for m in seen.get("console", []) if "error" in m.lower()], seen.get("console")
