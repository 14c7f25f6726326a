"""The citizen portal over HTTP on each database: submit with a code and a photo, track,
rate online (the phone callback is cancelled), and the limits."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
import pytest_twisted
from sqlalchemy import select

from callcenter.callbacks.tables import callback_jobs
from callcenter.sms.tables import sms_messages
from tests.citizen.helpers import last_code, multipart, photo_png, ticket_of
from tests.web.conftest import start_server, stop_server

PHONE = "13812345678"
TEXT = "海曙区中山西路88号门口的人行道路面塌陷了一个大坑，晚上很危险，请尽快修理。"


@pytest.fixture
def site(db_url):
    server = start_server(db_url)
    yield server
    stop_server(server)


async def report(server, client, phone=PHONE, text=TEXT, photos=(), category=None):
    resp = await client.post("/report", data={"text": text, "place": "haishu", "address": "中山西路88号",
                                              "phone": phone})
    assert resp.status == 200, resp.text
    ticket = ticket_of(resp.text)
    if category is None:
        import re

        proposed = re.search(r'<option value="([^"]+)" selected>', resp.text)
        category = proposed.group(1) if proposed else "road-damage"
    body, ctype = multipart({"ticket": ticket, "code": last_code(server.engine, phone), "category": category},
                            [("photo", f"p{i}.png", data) for i, data in enumerate(photos)])
    done = await client.post("/report/confirm", body=body, headers={"Content-Type": ctype})
    return resp, done


def orders(server):
    svc = server.deps.workorders
    from ticketing.service import Actor

    return svc.list(Actor("t", "supervisor"))["items"]


@pytest_twisted.ensureDeferred
async def test_the_site_root_is_the_portal_for_visitors_with_the_staff_sign_in_at_hand(site):
    resp = await site.client().get("/")
    assert resp.status == 200
    assert 'href="/report"' in resp.text and 'href="/track"' in resp.text and 'href="/login"' in resp.text
    site.add_user("agent1", "agent")
    client = site.client()
    await client.login("agent1")
    staff = await client.get("/")
    assert staff.status == 303 and staff.header("location") == "/agent"


@pytest_twisted.ensureDeferred
async def test_a_report_is_filed_only_with_the_sms_code_and_keeps_its_photo(site):
    client = site.client()
    first, done = await report(site, client, photos=[photo_png()])
    assert "塌陷" in first.text  # the draft is shown back with the proposed category
    assert done.status == 303
    number = done.header("location").split("/")[2].split("?")[0]
    [order] = orders(site)
    assert order["number"] == number and order["channel"] == "web" and order["caller_phone"] == PHONE
    assert order["description"] == TEXT and order["district"] == "haishu"
    from callcenter.attachments.web import store_of

    [photo] = store_of(site.deps).list(number)
    assert photo["media_type"] == "image/png" and photo["source"] == "citizen"
    with site.engine.connect() as conn:
        kinds = [r.kind for r in conn.execute(select(sms_messages).where(sms_messages.c.phone == PHONE))]
    assert sorted(kinds) == ["accepted", "code"]
    page = await client.get(f"/track/{number}?new=1")
    assert page.status == 200 and number in page.text and 'id="submitted"' in page.text


@pytest_twisted.ensureDeferred
async def test_a_wrong_code_files_nothing_and_five_wrong_tries_lock_the_code(site):
    client = site.client()
    resp = await client.post("/report", data={"text": TEXT, "place": "haishu", "address": "", "phone": PHONE})
    ticket = ticket_of(resp.text)
    right = last_code(site.engine, PHONE)
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(5):
        body, ctype = multipart({"ticket": ticket, "code": wrong, "category": "road-damage"}, [])
        bad = await client.post("/report/confirm", body=body, headers={"Content-Type": ctype})
        assert bad.status == 400 and "citizen.wrong_code" in bad.text
    body, ctype = multipart({"ticket": ticket, "code": right, "category": "road-damage"}, [])
    locked = await client.post("/report/confirm", body=body, headers={"Content-Type": ctype})
    assert locked.status == 429 and "citizen.code_locked" in locked.text
    assert orders(site) == []


@pytest_twisted.ensureDeferred
async def test_codes_to_one_phone_are_spaced_and_a_cross_site_post_is_refused(site):
    client = site.client()
    await client.post("/report", data={"text": TEXT, "place": "haishu", "address": "", "phone": PHONE})
    again = await client.post("/report", data={"text": TEXT, "place": "haishu", "address": "", "phone": PHONE})
    assert again.status == 429 and "citizen.code_too_soon" in again.text
    other = site.client(origin=False)
    forged = await other.post("/report", data={"text": TEXT, "place": "haishu", "address": "", "phone": "13900000000"},
                              headers={"Origin": "https://evil.example"})
    assert forged.status == 403 and "citizen.cross_origin" in forged.text


@pytest_twisted.ensureDeferred
async def test_a_restricted_number_cannot_use_the_portal(site):
    from callcenter.screening.service import RestrictionList

    RestrictionList(site.engine).add(PHONE, "骚扰 / nuisance", 7, "sup1", datetime.now(timezone.utc))
    resp = await site.client().post("/report", data={"text": TEXT, "place": "haishu", "address": "", "phone": PHONE})
    assert resp.status == 403 and "citizen.restricted" in resp.text


@pytest_twisted.ensureDeferred
async def test_tracking_needs_the_code_sent_to_the_reporting_phone(site):
    _, done = await report(site, site.client())
    number = done.header("location").split("/")[2].split("?")[0]
    stranger = site.client()
    assert 'id="track-form"' in (await stranger.get(f"/track/{number}")).text  # no cookie: asked to verify
    resp = await stranger.post("/track", data={"number": number, "phone": "13900001111"})
    assert resp.status == 200 and 'id="verify-form"' in resp.text  # the same page either way
    with site.engine.connect() as conn:
        assert conn.execute(select(sms_messages).where(sms_messages.c.phone == "13900001111")).first() is None
    guess = await stranger.post("/track/verify", data={"ticket": ticket_of(resp.text), "number": number,
                                                       "code": "123456"})
    assert guess.status == 400
    owner = site.client()
    from callcenter.citizen.web import portal_of

    portal_of(site.deps).code_interval = 0  # the report's code was sent a moment ago
    sent = await owner.post("/track", data={"number": number, "phone": PHONE})
    ok = await owner.post("/track/verify", data={"ticket": ticket_of(sent.text), "number": number,
                                                 "code": last_code(site.engine, PHONE)})
    assert ok.status == 303 and ok.header("location") == f"/track/{number}"
    page = await owner.get(f"/track/{number}")
    assert TEXT in page.text and 'data-status="registered"' in page.text


@pytest_twisted.ensureDeferred
async def test_online_rating_is_the_callback_result_and_a_second_rating_is_refused(site):
    from ticketing.service import Actor

    client = site.client()
    _, done = await report(site, client)
    number = done.header("location").split("/")[2].split("?")[0]
    svc = site.deps.workorders
    now = datetime.now(timezone.utc)
    order = svc.get(number, Actor("t", "supervisor"))
    dept = Actor("d1", "department", order["department"])
    svc.perform(number, "dispatch", {"note": "内部备注：先核实 / internal"}, Actor("dispatcher-wang", "dispatcher"), now)
    svc.perform(number, "acknowledge", {}, dept, now)
    svc.perform(number, "reply", {"reply": "已修补路面，恢复通行。"}, dept, now)
    from callcenter.callbacks import jobs
    from ticketing.callbacks.policy import CallbackPolicy

    jobs.schedule_replied(site.engine, now, CallbackPolicy(), svc.calendar)  # the phone callback is pending
    page = await client.get(f"/track/{number}")
    assert "已修补路面" in page.text and 'id="rate-form"' in page.text
    assert "内部备注" not in page.text and "dispatcher-wang" not in page.text
    rated = await client.post(f"/track/{number}/rate", data={"answer": "satisfied", "comment": "很快"})
    assert rated.status == 303
    with site.engine.connect() as conn:
        job = conn.execute(select(callback_jobs).where(callback_jobs.c.order_number == number)).one()
    assert job.state == "done" and job.result == "satisfied" and "很快" in job.note
    assert svc.get(number, Actor("t", "supervisor"))["status"] == "closed"
    again = await client.post(f"/track/{number}/rate", data={"answer": "dissatisfied"})
    assert again.status == 409 and "citizen.already_rated" in again.text
    assert 'id="rate-form"' not in (await client.get(f"/track/{number}")).text
    assert svc.get(number, Actor("t", "supervisor"))["status"] == "closed"


@pytest_twisted.ensureDeferred
async def test_nul_and_broken_utf8_in_portal_forms_get_a_4xx_page_and_change_nothing(site):
    client = site.client()
    nul = await client.post("/report", data={"text": TEXT + "\x00", "place": "haishu", "address": "", "phone": PHONE})
    assert nul.status == 400 and re.search(r"(citizen|http)\.\w+", nul.text)
    broken = await client.post("/report", body=b"text=%FF%FE&place=haishu&phone=13812345678",
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert broken.status == 400 and re.search(r"http\.\w+", broken.text)
    for path, fields in (("/report/confirm", {"ticket": "\x00" * 20, "code": "123456", "category": "road-damage"}),
                         ("/track/verify", {"ticket": "a\x00" * 10, "number": "1", "code": "123456"}),
                         ("/track", {"number": "1\x00", "phone": PHONE})):
        resp = await client.post(path, data=fields)
        assert 400 <= resp.status < 500, (path, resp.status, resp.text[-300:])
    assert orders(site) == []


@pytest_twisted.ensureDeferred
async def test_a_citizen_who_asked_not_to_be_phoned_may_still_rate_online(site):
    from callcenter.callbacks import jobs
    from ticketing.callbacks.policy import CallbackPolicy
    from ticketing.service import Actor

    client = site.client()
    _, done = await report(site, client)
    number = done.header("location").split("/")[2].split("?")[0]
    svc = site.deps.workorders
    now = datetime.now(timezone.utc)
    dept = Actor("d1", "department", svc.get(number, Actor("t", "supervisor"))["department"])
    svc.perform(number, "dispatch", {}, Actor("d", "dispatcher"), now)
    svc.perform(number, "acknowledge", {}, dept, now)
    svc.perform(number, "reply", {"reply": "已修补。"}, dept, now)
    jobs.opt_out(site.engine, PHONE, "不回访 / no calls please", now)
    jobs.schedule_replied(site.engine, now, CallbackPolicy(), svc.calendar)
    with site.engine.connect() as conn:
        assert conn.execute(select(callback_jobs.c.state)).scalar_one() == "skipped"
    rated = await client.post(f"/track/{number}/rate", data={"answer": "basic"})
    assert rated.status == 303
    with site.engine.connect() as conn:
        job = conn.execute(select(callback_jobs)).one()
    assert job.state == "done" and job.result == "basic"
    assert svc.get(number, Actor("t", "supervisor"))["status"] == "closed"
