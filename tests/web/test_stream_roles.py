"""Every SSE route refuses like the API: JSON 401 without a session, JSON 403 for a wrong role (never a 500)."""
from __future__ import annotations

import pytest_twisted

# each event stream of the product and a role it admits
STREAM_ROUTES = ("/wallboard/events", "/supervisor/calls/events", "/agent/events")


@pytest_twisted.ensureDeferred
async def test_stream_routes_refuse_with_the_api_json_errors(web):
    """A department user gets 403 auth.forbidden as JSON on each stream route, naming the roles required;
    a request without a session gets 401 auth.required as JSON; neither opens a stream."""
    web.add_user("water1", "department", department="water")
    dept = web.client()
    assert (await dept.login("water1")).status == 303
    anonymous = web.client()
    for path in STREAM_ROUTES:
        refused = await dept.get(path)
        assert refused.status == 403, (path, refused.status, refused.body[:200])
        assert refused.header("content-type").startswith("application/json")
        assert refused.json["error_id"] == "auth.forbidden" and refused.json["details"]["role"] == "department"
        assert "department" not in refused.json["details"]["required"]
        nobody = await anonymous.get(path)
        assert nobody.status == 401, (path, nobody.status, nobody.body[:200])
        assert nobody.header("content-type").startswith("application/json")
        assert nobody.json["error_id"] == "auth.required"


@pytest_twisted.ensureDeferred
async def test_a_bad_bearer_token_on_a_stream_is_a_json_401(web):
    """A malformed or unknown bearer token on a stream route is the API's JSON 401, not a 500."""
    for path in STREAM_ROUTES:
        malformed = await web.client().get(path, headers={"Authorization": "Basic abc"})
        assert malformed.status == 401 and malformed.json["error_id"] == "auth.bad_authorization"
        unknown = await web.client().get(path, headers={"Authorization": "Bearer nope"})
        assert unknown.status == 401 and unknown.json["error_id"] == "auth.invalid_token"


@pytest_twisted.ensureDeferred
async def test_wallboard_snapshot_api_refuses_with_json_too(web):
    """/api/v1/wallboard (the JSON sibling of the wallboard stream) answers a department user 403
    auth.forbidden and an anonymous caller 401 auth.required, as JSON; a supervisor gets the snapshot."""
    web.add_user("water1", "department", department="water")
    web.add_user("sup1", "supervisor")
    dept, sup = web.client(), web.client()
    await dept.login("water1")
    await sup.login("sup1")
    refused = await dept.get("/api/v1/wallboard")
    assert refused.status == 403 and refused.json["error_id"] == "auth.forbidden"
    nobody = await web.client().get("/api/v1/wallboard")
    assert nobody.status == 401 and nobody.json["error_id"] == "auth.required"
    snap = await sup.get("/api/v1/wallboard")
    assert snap.status == 200 and snap.header("content-type").startswith("application/json") and "totals" in snap.json
