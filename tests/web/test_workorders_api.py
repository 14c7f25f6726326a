"""/api/v1/workorders over real HTTP on both databases: lifecycle, scoping, bad input."""
from __future__ import annotations

import json
import re

import pytest_twisted
from sqlalchemy import inspect

from tests.web.conftest import ORDER, staff_for


async def _create(staff, **changes):
    body = dict(ORDER, **changes)
    resp = await staff.agent.post("/api/v1/workorders", json=body)
    assert resp.status == 201, resp.body
    return resp.json


async def _snapshot(staff):
    """Every stored order as the supervisor sees it (to prove bad input changes nothing)."""
    resp = await staff.supervisor.get("/api/v1/workorders?limit=200")
    assert resp.status == 200
    return resp.json["total"], {o["number"]: (o["status"], o["updated_at"], o["summary"]) for o in resp.json["items"]}


@pytest_twisted.ensureDeferred
async def test_create_read_list_history_with_masking_and_scoping(web):
    """An agent files an order; it is listed, readable, audited; departments see only theirs, phone masked."""
    staff = await staff_for(web)
    order = await _create(staff)
    number = order["number"]
    assert order["status"] == "registered" and order["department"] == staff.department
    assert order["caller_phone"] == "13812341234"

    got = await staff.agent.get(f"/api/v1/workorders/{number}")
    assert got.status == 200 and got.json["number"] == number

    dispatched = await staff.dispatcher.post(f"/api/v1/workorders/{number}/dispatch", json={})
    assert dispatched.status == 200 and dispatched.json["status"] == "dispatched"

    mine = await staff.dept.get(f"/api/v1/workorders/{number}")
    assert mine.status == 200 and mine.json["caller_phone"] == "138****1234"
    listed = await staff.dept.get("/api/v1/workorders?status=dispatched")
    assert [o["number"] for o in listed.json["items"]] == [number]

    theirs = await staff.other_dept.get(f"/api/v1/workorders/{number}")
    assert theirs.status == 404 and theirs.json["error_id"] == "workorder.not_found"
    assert (await staff.other_dept.get("/api/v1/workorders")).json["total"] == 0

    history = await staff.agent.get(f"/api/v1/workorders/{number}/history")
    assert [h["action"] for h in history.json["items"]] == ["create", "dispatch"]
    assert history.json["items"][1]["actor"] == "disp1"


@pytest_twisted.ensureDeferred
async def test_full_lifecycle_through_the_api(web):
    """dispatch → acknowledge → reply → satisfied callback closes the order, each step by its role."""
    staff = await staff_for(web)
    number = (await _create(staff))["number"]
    steps = [
        (staff.dispatcher, "dispatch", {"note": "请核查"}, "dispatched"),
        (staff.dept, "acknowledge", {}, "acknowledged"),
        (staff.dept, "reply", {"reply": "已责令拆除。"}, "replied"),
        (staff.agent, "callback-result", {"outcome": "satisfied", "satisfaction": 5}, "closed"),
    ]
    for client, action, params, status in steps:
        resp = await client.post(f"/api/v1/workorders/{number}/{action}", json=params)
        assert resp.status == 200, (action, resp.body)
        assert resp.json["status"] == status
    history = await staff.supervisor.get(f"/api/v1/workorders/{number}/history")
    assert [h["to"] for h in history.json["items"]][-1] == "closed"


@pytest_twisted.ensureDeferred
async def test_idempotency_key_replays_and_refuses_reuse(web):
    """Same key + same body → the same order (200, replayed); same key + other body → 409, nothing new."""
    staff = await staff_for(web)
    headers = {"Idempotency-Key": "call-1700000000-42"}
    first = await staff.agent.post("/api/v1/workorders", json=ORDER, headers=headers)
    again = await staff.agent.post("/api/v1/workorders", json=ORDER, headers=headers)
    assert first.status == 201 and again.status == 200
    assert again.header("idempotent-replayed") == "true" and again.json["number"] == first.json["number"]
    other = await staff.agent.post("/api/v1/workorders", json=dict(ORDER, summary="另一件事"), headers=headers)
    assert other.status == 409 and other.json["error_id"] == "workorder.duplicate_submission"
    bad_key = await staff.agent.post("/api/v1/workorders", json=ORDER, headers={"Idempotency-Key": "x" * 200})
    assert bad_key.status == 400 and bad_key.json["error_id"] == "request.bad_idempotency_key"
    total, _ = await _snapshot(staff)
    assert total == 1


@pytest_twisted.ensureDeferred
async def test_bad_input_gets_a_stable_4xx_and_changes_nothing(web):
    """Malformed JSON, wrong shapes, unknown fields/category/department, oversize, bad queries: 4xx, no change."""
    staff = await staff_for(web)
    number = (await _create(staff))["number"]
    before = await _snapshot(staff)
    url = "/api/v1/workorders"
    cases = [
        (dict(body=b'{"type": "complaint",', headers={"Content-Type": "application/json"}), 400, "http.malformed_json"),
        (dict(body=b"\xff\xfe", headers={"Content-Type": "application/json"}), 400, "http.malformed_json"),
        (dict(json=[ORDER]), 400, "http.json_not_object"),
        (dict(body=b"type=complaint", headers={"Content-Type": "application/x-www-form-urlencoded"}), 415,
         "http.unsupported_media_type"),
        (dict(json=dict(ORDER, priority="high")), 422, "workorder.validation_failed"),
        (dict(json=dict(ORDER, summary=123)), 422, "workorder.validation_failed"),
        (dict(json=dict(ORDER, call_ids="abc")), 422, "workorder.validation_failed"),
        (dict(json=dict(ORDER, category="no-such-category")), 422, "workorder.validation_failed"),
        (dict(json=dict(ORDER, department="ministry-of-magic")), 422, "workorder.validation_failed"),
        (dict(json=dict(ORDER, summary="长" * 201)), 422, "workorder.validation_failed"),
        (dict(json=dict(ORDER, description="x" * 70_000)), 413, "http.body_too_large"),
    ]
    for kwargs, status, error_id in cases:
        resp = await staff.agent.post(url, **kwargs)
        assert (resp.status, resp.json["error_id"]) == (status, error_id), (kwargs.get("json"), resp.body[:300])
        assert set(resp.json) == {"error_id", "message", "details"}
    unknown = await staff.agent.post(url, json=dict(ORDER, priority="high"))
    assert unknown.json["details"]["priority"] == "unknown field"

    action_cases = [
        (staff.dept, "acknowledge", {}, 409, "workorder.illegal_transition"),  # not dispatched yet
        (staff.agent, "dispatch", {}, 403, "workorder.forbidden"),  # agents do not dispatch
        (staff.dispatcher, "dispatch", {"department": "ministry-of-magic"}, 422, "workorder.unknown_department"),
        (staff.dispatcher, "dispatch", {"note": 5}, 422, "workorder.validation_failed"),
        (staff.dispatcher, "dispatch", {"bogus": 1}, 422, "workorder.validation_failed"),
        (staff.dispatcher, "teleport", {}, 422, "workorder.unknown_action"),
    ]
    for client, action, params, status, error_id in action_cases:
        resp = await client.post(f"{url}/{number}/{action}", json=params)
        assert (resp.status, resp.json["error_id"]) == (status, error_id), (action, resp.body)
    missing = await staff.dispatcher.post(f"{url}/99999999/dispatch", json={})
    assert missing.status == 404 and missing.json["error_id"] == "workorder.not_found"

    for query, status, error_id in (("limit=abc", 400, "request.invalid_query"), ("limit=0", 400, "request.invalid_query"),
                                    ("offset=-1", 400, "request.invalid_query"),
                                    ("status=bogus", 422, "workorder.validation_failed"),
                                    ("department=nowhere", 422, "workorder.validation_failed")):
        resp = await staff.supervisor.get(f"{url}?{query}")
        assert (resp.status, resp.json["error_id"]) == (status, error_id), query
    assert await _snapshot(staff) == before


@pytest_twisted.ensureDeferred
async def test_injection_text_is_stored_verbatim_and_harmless(web):
    """SQL and HTML in text fields are data: stored as given, tables intact, JSON-escaped out."""
    staff = await staff_for(web)
    evil = "'); DROP TABLE work_orders; -- <script>alert(1)</script>"
    order = await _create(staff, summary=evil[:200], address="<img src=x onerror=alert(1)>")
    got = await staff.agent.get(f"/api/v1/workorders/{order['number']}?q=%27%20OR%201%3D1--")
    assert got.json["summary"] == evil[:200]
    search = await staff.supervisor.get("/api/v1/workorders?q=%27%20OR%20%271%27%3D%271")
    assert search.status == 200 and search.json["total"] == 0
    assert inspect(web.engine).has_table("users")
    total, _ = await _snapshot(staff)
    assert total == 1


@pytest_twisted.ensureDeferred
async def test_browser_session_calls_need_the_csrf_header(web):
    """With a session cookie, POSTs need X-CSRF-Token from /api/v1/me and our Origin."""
    staff = await staff_for(web)
    number = (await _create(staff))["number"]
    browser = web.client()
    await browser.login("disp1")
    csrf = (await browser.get("/api/v1/me")).json["csrf_token"]
    refused = await browser.post(f"/api/v1/workorders/{number}/dispatch", json={})
    assert refused.status == 403 and refused.json["error_id"] == "auth.csrf"
    cross = await browser.post(f"/api/v1/workorders/{number}/dispatch", json={},
                               headers={"X-CSRF-Token": csrf, "Origin": "http://evil.example"})
    assert cross.status == 403 and cross.json["error_id"] == "auth.cross_origin"
    assert (await staff.agent.get(f"/api/v1/workorders/{number}")).json["status"] == "registered"
    ok = await browser.post(f"/api/v1/workorders/{number}/dispatch", json={}, headers={"X-CSRF-Token": csrf})
    assert ok.status == 200 and ok.json["status"] == "dispatched"


@pytest_twisted.ensureDeferred
async def test_openapi_document_describes_the_real_routes(web):
    """Every /api/v1 route of the work-order API and token endpoint is in the OpenAPI 3.1 document, and
    nothing else is; each action's parameters match the engine's table."""
    from ticketing.domain.workorder import ACTION_PARAMS

    resp = await web.client().get("/api/v1/openapi.json")
    doc = resp.json
    assert doc["openapi"] == "3.1.0"
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    routed = set()
    for rule in web.root.app.klein.url_map.iter_rules():
        if not str(rule.endpoint).startswith(("callcenter.workorders.api.", "callcenter.auth.web.")):
            continue
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = rule.rule.replace("<number>", "{id}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if "<action>" in path:
                for action in ACTION_PARAMS:
                    routed.add((path.replace("<action>", action), method.lower()))
            else:
                routed.add((path, method.lower()))
    contributed = set(web.deps.extras.get("openapi_paths") or {})  # other features document their own
    assert routed == {(path, method) for path, method in documented if path not in contributed}
    for path in contributed:  # Klein's <name> is OpenAPI's {name}
        assert any(re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule) == path
                   for rule in web.root.app.klein.url_map.iter_rules()), path
    schemas = doc["components"]["schemas"]
    for action, spec in ACTION_PARAMS.items():
        ref = doc["paths"][f"/api/v1/workorders/{{id}}/{action}"]["post"]["requestBody"]["content"][
            "application/json"]["schema"]["$ref"]
        assert set(schemas[ref.rsplit("/", 1)[1]]["properties"]) == set(spec)
    assert "illegal-construction" in schemas["WorkOrderCreate"]["properties"]["category"]["enum"]
    json.dumps(doc)  # serialisable as served
