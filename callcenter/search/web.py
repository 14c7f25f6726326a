"""``GET /api/v1/search?q=&kind=&limit=``: agents search work orders, transcripts and the knowledge base."""
from __future__ import annotations

from callcenter.auth.web import require_role
from callcenter.web.app import json_api, query_arg
from callcenter.web.errors import ApiError

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


def routes(app) -> None:
    deps = app.deps

    @app.route("/api/v1/search", methods=["GET"])
    @json_api
    @require_role(*SEARCHERS)
    async def search(request, principal):
        raw_limit = query_arg(request, "limit") or "10"
        if not raw_limit.isdigit():
            raise ApiError(400, "search.bad_limit", "条数须为数字 / limit must be a number", {"limit": raw_limit[:20]})
        service = build_service(deps)
        hits = await deps.db(service.search, query_arg(request, "q") or "", query_arg(request, "kind") or None,
                             int(raw_limit), deps.now())
        return {"items": [h.as_dict() for h in hits], "engine": service.index.name}
