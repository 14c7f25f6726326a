"""What needs a person on /callbacks (SQLite and PostgreSQL, real HTTP and chromium): callbacks whose
attempts are used up, in-queue callbacks the ACD could not place, and webhook notifications that are
dead — zh/en, numbers masked for roles that do not dial, and a supervisor sends a dead one again
(CSRF-protected; other roles may not)."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import pytest_twisted
from twisted.internet import threads

from callcenter.bootstrap import FEATURES
from callcenter.callbacks import jobs, outbox
from callcenter.callbacks.jobs import ResultRecorder
from callcenter.routing.store import RoutingStore
from tests.browser import CHROMIUM, chromium_page, sign_in
from tests.callbacks.helpers import CALENDAR, MONDAY, SYSTEM, replied_order
from tests.web.conftest import BearerClient, start_server, stop_server
from ticketing.callbacks.policy import CallbackPolicy

CITIZEN, QUEUE_CALLER, ABANDONED, IN_QUEUE = "13900000009", "13700000007", "13600000006", "13500000005"


@pytest.fixture
def server(db_url):
    server = start_server(db_url, features=tuple(FEATURES) + ("callcenter.callbacks.web",))
    server.add_user("agent1", "agent")
    server.add_user("boss", "supervisor")
    yield server
    stop_server(server)


def _seed(server) -> dict:
    """An order whose callback was never answered (one attempt allowed), its 'unreachable'
    notification given up, and an in-queue callback whose call did not reach the caller."""
    engine, service = server.engine, server.deps.workorders
    policy = CallbackPolicy(max_attempts=1)
    number = replied_order(service, caller_phone=CITIZEN)
    jobs.schedule_replied(engine, MONDAY, policy, CALENDAR)
    (job,) = jobs.claim_due(engine, MONDAY + timedelta(days=1), "w1")
    recorder = ResultRecorder(engine, service, SYSTEM, outbox=True)
    recorder.attempt_failed(job["callback_id"], 3, MONDAY + timedelta(days=1), policy, CALENDAR)
    (row,), _ = outbox.claim_due(engine, MONDAY + timedelta(days=1), "w1", limit=5, lease=120, max_attempts=1)
    assert outbox.failed(engine, row, "HTTP 503", MONDAY + timedelta(days=1), retry_at=None) == "dead"
    store = RoutingStore(engine)
    for call_id, phone, reason in (("1700000000.9", QUEUE_CALLER, "requested"), ("1700000000.8", ABANDONED, "abandoned"),
                                   ("1700000000.7", IN_QUEUE, "requested")):
        assert store.add_callback(call_id=call_id, number=phone, queue="general", reason=reason, now=MONDAY)
    entries = {e.number: e.id for e in store.callbacks()}
    store.set_callback_state(entries[QUEUE_CALLER], "pending", MONDAY, attempted=True)   # the ACD's call failed
    return {"number": number, "job": job["id"], "webhook": row["id"], "queue": entries}


def _state(server, row_id):
    return next(r["state"] for r in outbox.list_rows(server.engine, outbox.STATES) if r["id"] == row_id)


@pytest_twisted.ensureDeferred
async def test_page_lists_what_needs_a_person_and_a_supervisor_resends(server):
    """A supervisor's page (zh and en) lists the exhausted callback, the unreached queue callback and the
    dead notification, with masked numbers; an agent sees whole numbers but no resend button and is
    refused (403) if it posts one anyway; without the CSRF token the supervisor is refused too; with it
    the notification is pending again and leaves the page."""
    seeded = await threads.deferToThread(_seed, server)
    boss = server.client()
    await boss.login("boss")
    zh = await boss.get("/callbacks?lang=zh")
    assert zh.status == 200
    for text in ("重拨已用尽", "排队来电待回拨", "发送失败的通知", "回访未接通", "HTTP 503", seeded["number"],
                 "139****0009", "137****0007", "136****0006", "无人接听", "来电选择回拨", "放弃来电"):
        assert text in zh.text, text
    assert CITIZEN not in zh.text and QUEUE_CALLER not in zh.text
    assert "135****0005" not in zh.text          # still waiting in the ACD for its turn: not ours to show
    en = await boss.get("/callbacks?lang=en")
    for text in ("Unreachable after every attempt", "Queue callers waiting for a callback",
                 "Notifications that could not be delivered", "Send again", "no answer"):
        assert text in en.text, text

    agent = server.client()
    await agent.login("agent1")
    page = await agent.get("/callbacks?lang=zh")
    assert CITIZEN in page.text and QUEUE_CALLER in page.text and "发送失败的通知" in page.text
    assert f'/callbacks/webhooks/{seeded["webhook"]}/retry' not in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    refused = await agent.post(f'/callbacks/webhooks/{seeded["webhook"]}/retry', data={"csrf_token": token})
    assert refused.status == 403
    assert (await boss.post(f'/callbacks/webhooks/{seeded["webhook"]}/retry', data={})).status == 403
    assert await threads.deferToThread(_state, server, seeded["webhook"]) == "dead"

    token = re.search(r'name="csrf_token" value="([^"]+)"', en.text).group(1)
    done = await boss.post(f'/callbacks/webhooks/{seeded["webhook"]}/retry', data={"csrf_token": token})
    assert done.status == 303 and done.header("location") == "/callbacks?done=resent"
    assert await threads.deferToThread(_state, server, seeded["webhook"]) == "pending"
    after = await boss.get("/callbacks?lang=en&done=resent")
    assert "Queued to be sent again" in after.text and "Notifications that could not be delivered" not in after.text
    again = await boss.post(f'/callbacks/webhooks/{seeded["webhook"]}/retry', data={"csrf_token": token})
    assert again.status == 409 and 'data-error-id="callbacks.conflict"' in again.text


@pytest_twisted.ensureDeferred
async def test_api_lists_dead_webhooks_and_masks_numbers_by_role(server):
    """GET /api/v1/callbacks/webhooks lists dead notifications; POST …/retry is for supervisors (an agent
    gets 403), refuses a malformed or unknown id with 404 and a second retry with 409; callback items
    carry whole numbers for agents and masked ones for supervisors."""
    seeded = await threads.deferToThread(_seed, server)
    boss = BearerClient(server.base, token=await server.client().token("boss"))
    agent = BearerClient(server.base, token=await server.client().token("agent1"))
    listed = await boss.get("/api/v1/callbacks/webhooks")
    assert listed.status == 200
    (item,) = listed.json["items"]
    assert (item["id"], item["kind"], item["state"], item["number"], item["last_error"]) == (
        seeded["webhook"], "unreachable", "dead", seeded["number"], "HTTP 503")
    assert (await boss.get("/api/v1/callbacks/webhooks?state=nope")).status == 400
    assert (await agent.post(f'/api/v1/callbacks/webhooks/{seeded["webhook"]}/retry', json={})).status == 403
    bad = await boss.post("/api/v1/callbacks/webhooks/abc/retry", json={})
    assert bad.status == 404 and bad.json["error_id"] == "callback.webhook_not_found"
    assert (await boss.post("/api/v1/callbacks/webhooks/999999/retry", json={})).status == 404
    assert await threads.deferToThread(_state, server, seeded["webhook"]) == "dead"
    ok = await boss.post(f'/api/v1/callbacks/webhooks/{seeded["webhook"]}/retry', json={})
    assert ok.status == 200 and ok.json["state"] == "pending" and ok.json["attempts"] == 0
    assert (await boss.post(f'/api/v1/callbacks/webhooks/{seeded["webhook"]}/retry', json={})).status == 409
    assert (await boss.get("/api/v1/callbacks/webhooks")).json["items"] == []

    phones = lambda resp: {i["number"]: i["phone"] for i in resp.json["items"]}  # noqa: E731
    assert phones(await agent.get("/api/v1/callbacks?state=unreachable")) == {seeded["number"]: CITIZEN}
    assert phones(await boss.get("/api/v1/callbacks?state=unreachable")) == {seeded["number"]: "139****0009"}


def _drive(base: str, webhook_id: int) -> dict:
    """In a worker thread (the reactor keeps serving): a supervisor resends a dead notification."""
    seen = {}
    with chromium_page() as page:
        sign_in(page, base, "boss")
        page.wait_for_load_state()
        page.goto(base + "/callbacks?lang=zh")
        row = page.locator(f'tr.webhook[data-id="{webhook_id}"]')
        seen["row"] = row.inner_text()
        seen["exhausted"] = page.locator("#exhausted").inner_text()
        row.locator("button").click()
        page.wait_for_selector("#done")
        seen["done"] = page.locator("#done").inner_text()
        seen["rows_after"] = page.locator("tr.webhook").count()
    return seen


@pytest.mark.browser
@pytest_twisted.ensureDeferred
async def test_supervisor_resends_a_dead_notification_in_chromium(server):
    """In chromium a supervisor sees the dead notification and the exhausted callback (masked number),
    presses 重新发送 and gets the notice; the notification is pending again in the database."""
    import os

    if not os.path.exists(CHROMIUM):
        pytest.skip("chromium is missing (bin/test installs it)")
    seeded = await threads.deferToThread(_seed, server)
    seen = await threads.deferToThread(_drive, server.base, seeded["webhook"])
    assert "回访未接通" in seen["row"] and "HTTP 503" in seen["row"] and seeded["number"] in seen["row"]
    assert "139****0009" in seen["exhausted"] and CITIZEN not in seen["exhausted"]
    assert seen["done"] == "已重新排队发送" and seen["rows_after"] == 0
    assert await threads.deferToThread(_state, server, seeded["webhook"]) == "pending"


def _queue_states(server) -> dict:
    return {e.number: e.state for e in RoutingStore(server.engine).callbacks(None)}


@pytest_twisted.ensureDeferred
async def test_agent_marks_a_queue_callback_done_after_calling_by_hand(server):
    """An agent who called a waiting queue caller back marks the entry done (CSRF form): it leaves the
    page; without the token it is refused, and an entry the ACD still holds cannot be touched (404)."""
    seeded = await threads.deferToThread(_seed, server)
    agent = server.client()
    await agent.login("agent1")
    page = await agent.get("/callbacks?lang=en")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    entry = seeded["queue"][QUEUE_CALLER]
    assert (await agent.post(f"/callbacks/queue/{entry}/done", data={})).status == 403
    held = await agent.post(f'/callbacks/queue/{seeded["queue"][IN_QUEUE]}/done', data={"csrf_token": token})
    assert held.status == 404 and 'data-error-id="callback.queue_entry_not_found"' in held.text
    assert (await agent.post("/callbacks/queue/x1/done", data={"csrf_token": token})).status == 404
    assert await threads.deferToThread(_queue_states, server) == {
        QUEUE_CALLER: "pending", ABANDONED: "pending", IN_QUEUE: "pending"}
    done = await agent.post(f"/callbacks/queue/{entry}/done", data={"csrf_token": token})
    assert done.status == 303 and done.header("location") == "/callbacks?done=1"
    assert await threads.deferToThread(_queue_states, server) == {
        QUEUE_CALLER: "done", ABANDONED: "pending", IN_QUEUE: "pending"}
    after = await agent.get("/callbacks?lang=en")
    assert QUEUE_CALLER not in after.text and ABANDONED in after.text
