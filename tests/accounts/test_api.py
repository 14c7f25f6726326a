"""/api/v1/users over real HTTP on SQLite and PostgreSQL: an administrator's token provisions accounts
as JSON; bad bodies, unknown accounts and actions, and other roles are refused without a change."""
from __future__ import annotations

import pytest
import pytest_twisted

from tests.web.conftest import PASSWORD, BearerClient, serving

API = "/api/v1/users"


@pytest.fixture
def server(db_url):
    with serving(db_url, root1="admin", agent9="agent") as server:
        yield server


async def _bearer(server, username: str) -> BearerClient:
    token = await server.client().token(username)
    return BearerClient(server.base, token=token, origin=False)


@pytest_twisted.ensureDeferred
async def test_an_administrators_token_creates_lists_and_changes_accounts(server):
    """POST creates wang.fang (201, no hash in the answer); the list shows her; password, role and a
    partial profile change apply (a field left out stays); disable and enable follow; each answer is the
    account after the change."""
    admin = await _bearer(server, "root1")
    created = await admin.post(API, json={"username": "wang.fang", "password": PASSWORD, "role": "agent",
                                          "display_name": "王芳", "agent_id": "1001", "device": "PJSIP/1001"})
    assert created.status == 201, created.body
    assert created.json == {"username": "wang.fang", "display_name": "王芳", "role": "agent", "department": None,
                            "active": True, "agent_id": "1001", "device": "PJSIP/1001", "locked_until": None}
    listed = (await admin.get(API)).json["items"]
    assert [u["username"] for u in listed] == ["agent9", "root1", "wang.fang"]
    assert all("password" not in str(u) for u in listed)
    assert (await admin.post(f"{API}/wang.fang/password", json={"password": "another-pass-9"})).status == 200
    assert (await server.client().login("wang.fang", "another-pass-9")).status == 303
    role = await admin.post(f"{API}/wang.fang/role", json={"role": "department", "department": "water"})
    assert (role.json["role"], role.json["department"]) == ("department", "water")
    profile = await admin.post(f"{API}/wang.fang/profile", json={"device": "PJSIP/1002"})
    assert (profile.json["agent_id"], profile.json["device"]) == ("1001", "PJSIP/1002")
    assert (await admin.post(f"{API}/wang.fang/disable")).json["active"] is False
    assert (await server.client().login("wang.fang", "another-pass-9")).status == 401
    assert (await admin.post(f"{API}/wang.fang/enable")).json["active"] is True


@pytest_twisted.ensureDeferred
async def test_a_locked_account_shows_its_lock_and_unlock_lifts_it(server):
    """After five wrong passwords agent9's locked_until is set; unlock clears it and agent9 logs in."""
    for _ in range(5):
        await server.client().login("agent9", "wrong-password")
    admin = await _bearer(server, "root1")
    (agent,) = [u for u in (await admin.get(API)).json["items"] if u["username"] == "agent9"]
    assert agent["locked_until"] is not None
    assert (await admin.post(f"{API}/agent9/unlock")).json["locked_until"] is None
    assert (await server.client().login("agent9")).status == 303


@pytest.mark.parametrize("path, body, status, error_id", [
    (API, {"username": "x1", "password": PASSWORD, "role": "agent", "is_admin": True}, 422, "request.unknown_fields"),
    (API, {"username": "x1", "password": PASSWORD, "role": ["admin"]}, 422, "request.invalid_field"),
    (API, {"username": "x1", "role": "agent"}, 422, "user.weak_password"),
    (API, {"username": "agent9", "password": PASSWORD, "role": "agent"}, 409, "user.exists"),
    (API + "/nobody/disable", None, 404, "user.not_found"),
    (API + "/agent9/promote", None, 404, "account.unknown_action"),
    (API + "/agent9/role", {"role": "department"}, 422, "user.department_required"),
    (API + "/agent9/profile", {"device": "PJSIP/1\r\nAction: Originate"}, 422, "user.bad_device"),
    (API + "/root1/disable", None, 422, "account.self_disable"),
])
@pytest_twisted.ensureDeferred
async def test_bad_requests_are_refused_with_their_error_and_change_nothing(server, path, body, status, error_id):
    """Each refusal is the standard error body with a stable id; the accounts are as they were."""
    admin = await _bearer(server, "root1")
    before = (await admin.get(API)).json
    resp = await admin.post(path, json=body) if body is not None else await admin.post(path)
    assert resp.status == status and resp.json["error_id"] == error_id, resp.body
    assert (await admin.get(API)).json == before


@pytest_twisted.ensureDeferred
async def test_only_administrators_and_only_with_the_csrf_header_for_sessions(server):
    """An agent's token gets 403, no credentials 401; an administrator's browser session needs the
    X-CSRF-Token header for a change."""
    agent = await _bearer(server, "agent9")
    assert (await agent.get(API)).status == 403
    assert (await agent.post(f"{API}/agent9/enable")).status == 403
    assert (await server.client().get(API)).status == 401
    session = server.client()
    await session.login("root1")
    assert (await session.get(API)).status == 200
    refused = await session.post(f"{API}/agent9/disable")
    assert refused.status == 403
    csrf = (await session.get("/api/v1/me")).json["csrf_token"]
    assert (await session.post(f"{API}/agent9/disable", headers={"X-CSRF-Token": csrf})).json["active"] is False
