"""``GET /api/v1/search?q=&kind=&limit=``: agents search work orders, transcripts and the knowledge base."""
from __future__ import annotations

from callcenter.auth.web import require_role
from callcenter.web.app import ascii_int, json_api, query_arg
from callcenter.web.errors import ApiError, error_responses

SEARCHERS = ("agent", "dispatcher", "supervisor", "admin")


def build_service(deps):
    """The process's :class:`SearchService` (made once, closed with the web app)."""
    service = deps.extras.get("search")
    if service is None:
        from callcenter.knowledge import default_knowledge
        from callcenter.search.service import SearchService, make_index

        index = make_index(deps.config)
        service = SearchService(deps.engine, index, knowledge=default_knowledge(),
                                refresh_seconds=float(deps.config.get("search.refresh_seconds", 2)))
        deps.extras["search"] = service
        if hasattr(index, "close"):
            deps.extras.setdefault("on_close", []).append(index.close)
    return service


OPENAPI = {"get": {
    "operationId": "search", "summary": "Search work orders, transcripts and the knowledge base / 搜索",
    "parameters": [
        {"name": "q", "in": "query", "required": True, "schema": {
            "type": "string", "maxLength": 200,
            "pattern": "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]*[^\\s\\x00-\\x1f\\x7f][^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]*$"}},
        {"name": "kind", "in": "query", "schema": {"type": "string", "enum": ["workorder", "transcript", "knowledge"]}},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10}}],
    "responses": {
        "200": {"description": "hits, best first", "content": {"application/json": {"schema": {
            "type": "object", "properties": {"engine": {"type": "string"}, "items": {"type": "array", "items": {
                "type": "object", "properties": {
                    "kind": {"type": "string"}, "ref": {"type": "string"}, "title": {"type": "string"},
                    "snippet": {"type": "string"}, "score": {"type": "number"}, "extra": {"type": "object"}}}}}}}}},
        **error_responses(400, 401, 403, 503)}}}


def routes(app) -> None:
    deps = app.deps
    deps.extras.setdefault("openapi_paths", {})["/api/v1/search"] = OPENAPI

    @app.route("/api/v1/search", methods=["GET"])
    @json_api
    @require_role(*SEARCHERS)
    async def search(request, principal):
        raw_limit = query_arg(request, "limit") or "10"
        limit = ascii_int(raw_limit, max_digits=6)
        if limit is None:
            raise ApiError(400, "search.bad_limit", "条数须为数字 / limit must be a number", {"limit": raw_limit[:20]})
        service = build_service(deps)
        hits = await deps.db(service.search, query_arg(request, "q") or "", query_arg(request, "kind") or None,
                             limit, deps.now())
        shown = [h.ref for h in hits if h.kind == "transcript"]
        if shown:  # a citizen's own words: which transcripts were shown, by id
            from callcenter.audit.service import record_access

            await record_access(deps, request, principal, "transcript.view", None, "search: " + ",".join(shown))
        return {"items": [h.as_dict() for h in hits], "engine": service.index.name}
