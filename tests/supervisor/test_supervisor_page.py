"""/supervisor over real HTTP with a real ACD: listen/whisper/barge become AMI Originate + ChanSpy, the
abandoned list (masked) books a callback, at-risk orders get 催办/督办; CSRF and roles on every POST."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest_twisted
from twisted.internet import defer

from callcenter.routing.acd import CallHandle
from tests.routing.test_acd import CALLID, dial, expect_ring, ready
from tests.wallboard.server import CALLER, eventually, start_floor, stop_floor
from tests.web.conftest import ORDER, PASSWORD, csrf_of, staff_for



@pytest_twisted.ensureDeferred
async def test_spy_buttons_originate_chanspy_and_need_csrf(db_url):
    """Barge on an agent on a call sends Originate(Application=ChanSpy, Data=<agent channel>,qB); without the
    CSRF token nothing is sent; an unknown mode or device is refused with a clear page error; agents get 403."""
    floor = start_floor(db_url)
    try:
        server, pbx, acd = floor.server, floor.pbx, floor.acd
        server.deps.auth.add_user("sup1", PASSWORD, "supervisor", datetime.now(timezone.utc), device="PJSIP/9001")
        server.add_user("agent1", "agent")
        ready(acd, "1001")
        acd.enqueue(CallHandle(CALLID, CALLER, "13812341234"), "hotline-general")
        expect_ring(pbx, "PJSIP/1001")
        dial(pbx, "ANSWER")

        agent = server.client()
        await agent.login("agent1")
        assert (await agent.get("/supervisor")).status == 403

        browser = server.client()
        await browser.login("sup1")
        page = await browser.get("/supervisor")
        assert page.status == 200 and "班长监控台" in page.text
        assert 'data-agent="1001" data-state="on_call"' in page.text and 'id="barge-1001"' in page.text
        token = csrf_of(page.text)

        refused = await browser.post("/supervisor/agents/1001/barge", data={"device": "PJSIP/9001"})
        assert refused.status == 403 and pbx.take() == []
        bad_mode = await browser.post("/supervisor/agents/1001/eavesdrop",
                                      data={"device": "PJSIP/9001", "csrf_token": token})
        assert bad_mode.status == 400 and "supervisor.bad_mode" in bad_mode.text and pbx.take() == []

        posted = defer.ensureDeferred(browser.post("/supervisor/agents/1001/barge",
                                                   data={"device": "PJSIP/9001", "csrf_token": token}))
        sent = await eventually(lambda: pbx.take() or None)
        [originate] = sent
        assert originate.name == "Originate" and originate["Channel"] == "PJSIP/9001"
        assert originate["Application"] == "ChanSpy" and originate["Data"] == "PJSIP/1001-00000002,qB"
        pbx.respond(originate, Message="Originate successfully queued")
        pbx.originate_response(originate, answered=True)
        done = await posted
        assert done.status == 303 and done.header("location") == "/supervisor?done=1"
    finally:
        await stop_floor(floor)


@pytest_twisted.ensureDeferred
async def test_abandoned_call_is_listed_masked_and_called_back(db_url):
    """An abandoned caller appears with a masked number; the callback action books them in the ACD's
    callback queue and takes them off the list; a second try is refused and changes nothing."""
    floor = start_floor(db_url)
    try:
        server, pbx, acd = floor.server, floor.pbx, floor.acd
        server.add_user("sup1", "supervisor")
        acd.enqueue(CallHandle(CALLID, CALLER, "13812341234"), "hotline-general")
        pbx.clock.advance(40)
        pbx.hangup(CALLER, CALLID, CALLID)
        browser = server.client()
        await browser.login("sup1")
        page = await browser.get("/supervisor")
        assert f'data-call="{CALLID}"' in page.text and "138****1234" in page.text and "13812341234" not in page.text
        token = csrf_of(page.text)
        done = await browser.post(f"/supervisor/abandoned/{CALLID}/callback", data={"csrf_token": token})
        assert done.status == 303
        assert acd.snapshot()["callbacks_waiting"] == 1
        assert f'data-call="{CALLID}"' not in (await browser.get("/supervisor")).text
        again = await browser.post(f"/supervisor/abandoned/{CALLID}/callback", data={"csrf_token": token})
        assert again.status == 400 and "supervisor.unknown_call" in again.text
        assert acd.snapshot()["callbacks_waiting"] == 1
    finally:
        await stop_floor(floor)


@pytest_twisted.ensureDeferred
async def test_at_risk_orders_get_remind_and_supervise(db_url):
    """An overdue dispatched order is listed red; 催办 raises its reminder count and 督办 sets the flag,
    both recorded in its history; an unknown action is refused."""
    from sqlalchemy import update

    from ticketing.persistence.tables import work_orders

    floor = start_floor(db_url)
    try:
        server = floor.server
        staff = await staff_for(server)
        number = (await staff.agent.post("/api/v1/workorders", json=ORDER)).json["number"]
        assert (await staff.dispatcher.post(f"/api/v1/workorders/{number}/dispatch", json={})).status == 200
        order = (await staff.supervisor.get(f"/api/v1/workorders/{number}")).json
        from datetime import datetime, timezone

        past = datetime.now(timezone.utc) - timedelta(hours=1)
        with server.engine.begin() as conn:  # the order's next deadline passed an hour ago
            conn.execute(update(work_orders).where(work_orders.c.number == number).values(next_due_at=past))
        assert order["status"] == "dispatched"

        browser = server.client()
        await browser.login("sup1")
        page = await browser.get("/supervisor")
        assert f'data-number="{number}"' in page.text and f'id="remind-{number}"' in page.text
        token = csrf_of(page.text)
        assert (await browser.post(f"/supervisor/orders/{number}/remind",
                                   data={"csrf_token": token, "reason": "请尽快处理"})).status == 303
        assert (await browser.post(f"/supervisor/orders/{number}/supervise", data={"csrf_token": token})).status == 303
        bad = await browser.post(f"/supervisor/orders/{number}/close", data={"csrf_token": token})
        assert bad.status == 400 and "supervisor.unknown_action" in bad.text
        after = (await staff.supervisor.get(f"/api/v1/workorders/{number}")).json
        assert after["reminders"] == 1 and after["supervised"] is True and after["status"] == "dispatched"
        history = (await staff.supervisor.get(f"/api/v1/workorders/{number}/history")).json["items"]
        actions = [h["action"] for h in history]
        assert "remind" in actions and "supervise" in actions
    finally:
        await stop_floor(floor)


@pytest_twisted.ensureDeferred
async def test_spying_calls_only_the_supervisors_own_registered_phone(db_url):
    """Listen/whisper/barge always call the supervisor's registered phone (PJSIP/9001): a phone typed into the
    form is ignored; a registered dial string that would reach outside (Local/<number>@hotline-pstn, a trunk)
    is refused with supervisor.bad_device, none at all with supervisor.no_device; nothing reaches the PBX."""
    floor = start_floor(db_url)
    try:
        server, pbx, acd = floor.server, floor.pbx, floor.acd
        auth, now = server.deps.auth, datetime.now(timezone.utc)
        auth.add_user("sup.zhao", PASSWORD, "supervisor", now, device="PJSIP/9001")
        auth.add_user("sup.out", PASSWORD, "supervisor", now, device="Local/13800000009@hotline-pstn")
        auth.add_user("sup.trunk", PASSWORD, "supervisor", now, device="PJSIP/13800000009@trunk")
        server.add_user("sup2", "supervisor")
        ready(acd, "1001")
        acd.enqueue(CallHandle(CALLID, CALLER, "13812341234"), "hotline-general")
        expect_ring(pbx, "PJSIP/1001")
        dial(pbx, "ANSWER")

        browser = server.client()
        await browser.login("sup.zhao")
        page = await browser.get("/supervisor")
        assert "PJSIP/9001" in page.text and 'name="device"' not in page.text and "账号登记的话机" in page.text
        token = csrf_of(page.text)

        async def spy(device, mode="listen"):
            posted = defer.ensureDeferred(browser.post(f"/supervisor/agents/1001/{mode}",
                                                       data={"device": device, "csrf_token": token}))
            sent = await eventually(lambda: pbx.take() or None)
            [originate] = sent
            pbx.respond(originate, Message="Originate successfully queued")
            pbx.originate_response(originate, answered=True)
            assert (await posted).status == 303
            return originate

        first = await spy("")
        assert (first["Channel"], first["Data"]) == ("PJSIP/9001", "PJSIP/1001-00000002,q")
        typed = await spy("Local/13900000000@hotline-pstn", mode="whisper")   # the form cannot choose the phone
        assert (typed["Channel"], typed["Data"]) == ("PJSIP/9001", "PJSIP/1001-00000002,qw")

        for user, error_id in (("sup.out", "supervisor.bad_device"), ("sup.trunk", "supervisor.bad_device"),
                               ("sup2", "supervisor.no_device")):
            other = server.client()
            await other.login(user)
            other_token = csrf_of((await other.get("/supervisor")).text)
            refused = await other.post("/supervisor/agents/1001/listen", data={"csrf_token": other_token})
            assert refused.status == 422 and f'data-error-id="{error_id}"' in refused.text, user
        assert pbx.take() == []
    finally:
        await stop_floor(floor)
