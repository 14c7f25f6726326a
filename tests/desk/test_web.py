"""/agent over HTTP on both databases: roles, CSRF, state, the call screen, orders, knowledge, transfer."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest_twisted
from sqlalchemy import func, insert, select
from twisted.internet import defer, task

from callcenter.routing.agent import AgentState
from tests.desk.helpers import CALLER, CALLID, SPEECH, ring_and_answer


def csrf(html: str) -> str:
    return re.search(r'data-csrf="([^"]+)"', html).group(1)


async def agent_browser(server, username="1001"):
    server.add_user(username, "agent")
    browser = server.client()
    await browser.login(username)
    page = await browser.get("/agent")
    assert page.status == 200, page.text
    return browser, {"X-CSRF-Token": csrf(page.text)}


async def wait_for(predicate, what, timeout=10.0):
    from twisted.internet import reactor

    deadline = reactor.seconds() + timeout
    while not predicate():
        assert reactor.seconds() < deadline, f"timed out waiting for {what}"
        await task.deferLater(reactor, 0.02, lambda: None)


def count_orders(engine) -> int:
    from ticketing.persistence.tables import work_orders

    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(work_orders)).scalar_one()


@pytest_twisted.ensureDeferred
async def test_page_is_for_acd_agents_only_and_bilingual(desk_web):
    """An agent sees the desk in Chinese and English; a dispatcher, or an agent account the ACD does
    not know, is refused; without a session the page sends the browser to log in."""
    server, *_ = desk_web
    browser, _ = await agent_browser(server)
    zh = await browser.get("/agent")
    assert "坐席工作台" in zh.text and 'data-state="logged_out"' in zh.text
    assert "Agent desk" in (await browser.get("/agent?lang=en")).text
    assert (await server.client().get("/agent")).status == 303
    server.add_user("disp1", "dispatcher")
    dispatcher = server.client()
    await dispatcher.login("disp1")
    assert (await dispatcher.get("/agent")).status == 403
    server.add_user("agent9", "agent")
    stranger = server.client()
    await stranger.login("agent9")
    assert (await stranger.get("/agent")).status == 403
    assert (await stranger.get("/agent/api/screen")).json["error_id"] == "desk.not_an_acd_agent"
    refused = await stranger.get("/agent/events")
    assert refused.status == 403 and refused.json["error_id"] == "desk.not_an_acd_agent"


@pytest_twisted.ensureDeferred
async def test_state_changes_need_csrf_and_a_valid_reason(desk_web):
    """Without the CSRF header the change is refused; a bad pause reason is a 400 and changes nothing;
    log in, pause with a reason and ready work."""
    server, pbx, acd, _ = desk_web
    browser, token = await agent_browser(server)
    assert (await browser.post("/agent/api/state", json={"action": "login"})).status == 403
    assert acd.sessions["1001"].state is AgentState.LOGGED_OUT
    assert (await browser.post("/agent/api/state", json={"action": "login"}, headers=token)).json["state"] == "paused"
    bad = await browser.post("/agent/api/state", json={"action": "pause", "reason": "nap"}, headers=token)
    assert bad.status == 400 and bad.json["error_id"] == "desk.bad_pause_reason"
    extra = await browser.post("/agent/api/state", json={"action": "ready", "x": 1}, headers=token)
    assert extra.status == 400 and acd.sessions["1001"].state is AgentState.PAUSED
    paused = await browser.post("/agent/api/state", json={"action": "pause", "reason": "training"}, headers=token)
    assert paused.json["reason"] == "training"
    assert (await browser.post("/agent/api/state", json={"action": "ready"}, headers=token)).json["state"] == "ready"


@pytest_twisted.ensureDeferred
async def test_call_screen_history_draft_and_order_submission(desk_web):
    """A connected call shows the caller's previous orders and calls and the IVR path; speech gives a
    draft and suggests the earlier order about the same rooftop for merging; bad fields are refused with nothing stored; the edited draft becomes a dispatched order
    carrying the call id, the agent's edits are stored as intake corrections, and a second submission
    for the same call is refused."""
    from callcenter.routing.store import queue_calls
    from ivr.store import ivr_visits
    from ticketing.intake.corrections import intake_correction
    from tests.web.conftest import ORDER

    server, pbx, acd, desk = desk_web
    engine = server.engine
    old = server.deps.workorders.create(dict(ORDER, summary="上次的诉求"), _actor(), datetime.now(timezone.utc))
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        conn.execute(insert(queue_calls).values(call_id="earlier", queue="hotline-general", skill="general",
                                                priority=0, number="13812341234", enqueued_at=now, left_at=now,
                                                outcome="abandoned", wait_seconds=30.0))
        conn.execute(insert(ivr_visits).values(call_id=CALLID, channel=CALLER, flow="main", caller="138****1234",
                                               lang="zh", outcome="transfer", queue="hotline-general",
                                               started_at=now, ended_at=now, steps=1,
                                               path='[{"node": "main_menu", "keys": "2", "result": "ok"}]'))
    browser, token = await agent_browser(server)
    for action in ("login", "ready"):
        await browser.post("/agent/api/state", json={"action": action}, headers=token)
    ring_and_answer(pbx, acd)
    desk.on_final(CALLID, SPEECH)
    await wait_for(lambda: desk.current("1001").similar, "merge suggestions")
    screen = (await browser.get("/agent/api/screen")).json
    assert screen["agent"]["state"] == "on_call" and screen["call"]["number"] == "13812341234"
    assert screen["call"]["draft"]["category"] == "illegal-construction"
    assert [o["number"] for o in screen["history"]["orders"]] == [old["number"]]
    assert [c["call_id"] for c in screen["history"]["calls"]] == ["earlier"]
    assert screen["history"]["ivr_path"] == [{"node": "main_menu", "keys": "2", "result": "ok"}]
    assert [o["number"] for o in screen["call"]["similar"]] == [old["number"]]

    fields = dict(screen["call"]["draft"])
    fields.pop("confidence")
    bad = await browser.post("/agent/api/order", json={"call_id": CALLID, "fields": dict(fields, district="atlantis")},
                             headers=token)
    assert bad.status == 422 and "district" in bad.json["details"]
    unknown = await browser.post("/agent/api/order", json={"call_id": CALLID, "fields": dict(fields, x="1")},
                                 headers=token)
    assert unknown.status == 400
    assert count_orders(engine) == 1

    fields.update(type="complaint", caller_name="张先生")
    done = await browser.post("/agent/api/order", json={"call_id": CALLID, "fields": fields}, headers=token)
    assert done.status == 201, done.text
    order = done.json["order"]
    assert order["status"] == "dispatched" and order["call_ids"] == [CALLID]
    assert order["caller_phone"] == "13812341234" and order["department"] == "urban-management"
    assert done.json["corrections"] == 1
    with engine.connect() as conn:
        rows = conn.execute(select(intake_correction.c.field, intake_correction.c.value,
                                   intake_correction.c.order_id)).all()
    assert [tuple(r) for r in rows] == [("type", "complaint", order["number"])]
    again = await browser.post("/agent/api/order", json={"call_id": CALLID, "fields": fields}, headers=token)
    assert again.status == 409 and count_orders(engine) == 2


@pytest_twisted.ensureDeferred
async def test_resolved_on_the_call_only_for_consultations_with_an_answer(desk_web):
    """A complaint cannot be resolved on the call and an empty answer is refused (nothing stored);
    a consultation with the answer given is closed as resolved on the call."""
    server, pbx, acd, desk = desk_web
    browser, token = await agent_browser(server)
    for action in ("login", "ready"):
        await browser.post("/agent/api/state", json={"action": action}, headers=token)
    ring_and_answer(pbx, acd)
    fields = {"type": "complaint", "category": "illegal-construction", "district": "haishu",
              "summary": "咨询违建认定标准"}
    body = {"call_id": CALLID, "fields": fields, "resolve": True, "reply": "已答复"}
    assert (await browser.post("/agent/api/order", json=body, headers=token)).json["error_id"] == \
        "desk.not_a_consultation"
    fields["type"] = "consultation"
    empty = await browser.post("/agent/api/order", json=dict(body, reply="  "), headers=token)
    assert empty.status == 400 and count_orders(server.engine) == 0
    done = await browser.post("/agent/api/order", json=body, headers=token)
    assert done.status == 201 and done.json["order"]["status"] == "resolved_on_call"


@pytest_twisted.ensureDeferred
async def test_knowledge_search_transfer_and_hang_up(desk_web):
    """Knowledge search answers by level; a bad level or line is a 400; transfer redirects the caller's
    channel to hotline-transfer over AMI; hang-up without a call is refused."""
    server, pbx, acd, _ = desk_web
    browser, token = await agent_browser(server)
    found = await browser.get("/agent/api/knowledge?q=%E7%87%83%E6%B0%94%E6%BC%8F%E6%B0%94&level=contacts")
    assert found.json["items"][0]["line"] == "96355"
    assert (await browser.get("/agent/api/knowledge?q=x&level=secret")).json["error_id"] == "knowledge.bad_level"
    assert (await browser.post("/agent/api/hangup", json={}, headers=token)).json["error_id"] == "routing.not_on_call"
    for action in ("login", "ready"):
        await browser.post("/agent/api/state", json={"action": action}, headers=token)
    ring_and_answer(pbx, acd)
    bad = await browser.post("/agent/api/transfer", json={"line": "9635\r\nAction: Hangup"}, headers=token)
    assert bad.status == 400 and pbx.take() == []
    pending = defer.ensureDeferred(browser.post("/agent/api/transfer", json={"line": "96355"}, headers=token))
    sent = []
    await wait_for(lambda: sent.extend(pbx.take()) or sent, "the Redirect action")
    [redirect] = sent
    assert (redirect.name, redirect["Channel"], redirect["Context"], redirect["Exten"]) == (
        "Redirect", CALLER, "hotline-transfer", "96355")
    pbx.respond(redirect, Message="Redirect successful")
    assert (await pending).json == {"transferred_to": "96355"}


def _actor():
    from ticketing.service import Actor

    return Actor(user_id="disp1", role="dispatcher")


@pytest_twisted.ensureDeferred
async def test_caller_speech_is_shown_escaped(desk_web):
    """Markup in a transcript is rendered as text on the page, never as HTML."""
    server, pbx, acd, desk = desk_web
    browser, token = await agent_browser(server)
    for action in ("login", "ready"):
        await browser.post("/agent/api/state", json={"action": action}, headers=token)
    ring_and_answer(pbx, acd)
    desk.on_final(CALLID, "<script>alert(1)</script>")
    page = await browser.get("/agent")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_desk_listens_from_build_time_when_given_the_acd(db_url):
    """build_web(acd=...) wires the desk at once, so a call ringing before anyone opens /agent is on
    the screen; intake wired later is picked up."""
    from twisted.internet import reactor

    from callcenter.bootstrap import build_web, close_web
    from callcenter.desk.web import desk_of
    from tests.desk.conftest import DESK_FEATURES
    from tests.desk.helpers import make_acd
    from tests.web.conftest import test_config

    pbx, acd = make_acd()
    root = build_web(test_config(db_url), reactor, features=DESK_FEATURES, acd=acd)
    try:
        desk = root.deps.extras["desk"]
        acd.agent_login("1001")
        acd.agent_ready("1001")
        ring_and_answer(pbx, acd)
        assert desk.current("1001").state == "connected"
        root.deps.extras["intake"] = marker = object()
        assert desk_of(root.deps).intake is marker
    finally:
        close_web(root)
        root.deps.engine.dispose()
        acd.stopService()
