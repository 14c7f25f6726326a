"""/admin/users over real HTTP on SQLite and PostgreSQL: an administrator adds accounts, resets
passwords, disables and enables, sets the agent profile and lifts log-in locks; refusals change
nothing; only administrators, and only with the CSRF token."""
from __future__ import annotations

import logging

import pytest
import pytest_twisted
from sqlalchemy import func, select

from callcenter.auth.tables import users
from tests.web.conftest import PASSWORD, csrf_of, post_form, serving, signed_in

NEW_PASSWORD = "new-password-77"


@pytest.fixture
def admin_web(db_url):
    """The full web service with one administrator, root1."""
    with serving(db_url, root1="admin") as server:
        yield server


def _admin(web):
    return signed_in(web, "root1")


def _post(client, path: str, **fields):
    return post_form(client, "/admin/users", path, **fields)


def _count(web) -> int:
    with web.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(users)).scalar_one()


ADD = {"username": "wang.fang", "display_name": "王芳 <b>", "role": "agent", "department": "",
       "agent_id": "1001", "device": "PJSIP/1001", "password": PASSWORD, "confirm": PASSWORD}


@pytest_twisted.ensureDeferred
async def test_admin_adds_an_agent_who_can_then_log_in(admin_web, caplog):
    """The form creates the account (303 to the list, which shows it with its profile, the name escaped)
    and the new agent logs in to the desk; the change is logged with the administrator's name."""
    caplog.set_level(logging.INFO, logger="callcenter.accounts.service")
    admin = await _admin(admin_web)
    done = await _post(admin, "/admin/users", **ADD)
    assert done.status == 303 and done.header("location") == "/admin/users?done=added"
    page = (await admin.get("/admin/users?done=added")).text
    assert 'data-username="wang.fang"' in page and "王芳 &lt;b&gt;" in page and "PJSIP/1001" in page
    assert 'id="done" data-done="added"' in page and "账号已创建" in page
    assert (await admin_web.client().login("wang.fang")).header("location") == "/agent"
    logged = [r.fields for r in caplog.records if getattr(r, "fields", {}).get("event") == "account.add"]
    assert logged == [{"event": "account.add", "by": "root1", "user": "wang.fang", "role": "agent",
                       "department": None}]


@pytest.mark.parametrize("change, error_id", [
    ({"username": "Bad Name"}, "user.bad_username"),
    ({"confirm": "something-else"}, "user.password_mismatch"),
    ({"password": "short", "confirm": "short"}, "user.weak_password"),
    ({"role": "department", "department": "no-such-bureau"}, "user.unknown_department"),
    ({"role": "root"}, "user.bad_role"),
    ({"device": "PJSIP/1001\r\nAction: Originate"}, "user.bad_device"),
    ({"username": "root1"}, "user.exists"),
])
@pytest_twisted.ensureDeferred
async def test_a_refused_add_says_why_keeps_what_was_typed_and_adds_nobody(admin_web, change, error_id):
    """Each bad field gets a 422 page naming the error (409 for a taken user name); the typed user name stays in the form, the
    passwords do not; no account is added."""
    admin = await _admin(admin_web)
    before = _count(admin_web)
    resp = await _post(admin, "/admin/users", **dict(ADD, **change))
    assert resp.status == (409 if error_id == "user.exists" else 422) and f'data-error-id="{error_id}"' in resp.text
    assert PASSWORD not in resp.text
    typed = dict(ADD, **change)["username"]
    assert f'value="{typed}"' in resp.text
    assert _count(admin_web) == before


@pytest_twisted.ensureDeferred
async def test_only_administrators_reach_the_page_and_every_form_needs_the_csrf_token(admin_web):
    """A supervisor gets 403 on the page and the forms; without a session the page sends to log-in; an
    administrator's post without the token is refused; nothing changes."""
    admin_web.add_user("sup1", "supervisor")
    admin_web.add_user("agent1", "agent")
    sup = admin_web.client()
    await sup.login("sup1")
    assert (await sup.get("/admin/users")).status == 403
    sup_token = csrf_of((await sup.get("/supervisor")).text)
    refused = await sup.post("/admin/users/agent1/disable", data={"csrf_token": sup_token})
    assert refused.status == 403
    anonymous = await admin_web.client().get("/admin/users")
    assert anonymous.status in (302, 303) and "/login" in anonymous.header("location")
    admin = await _admin(admin_web)
    no_token = await admin.post("/admin/users/agent1/disable", data={})
    assert no_token.status == 403
    assert admin_web.deps.auth.get_user("agent1").active
    page = (await admin.get("/admin/users")).text
    assert 'href="/admin/users"' in page and "账号管理" in page
    assert "Accounts" in (await admin.get("/admin/users?lang=en")).text


@pytest_twisted.ensureDeferred
async def test_disabling_ends_the_users_session_and_enabling_lets_them_back(admin_web):
    """A disabled agent's open session stops working at once and the password is refused; enabled
    again, the agent logs in. An administrator cannot disable their own account."""
    admin_web.add_user("agent1", "agent")
    agent = admin_web.client()
    await agent.login("agent1")
    assert (await agent.get("/api/v1/me")).status == 200
    admin = await _admin(admin_web)
    assert (await _post(admin, "/admin/users/agent1/disable")).header("location") == "/admin/users?done=disabled"
    assert (await agent.get("/api/v1/me")).status == 401
    assert (await admin_web.client().login("agent1")).status == 401
    page = (await admin.get("/admin/users")).text
    assert 'data-username="agent1" data-active="false"' in page
    assert (await _post(admin, "/admin/users/agent1/enable")).status == 303
    assert (await admin_web.client().login("agent1")).status == 303
    own = await _post(admin, "/admin/users/root1/disable")
    assert own.status == 422 and 'data-error-id="account.self_disable"' in own.text
    assert admin_web.deps.auth.get_user("root1").active
    missing = await _post(admin, "/admin/users/nobody/enable")
    assert missing.status == 404 and 'data-error-id="user.not_found"' in missing.text


@pytest_twisted.ensureDeferred
async def test_a_password_reset_signs_the_user_out_and_only_the_new_password_works(admin_web):
    """Mismatched passwords are refused and change nothing; a reset ends the agent's session, the old
    password is refused and the new one works."""
    admin_web.add_user("agent1", "agent")
    agent = admin_web.client()
    await agent.login("agent1")
    admin = await _admin(admin_web)
    mismatch = await _post(admin, "/admin/users/agent1/password", password=NEW_PASSWORD, confirm="other-password")
    assert mismatch.status == 422 and 'data-error-id="user.password_mismatch"' in mismatch.text
    assert (await agent.get("/api/v1/me")).status == 200
    reset = await _post(admin, "/admin/users/agent1/password", password=NEW_PASSWORD, confirm=NEW_PASSWORD)
    assert reset.header("location") == "/admin/users?done=password"
    assert (await agent.get("/api/v1/me")).status == 401
    assert (await admin_web.client().login("agent1")).status == 401
    assert (await admin_web.client().login("agent1", NEW_PASSWORD)).status == 303


@pytest_twisted.ensureDeferred
async def test_a_locked_out_agent_is_shown_locked_and_unlocking_lets_them_in(admin_web):
    """After five wrong passwords the agent is refused (429) even with the right one; the list marks the
    account locked with its end; Unlock lifts it and the agent logs in at once."""
    admin_web.add_user("agent1", "agent")
    for _ in range(5):
        assert (await admin_web.client().login("agent1", "wrong-password")).status == 401
    assert (await admin_web.client().login("agent1")).status == 429
    admin = await _admin(admin_web)
    page = (await admin.get("/admin/users")).text
    assert 'data-username="agent1" data-active="true"\n      data-locked="true"' in page
    assert 'action="/admin/users/agent1/unlock"' in page and "锁定至" in page
    assert 'action="/admin/users/root1/unlock"' not in page
    assert (await _post(admin, "/admin/users/agent1/unlock")).header("location") == "/admin/users?done=unlocked"
    assert (await admin_web.client().login("agent1")).status == 303
    assert 'data-locked="true"' not in (await admin.get("/admin/users")).text


@pytest_twisted.ensureDeferred
async def test_the_profile_form_sets_and_clears_the_agent_id_and_phone(admin_web):
    """The agent id and phone are saved, validated (CR/LF in a device is refused, unchanged) and cleared."""
    admin_web.add_user("agent1", "agent")
    admin = await _admin(admin_web)
    saved = await _post(admin, "/admin/users/agent1/profile", agent_id="2001", device="PJSIP/2001")
    assert saved.header("location") == "/admin/users?done=profile"
    user = admin_web.deps.auth.get_user("agent1")
    assert (user.agent_id, user.device) == ("2001", "PJSIP/2001")
    bad = await _post(admin, "/admin/users/agent1/profile", agent_id="2001", device="PJSIP/2001\r\nX: y")
    assert bad.status == 422 and 'data-error-id="user.bad_device"' in bad.text
    assert admin_web.deps.auth.get_user("agent1").device == "PJSIP/2001"
    assert (await _post(admin, "/admin/users/agent1/profile", agent_id="", device="")).status == 303
    user = admin_web.deps.auth.get_user("agent1")
    assert (user.agent_id, user.device) == (None, None)


@pytest_twisted.ensureDeferred
async def test_changing_a_role_signs_the_user_out_and_the_new_role_applies(admin_web):
    """agent1 made a dispatcher: their session ends, and their next log-in lands on the dispatch console.
    Department staff need a known department; an administrator cannot change their own role; refusals
    change nothing."""
    admin_web.add_user("agent1", "agent")
    agent = admin_web.client()
    await agent.login("agent1")
    admin = await _admin(admin_web)
    for fields, error_id in (({"role": "department", "department": ""}, "user.department_required"),
                             ({"role": "department", "department": "no-such-bureau"}, "user.unknown_department"),
                             ({"role": "root", "department": ""}, "user.bad_role")):
        refused = await _post(admin, "/admin/users/agent1/role", **fields)
        assert refused.status == 422 and f'data-error-id="{error_id}"' in refused.text
    assert admin_web.deps.auth.get_user("agent1").role == "agent"
    assert (await agent.get("/api/v1/me")).status == 200
    done = await _post(admin, "/admin/users/agent1/role", role="dispatcher", department="")
    assert done.header("location") == "/admin/users?done=role"
    assert (await agent.get("/api/v1/me")).status == 401
    assert (await admin_web.client().login("agent1")).header("location") == "/dispatch"
    staff = await _post(admin, "/admin/users/agent1/role", role="department", department="water")
    assert staff.status == 303
    user = admin_web.deps.auth.get_user("agent1")
    assert (user.role, user.department) == ("department", "water")
    own = await _post(admin, "/admin/users/root1/role", role="agent", department="")
    assert own.status == 422 and 'data-error-id="account.self_role"' in own.text
    assert admin_web.deps.auth.get_user("root1").role == "admin"
    assert 'action="/admin/users/root1/role"' not in (await admin.get("/admin/users")).text


def test_users_role_command_changes_the_role_and_checks_the_department(db_url, monkeypatch, capsys):
    """`callcenter users role NAME --role R [--department D]` changes the role (printed); a department
    role without a known department is an error (exit 2) and changes nothing."""
    import callcenter.logs
    from callcenter.cli import main
    from callcenter.db import make_engine

    monkeypatch.setattr(callcenter.logs, "setup_logging", lambda *a, **k: None)
    monkeypatch.setenv("HOTLINE_TEST_PW", PASSWORD)
    monkeypatch.setenv("CALLCENTER_AUTH_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("CALLCENTER_AUTH_ARGON2_MEMORY_KIB", "1024")
    base = ["users", "--url", db_url]
    assert main(base + ["add", "clerk", "--role", "agent", "--password-env", "HOTLINE_TEST_PW"]) == 0
    capsys.readouterr()
    assert main(base + ["role", "clerk", "--role", "department"]) == 2
    assert "user.department_required" in capsys.readouterr().err
    assert main(base + ["role", "clerk", "--role", "department", "--department", "nowhere"]) == 2
    assert main(base + ["role", "clerk", "--role", "department", "--department", "water"]) == 0
    assert capsys.readouterr().out.strip().endswith("clerk: department, water")
    engine = make_engine(db_url)
    try:
        from callcenter.auth.service import AuthService

        user = AuthService(engine, time_cost=1, memory_kib=1024).get_user("clerk")
        assert (user.role, user.department) == ("department", "water")
    finally:
        engine.dispose()
