"""Bad input in one place: NUL and other control characters, broken Unicode, text that is not UTF-8, very
deep JSON, huge numbers and non-ASCII digits get a 400 with an error id on every route — including the
unauthenticated log-in and token endpoints, on PostgreSQL too (which cannot store NUL) — and change nothing."""
from __future__ import annotations

import pytest
import pytest_twisted
from sqlalchemy import func, select

from callcenter.auth.tables import login_failures
from ticketing.persistence.tables import work_orders
from tests.web.conftest import csrf_of, start_server, stop_server


@pytest.fixture
def server(db_url):
    s = start_server(db_url)
    yield s
    stop_server(s)


def counts(server):
    with server.engine.connect() as conn:
        return (conn.execute(select(func.count()).select_from(login_failures)).scalar_one(),
                conn.execute(select(func.count()).select_from(work_orders)).scalar_one())


@pytest_twisted.ensureDeferred
async def test_nul_and_broken_unicode_on_the_unauthenticated_endpoints_are_400_and_count_nothing(server):
    server.add_user("agent1", "agent")
    client = server.client()
    before = counts(server)
    for body in ({"username": "agent1\u0000", "password": "x"}, {"username": "agent1", "password": "a\u0000b"},
                 {"username": "agent1\ud800", "password": "x"}):
        resp = await client.post("/api/v1/tokens", body=__import__("json").dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
        assert resp.status == 400 and resp.json["error_id"] == "http.invalid_text", resp.body
    page = await client.get("/login")
    resp = await client.post("/login", data={"username": "agent1\x00", "password": "x", "csrf_token": csrf_of(page.text),
                                             "next": ""})
    assert resp.status == 400 and resp.json["error_id"] == "http.invalid_text"
    resp = await client.post("/login", body=b"username=agent1&password=%ff%fe&csrf_token=x",
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status == 400 and resp.json["error_id"] == "http.bad_encoding"
    assert counts(server) == before


@pytest_twisted.ensureDeferred
async def test_paths_and_queries_with_nul_bad_utf8_or_odd_digits_are_400(server):
    server.add_user("disp", "dispatcher")
    server.add_user("sup", "supervisor")
    client = server.client()
    headers = {"Authorization": f"Bearer {await client.token('disp')}"}
    supervisor = {"Authorization": f"Bearer {await client.token('sup')}"}
    cases = [("/api/v1/workorders/2026%00", "http.invalid_text"), ("/api/v1/workorders/%ff%fe", "http.bad_encoding"),
             ("/api/v1/workorders?status=%00", "http.invalid_text"), ("/api/v1/workorders?q=%c3%28", "http.bad_encoding"),
             ("/api/v1/workorders?limit=%C2%B2", "request.invalid_query"),           # "²": isdigit() but not a number
             ("/api/v1/workorders?limit=%EF%BC%91%EF%BC%92", "request.invalid_query"),  # fullwidth "１２"
             ("/api/v1/search?q=x&limit=%C2%B2", "search.bad_limit")]
    for path, error_id in cases:
        resp = await client.get(path, headers=headers)
        assert resp.status in (400, 404) and resp.json["error_id"] == error_id, (path, resp.status, resp.body[:200])
    for oversized in ("99999999999999999999999999", "999999999999", "2147483648"):  # beyond PostgreSQL's int4
        resp = await client.post(f"/api/v1/callbacks/{oversized}/result", json={"answer": "satisfied"},
                                 headers=headers)
        assert resp.status == 404 and resp.json["error_id"] == "callback.not_found", (oversized, resp.status)
        resp = await client.post(f"/api/v1/callbacks/webhooks/{oversized}/retry", headers=supervisor)
        assert resp.status == 404 and resp.json["error_id"] == "callback.webhook_not_found", (oversized, resp.status)


@pytest_twisted.ensureDeferred
async def test_deep_json_huge_numbers_and_non_json_constants_are_400_and_create_nothing(server):
    server.add_user("agent1", "agent")
    client = server.client()
    headers = {"Authorization": f"Bearer {await client.token('agent1')}", "Content-Type": "application/json"}
    before = counts(server)
    bodies = [
        (b'{"summary": ' + b"[" * 30000 + b"]" * 30000 + b"}", "http.json_too_deep"),
        (b'{"summary": "x", "district": ' + b"9" * 5000 + b"}", "http.number_too_large"),
        (b'{"summary": "x", "n": 99999999999999999999}', "http.number_too_large"),
        (b'{"summary": "x", "n": 1e999}', "http.number_too_large"),
        (b'{"summary": "x", "n": NaN}', "http.malformed_json"),
        (b'{"summary": "\\u0000"}', "http.invalid_text"),
        (b'{"summary": "\\ud83d"}', "http.invalid_text"),
        (b'{"sum\\u0000mary": "x"}', "http.invalid_text"),
    ]
    for body, error_id in bodies:
        resp = await client.post("/api/v1/workorders", body=body, headers=headers)
        assert resp.status == 400 and resp.json["error_id"] == error_id, (body[:60], resp.status, resp.body[:200])
    assert counts(server) == before
