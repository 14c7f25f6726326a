"""The manual callback list over real HTTP (SQLite and PostgreSQL): JSON API and the /callbacks page
with CSRF; bad input is refused and changes nothing."""
from __future__ import annotations

import re

import pytest
import pytest_twisted
from twisted.internet import threads

from callcenter.bootstrap import FEATURES
from callcenter.callbacks import jobs
from tests.callbacks.helpers import CALENDAR, MONDAY, replied_order
from tests.web.conftest import BearerClient, start_server, stop_server
from ticketing.callbacks.policy import CallbackPolicy
from ticketing.service import Actor


@pytest.fixture
def server(db_url):
    server = start_server(db_url, features=tuple(FEATURES) + ("callcenter.callbacks.web",))
    server.add_user("agent1", "agent")
    server.add_user("dept1", "department", department="urban-management")
    yield server
    stop_server(server)


def _seed(server):
    service = server.deps.workorders
    numbers = [replied_order(service), replied_order(service, caller_phone="13900000009")]
    jobs.schedule_replied(server.engine, MONDAY, CallbackPolicy(), CALENDAR)
    return numbers


@pytest_twisted.ensureDeferred
async def test_api_lists_and_records_a_manual_result(server):
    """An agent lists pending callbacks and records 'satisfied'; the order closes. A bad answer is 422,
    a department account is 403, an unknown id is 404 — and none of them changes an order."""
    a, b = await threads.deferToThread(_seed, server)
    agent = BearerClient(server.base, token=await server.client().token("agent1"))
    listed = await agent.get("/api/v1/callbacks")
    assert listed.status == 200 and {i["number"] for i in listed.json["items"]} == {a, b}
    job = next(i for i in listed.json["items"] if i["number"] == a)
    bad = await agent.post(f"/api/v1/callbacks/{job['id']}/result", json={"answer": "great"})
    assert bad.status == 422 and bad.json["error_id"] == "callback.invalid_answer"
    assert (await agent.post("/api/v1/callbacks/999999/result", json={"answer": "satisfied"})).status == 404
    dept = BearerClient(server.base, token=await server.client().token("dept1"))
    assert (await dept.post(f"/api/v1/callbacks/{job['id']}/result", json={"answer": "satisfied"})).status == 403
    assert (await threads.deferToThread(server.deps.workorders.get, a, Actor("x", "admin")))["status"] == "replied"
    ok = await agent.post(f"/api/v1/callbacks/{job['id']}/result", json={"answer": "satisfied", "note": "人工回访"})
    assert ok.status == 200 and ok.json["state"] == "done"
    assert (await threads.deferToThread(server.deps.workorders.get, a, Actor("x", "admin")))["status"] == "closed"
    again = await agent.post(f"/api/v1/callbacks/{job['id']}/result", json={"answer": "dissatisfied"})
    assert again.status == 409 and again.json["error_id"] == "callbacks.conflict"


@pytest_twisted.ensureDeferred
async def test_page_is_bilingual_and_csrf_protected(server):
    """/callbacks lists the jobs in Chinese or English; a form without the CSRF token is refused, with it
    the result is recorded and the page redirects."""
    a, b = await threads.deferToThread(_seed, server)
    browser = server.client()
    await browser.login("agent1")
    zh = await browser.get("/callbacks?lang=zh")
    assert zh.status == 200 and "回访列表" in zh.text and a in zh.text
    en = await browser.get("/callbacks?lang=en")
    assert "Callback list" in en.text
    job_id = re.search(rf'data-id="(\d+)" data-state="scheduled">\s*<td>{b}', en.text).group(1)
    token = re.search(r'name="csrf_token" value="([^"]+)"', en.text).group(1)
    refused = await browser.post(f"/callbacks/{job_id}/result", data={"answer": "dissatisfied"})
    assert refused.status == 403
    assert (await threads.deferToThread(server.deps.workorders.get, b, Actor("x", "admin")))["status"] == "replied"
    done = await browser.post(f"/callbacks/{job_id}/result",
                              data={"answer": "dissatisfied", "csrf_token": token, "note": ""})
    assert done.status == 303 and done.header("location") == "/callbacks?done=1"
    order = await threads.deferToThread(server.deps.workorders.get, b, Actor("x", "admin"))
    assert order["status"] == "dispatched" and order["reopen_count"] == 1
