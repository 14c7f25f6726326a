"""Every /api/v1 route the app serves is in the OpenAPI document, and the document names no route that is not served."""
from __future__ import annotations

import json
import re

import pytest_twisted

from tests.web.conftest import start_server, stop_server_async

KLEIN_PARAM = re.compile(r"<(?:[^:>]+:)?[^>]+>")
OPENAPI_PARAM = re.compile(r"\{[^}]+\}")


def _served(app) -> list[tuple[re.Pattern, str, str]]:
    """(pattern, method, rule) for each /api/v1 route; a pattern matches a documented path (any {param} or value)."""
    served = []
    for rule in app.klein.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        parts = KLEIN_PARAM.split(rule.rule)
        pattern = re.compile("(?:\\{\\}|[^/{}]+)".join(re.escape(p) for p in parts))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            served.append((pattern, method.lower(), rule.rule))
    return served


def _documented(doc) -> set[tuple[str, str]]:
    """(path with every {param} as {}, method) for each operation."""
    return {(OPENAPI_PARAM.sub("{}", path), method) for path, ops in doc["paths"].items() for method in ops
            if method in ("get", "post", "put", "patch", "delete")}


def _compare(app, doc) -> tuple[list[str], list[str]]:
    served, documented = _served(app), _documented(doc)
    undocumented = sorted(f"{method.upper()} {rule}" for pattern, method, rule in served
                          if not any(m == method and pattern.fullmatch(path) for path, m in documented))
    phantom = sorted(f"{method.upper()} {path}" for path, method in documented
                     if not any(m == method and pattern.fullmatch(path) for pattern, m, _ in served))
    return undocumented, phantom


@pytest_twisted.ensureDeferred
async def test_every_served_api_route_is_documented_and_nothing_else(web):
    """With every feature mounted, walking Klein's url_map finds no undocumented /api/v1 route and
    the document has no operation that the app does not serve (/api/v1/me included)."""
    doc = (await web.client().get("/api/v1/openapi.json")).json
    undocumented, phantom = _compare(web.root.app, doc)
    assert undocumented == [], (
        f"undocumented /api/v1 routes {undocumented}: describe them in deps.extras['openapi_paths'] from the "
        "feature's routes(app) (as callcenter/search/web.py does) or in callcenter/workorders/openapi.py")
    assert phantom == [], f"documented but not served: {phantom}"
    me = doc["paths"]["/api/v1/me"]["get"]
    assert set(me["responses"]) == {"200", "400", "401"}  # 400: the site-wide input rules (declare_input_rules)
    assert me["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["user"] == {
        "$ref": "#/components/schemas/User"}
    assert "429" in doc["paths"]["/api/v1/tokens"]["post"]["responses"]
    refs = re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(doc))
    assert set(refs) <= set(doc["components"]["schemas"])  # every reference resolves


@pytest_twisted.ensureDeferred
async def test_a_feature_left_out_is_not_documented(db_url):
    """Built without the callbacks and wallboard features, the document does not describe their routes."""
    from callcenter.bootstrap import FEATURES

    features = [f for f in FEATURES if f not in ("callcenter.callbacks.web", "callcenter.wallboard.web")]
    server = start_server(db_url, features=features)
    try:
        doc = (await server.client().get("/api/v1/openapi.json")).json
        assert not [p for p in doc["paths"] if p.startswith(("/api/v1/callbacks", "/api/v1/wallboard"))]
        assert _compare(server.root.app, doc) == ([], [])
    finally:
        await stop_server_async(server)


def test_the_walk_itself_catches_a_missing_and_a_phantom_route():
    """The comparison reports a served route nobody documented and a documented one nobody serves."""
    from klein import Klein

    class App:
        klein = Klein()

    @App.klein.route("/api/v1/things/<int:thing_id>/parts", methods=["GET"])
    def parts(request, thing_id):
        return b""

    @App.klein.route("/api/v1/secret", methods=["POST"])
    def secret(request):
        return b""

    doc = {"paths": {"/api/v1/things/{id}/parts": {"get": {}}, "/api/v1/ghost": {"get": {}},
                     "/api/v1/secret": {"get": {}}}}
    undocumented, phantom = _compare(App, doc)
    assert undocumented == ["POST /api/v1/secret"]
    assert phantom == ["GET /api/v1/ghost", "GET /api/v1/secret"]
