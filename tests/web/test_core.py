"""The HTTP core: health, metrics, JSON errors, limits, headers, i18n, log-in, tokens."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
import pytest_twisted

from tests.web.conftest import PASSWORD, _release, start_server, stop_server

CORE = ("callcenter.web.health", "callcenter.auth.web")


@pytest.fixture
def core(db_url):
    server = start_server(db_url, features=CORE)
    yield server
    stop_server(server)


@pytest_twisted.ensureDeferred
async def test_healthz_reports_database_and_version(core):
    """/healthz answers JSON saying the database is reachable and which version runs."""
    resp = await core.client().get("/healthz")
    assert resp.status == 200
    assert resp.json["status"] == "ok"
    assert resp.json["db"]["reachable"] is True
    assert resp.json["db"]["backend"] in ("sqlite", "postgresql")
    assert re.match(r"\d+\.\d+", resp.json["version"])


@pytest_twisted.ensureDeferred
async def test_security_headers_on_every_response(core):
    """Pages, JSON and errors all carry CSP with frame-ancestors, nosniff and DENY framing."""
    client = core.client()
    for path in ("/healthz", "/login", "/no/such/page"):
        resp = await client.get(path)
        csp = resp.header("content-security-policy")
        assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp, path
        assert resp.header("x-content-type-options") == "nosniff"
        assert resp.header("x-frame-options") == "DENY"


@pytest_twisted.ensureDeferred
async def test_unknown_route_and_method_are_json_errors(core):
    """An unknown path is a JSON 404 and a wrong method a JSON 405, each with a stable error_id."""
    client = core.client()
    resp = await client.get("/api/v1/nothing-here")
    assert resp.status == 404 and resp.json["error_id"] == "http.not_found"
    assert set(resp.json) == {"error_id", "message", "details"}
    resp = await client.request("DELETE", "/healthz")
    assert resp.status == 405 and resp.json["error_id"] == "http.method_not_allowed"


@pytest_twisted.ensureDeferred
async def test_oversized_body_is_refused_before_any_handler(core):
    """A body over auth.max_body_bytes gets 413 http.body_too_large, also on the token endpoint."""
    core.add_user("alice", "agent")
    big = b'{"username": "alice", "password": "' + b"x" * (70 * 1024) + b'"}'
    resp = await core.client().post("/api/v1/tokens", body=big, headers={"Content-Type": "application/json"})
    assert resp.status == 413
    assert resp.json["error_id"] == "http.body_too_large"
    assert resp.json["details"]["max_bytes"] == 64 * 1024


@pytest_twisted.ensureDeferred
async def test_metrics_exposes_the_shared_registry(core):
    """/metrics is Prometheus text with the HTTP counters the core records."""
    client = core.client()
    await client.get("/healthz")
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert resp.header("content-type").startswith("text/plain")
    assert 'hotline_http_requests_total{area="healthz",method="GET",route="/healthz",status="200"}' in resp.text


@pytest_twisted.ensureDeferred
async def test_metrics_labels_come_from_route_templates_so_junk_paths_do_not_grow_metrics(core):
    """Many junk paths and methods share the ``unmatched`` route and ``other`` method labels: the exposition
    stays the same size however many distinct paths clients invent."""
    client = core.client()
    await client.get("/junk-0")
    before = len((await client.get("/metrics")).body)
    for i in range(1, 60):
        await client.get(f"/junk-{i}/x{i}")
        await client.request(f"BREW{i}", f"/api/v1/junk{i}")
    text = (await client.get("/metrics")).text
    assert "junk-" not in text and "BREW" not in text
    assert 'route="unmatched"' in text and 'method="other"' in text
    # only the counts changed (a few more digits), not the set of series
    assert len(text.encode()) - before < 400


@pytest_twisted.ensureDeferred
async def test_token_endpoint_issues_bearer_tokens_and_rejects_bad_input(core):
    """Right credentials give a working bearer token; wrong ones, junk JSON and unknown fields are 4xx."""
    core.add_user("disp", "dispatcher")
    client = core.client()
    token = await client.token("disp")
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status == 200 and me.json["user"]["role"] == "dispatcher" and me.json["via"] == "token"

    bad = await client.post("/api/v1/tokens", json={"username": "disp", "password": "wrong-password"})
    assert bad.status == 401 and bad.json["error_id"] == "auth.invalid_credentials"
    junk = await client.post("/api/v1/tokens", body=b"{not json", headers={"Content-Type": "application/json"})
    assert junk.status == 400 and junk.json["error_id"] == "http.malformed_json"
    extra = await client.post("/api/v1/tokens", json={"username": "disp", "password": PASSWORD, "role": "admin"})
    assert extra.status == 400 and extra.json["error_id"] == "request.unknown_fields"
    typed = await client.post("/api/v1/tokens", json={"username": ["disp"], "password": PASSWORD})
    assert typed.status == 400 and typed.json["error_id"] == "request.invalid_field"

    nobody = await client.get("/api/v1/me")
    assert nobody.status == 401 and nobody.json["error_id"] == "auth.required"
    forged = await client.get("/api/v1/me", headers={"Authorization": "Bearer " + token[:-2] + "xx"})
    assert forged.status == 401 and forged.json["error_id"] == "auth.invalid_token"
    basic = await client.get("/api/v1/me", headers={"Authorization": "Basic ZGlzcDpwdw=="})
    assert basic.status == 401 and basic.json["error_id"] == "auth.bad_authorization"


@pytest_twisted.ensureDeferred
async def test_tokens_are_stored_hashed_and_revocable(core):
    """The database never holds the token text; a revoked token stops working."""
    from sqlalchemy import select

    from callcenter.auth.tables import api_tokens

    core.add_user("disp", "dispatcher")
    client = core.client()
    token = await client.token("disp")
    with core.engine.connect() as conn:
        stored = [r.token_hash for r in conn.execute(select(api_tokens))]
    assert stored and token not in stored and all(len(h) == 64 for h in stored)
    assert core.deps.auth.revoke_token(token)
    resp = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 401


@pytest_twisted.ensureDeferred
async def test_login_sets_a_hardened_signed_session_cookie_and_logout_ends_it(core):
    """Log-in gives an HttpOnly SameSite=Lax signed cookie; log-out (with CSRF) kills the session."""
    core.add_user("dept1", "department", department="housing")
    client = core.client()
    resp = await client.login("dept1")
    assert resp.status == 303 and resp.header("location") == "/dept"
    cookie = next(c for c in resp.headers["set-cookie-all"] if c.startswith("hotline_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert "." in client.cookies["hotline_session"]

    me = await client.get("/api/v1/me")
    assert me.status == 200 and me.json["via"] == "session"
    csrf = me.json["csrf_token"]

    tampered = dict(client.cookies)
    sid, _, mac = tampered["hotline_session"].rpartition(".")
    evil = core.client()
    evil.cookies = {"hotline_session": sid[:-1] + ("A" if sid[-1] != "A" else "B") + "." + mac}
    assert (await evil.get("/api/v1/me")).status == 401

    no_token = await client.post("/logout", data={})
    assert no_token.status == 403
    assert (await client.get("/api/v1/me")).status == 200
    out = await client.post("/logout", data={"csrf_token": csrf})
    assert out.status == 303 and out.header("location") == "/login?logged_out=1"
    assert (await client.get("/api/v1/me")).status == 401
    again = core.client()
    again.cookies = tampered
    assert (await again.get("/api/v1/me")).status == 401


@pytest_twisted.ensureDeferred
async def test_login_refuses_wrong_password_cross_origin_and_missing_csrf(core):
    """Wrong password shows the bilingual error; a cross-site or token-less POST logs nobody in."""
    core.add_user("agent1", "agent")
    client = core.client()
    resp = await client.login("agent1", "not-the-password")
    assert resp.status == 401 and "用户名或密码错误" in resp.text and "hotline_session" not in client.cookies

    page = await client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    cross = await client.post("/login", data={"username": "agent1", "password": PASSWORD, "csrf_token": token},
                              headers={"Origin": "http://evil.example"})
    assert cross.status == 403 and "hotline_session" not in client.cookies
    missing = await client.post("/login", data={"username": "agent1", "password": PASSWORD})
    assert missing.status == 403 and "hotline_session" not in client.cookies


@pytest_twisted.ensureDeferred
async def test_login_next_only_allows_local_paths(core):
    """An open redirect through ?next= to another host is not possible."""
    core.add_user("agent1", "agent")
    client = core.client()
    page = await client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    resp = await client.post("/login", data={"username": "agent1", "password": PASSWORD, "csrf_token": token,
                                             "next": "//evil.example/x"})
    assert resp.status == 303 and not resp.header("location").startswith("//")


@pytest_twisted.ensureDeferred
async def test_session_api_calls_need_the_csrf_header_for_changes(db_url):
    """With a session cookie, an unsafe API call without X-CSRF-Token is refused (403 auth.csrf) and
    changes nothing; the same call with the session's token passes the check (and reaches validation)."""
    server = start_server(db_url, features=CORE + ("callcenter.workorders.api",))
    try:
        server.add_user("agent1", "agent")
        client = server.client()
        await client.login("agent1")
        refused = await client.request("POST", "/api/v1/workorders", json={})
        assert refused.status == 403 and refused.json["error_id"] == "auth.csrf"
        csrf = (await client.get("/api/v1/me")).json["csrf_token"]
        checked = await client.request("POST", "/api/v1/workorders", json={}, headers={"X-CSRF-Token": csrf})
        assert checked.status == 422 and checked.json["error_id"] != "auth.csrf"   # an empty order is invalid
        listed = await client.get("/api/v1/workorders")
        assert listed.status == 200 and listed.json["items"] == []
    finally:
        await server._port.stopListening()
        _release(server)


@pytest_twisted.ensureDeferred
async def test_pages_are_chinese_by_default_and_switch_to_english(core):
    """The log-in page is Chinese first; ?lang=en switches and the choice sticks in a cookie."""
    client = core.client()
    zh = await client.get("/login")
    assert 'lang="zh-CN"' in zh.text and "用户名" in zh.text and 'href="/login?lang=en"' in zh.text
    en = await client.get("/login?lang=en")
    assert 'lang="en"' in en.text and "User name" in en.text
    again = await client.get("/login")
    assert "User name" in again.text


def test_idle_sessions_expire(db_url):
    """A session unused for longer than the idle limit is gone, and stays gone."""
    from callcenter.auth.service import AuthService
    from callcenter.db import make_engine

    engine = make_engine(db_url)
    auth = AuthService(engine, time_cost=1, memory_kib=1024)
    t0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
    user = auth.add_user("clerk", PASSWORD, "agent", t0)
    sid, _ = auth.open_session(user, t0)
    idle = timedelta(minutes=30)
    assert auth.session(sid, t0 + timedelta(minutes=29), idle).user.username == "clerk"
    assert auth.session(sid, t0 + timedelta(minutes=58), idle) is not None  # touched at 29 min
    assert auth.session(sid, t0 + timedelta(minutes=89), idle) is None
    assert auth.session(sid, t0 + timedelta(minutes=90), idle) is None
    engine.dispose()


def test_user_validation_changes_nothing_on_bad_input(db_url):
    """Bad user names, roles, short passwords, duplicates and missing departments are refused."""
    from callcenter.auth.service import AuthError, AuthService
    from callcenter.db import make_engine

    engine = make_engine(db_url)
    auth = AuthService(engine, time_cost=1, memory_kib=1024)
    now = datetime(2026, 11, 23, tzinfo=timezone.utc)
    auth.add_user("ok.user", PASSWORD, "agent", now)
    cases = [
        (("Robert'); DROP TABLE users;--", PASSWORD, "agent"), {}, "user.bad_username"),
        (("x2", PASSWORD, "root"), {}, "user.bad_role"),
        (("x3", "short", "agent"), {}, "user.weak_password"),
        (("ok.user", PASSWORD, "agent"), {}, "user.exists"),
        (("x4", PASSWORD, "department"), {}, "user.department_required"),
    ]
    for args, kwargs, error_id in cases:
        with pytest.raises(AuthError) as info:
            auth.add_user(*args, now, **kwargs)
        assert info.value.error_id == error_id
    assert [u.username for u in auth.list_users()] == ["ok.user"]
    assert auth.check_password("ok.user", PASSWORD) is not None
    auth.set_active("ok.user", False)
    assert auth.check_password("ok.user", PASSWORD) is None
    engine.dispose()


@pytest_twisted.ensureDeferred
async def test_static_stylesheet_is_served_as_css(web):
    """With every feature mounted, /static/hotline.css is still served as text/css; no directory listing."""
    client = web.client()
    css = await client.get("/static/hotline.css")
    assert css.status == 200 and css.header("content-type").startswith("text/css") and b".sla-green" in css.body
    assert (await client.get("/static/")).status == 404
    for path in ("/static/nothing.css", "/static/..%2Fhealth.py", "/static/../health.py", "/static/hotline.css/x"):
        missing = await client.get(path)
        assert missing.status == 404 and missing.json["error_id"] == "http.not_found", path
    js = await client.get("/desk-static/desk.js")
    assert js.status == 200 and "javascript" in js.header("content-type")


@pytest_twisted.ensureDeferred
async def test_features_with_same_handler_names_do_not_shadow_each_other(core):
    """Two mounts and two routes whose functions share a name each keep their own handler."""
    from twisted.web.resource import Resource

    class Text(Resource):
        isLeaf = True

        def __init__(self, body: bytes):
            super().__init__()
            self.body = body

        def render_GET(self, request):
            return self.body

    app = core.root.app
    app.mount("one", Text(b"first"))
    app.mount("two", Text(b"second"))
    for path, text in (("/one/", "alpha"), ("/two/", "beta")):
        @app.route(path.rstrip("/") + "/page", methods=["GET"])
        def page(request, text=text):
            return text
    client = core.client()
    assert (await client.get("/one")).body == b"first" and (await client.get("/two")).body == b"second"
    assert (await client.get("/one/page")).body == b"alpha" and (await client.get("/two/page")).body == b"beta"


def test_users_command_adds_lists_and_issues_tokens(db_url, monkeypatch, capsys):
    """`callcenter users add/list/token` manage accounts; a bad role or department exits 2 and adds nothing."""
    import callcenter.logs
    from callcenter.cli import main

    monkeypatch.setattr(callcenter.logs, "setup_logging", lambda *a, **k: None)  # keep pytest's log capture
    monkeypatch.setenv("HOTLINE_TEST_PW", PASSWORD)
    monkeypatch.setenv("CALLCENTER_AUTH_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("CALLCENTER_AUTH_ARGON2_MEMORY_KIB", "1024")
    base = ["users", "--url", db_url]
    assert main(base + ["add", "clerk", "--role", "department", "--department", "housing",
                        "--password-env", "HOTLINE_TEST_PW"]) == 0
    assert main(base + ["add", "ghost", "--role", "department", "--department", "ministry-of-magic",
                        "--password-env", "HOTLINE_TEST_PW"]) == 2
    assert main(base + ["add", "nodept", "--role", "department", "--password-env", "HOTLINE_TEST_PW"]) == 2
    capsys.readouterr()
    assert main(base + ["list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 1 and listed[0].startswith("clerk\tdepartment\thousing\tactive")
    assert main(base + ["token", "clerk", "--open311", "--name", "civic"]) == 0
    assert capsys.readouterr().out.startswith("o311_")
