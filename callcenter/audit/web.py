"""``/supervisor/audit`` (page and CSV) and ``GET /api/v1/audit``: who read or exported citizens'
personal data, what, when and from where, filtered by user, kind, record and days (times in the
hotline's zone).  Supervisors and admins only.  Mount by listing ``callcenter.audit.web`` in
``FEATURES`` (it is)."""
from __future__ import annotations

from pathlib import Path

from callcenter.audit.service import KINDS, AuditError, AuditQuery, audit_of, record_access
from callcenter.auth.web import require_role
from callcenter.reports.csvexport import csv_download
from callcenter.web.app import json_api, query_arg
from callcenter.web.errors import error_responses

SUPERVISORS = ("supervisor", "admin")
PAGE = "/supervisor/audit"
_DATE = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"

OPENAPI = {
    "/api/v1/audit": {"get": {
        "operationId": "list_audit", "summary": "Reads and exports of personal data, newest first / 个人信息访问记录",
        "description": "Supervisors and admins only. Dates are days in the hotline's zone (Asia/Shanghai), "
                       "both included; at most 500 rows (``total`` counts all matches).",
        "parameters": [
            {"name": "user", "in": "query", "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.@-]{1,64}$"}},
            {"name": "kind", "in": "query", "schema": {"type": "string", "enum": list(KINDS)}},
            {"name": "record", "in": "query", "schema": {"type": "string", "pattern": "^[0-9A-Za-z_.:-]{1,64}$"}},
            {"name": "from", "in": "query", "schema": {"type": "string", "format": "date", "pattern": _DATE}},
            {"name": "to", "in": "query", "schema": {"type": "string", "format": "date", "pattern": _DATE}}],
        "responses": {"200": {"description": "``{items: [{at, user, role, kind, record, detail, address}], total}``"},
                      **error_responses(400, 401, 403, 422)}}},
}


def _query(request, deps) -> AuditQuery:
    return AuditQuery.parse(username=query_arg(request, "user"), kind=query_arg(request, "kind"),
                            record=query_arg(request, "record"), date_from=query_arg(request, "from"),
                            date_to=query_arg(request, "to"), zone=deps.templates.zone)


def routes(app) -> None:
    deps = app.deps
    deps.templates.add_directory(Path(__file__).parent / "templates")
    deps.extras.setdefault("openapi_paths", {}).update(OPENAPI)
    fields = ("user", "kind", "record", "from", "to")

    @app.route(PAGE, methods=["GET"])
    @require_role(*SUPERVISORS, page=True)
    async def audit_page(request, principal):
        typed = {k: query_arg(request, k) or "" for k in fields}
        rows, total, error, status = [], 0, None, 200
        try:
            rows, total = await deps.db(audit_of(deps).search, _query(request, deps))
        except AuditError as exc:
            error, status = exc, exc.http_status or 400
        from urllib.parse import urlencode

        csv_url = PAGE + ".csv?" + urlencode({k: v for k, v in typed.items() if v})
        return deps.templates.render(request, "audit.html", status=status, session=principal.session, rows=rows,
                                     total=total, error=error, typed=typed, kinds=KINDS, csv_url=csv_url)

    @app.route(PAGE + ".csv", methods=["GET"])
    @require_role(*SUPERVISORS, page=True)
    async def audit_csv(request, principal):
        try:
            query = _query(request, deps)
        except AuditError as exc:
            from callcenter.web.app import _error_response

            return _error_response(request, exc)
        rows, _ = await deps.db(audit_of(deps).search, query, limit=audit_of(deps).export_limit)
        await record_access(deps, request, principal, "audit.export", detail=request.uri.decode("ascii", "replace"))
        local = deps.templates.local
        header = ["时间 / time", "用户 / user", "角色 / role", "类型 / kind", "对象 / record", "说明 / detail",
                  "地址 / address"]
        return csv_download(request, "audit.csv", header, [[local(r.at), r.username, r.role, r.kind, r.record,
                                                             r.detail, r.address] for r in rows])

    @app.route("/api/v1/audit", methods=["GET"])
    @json_api
    @require_role(*SUPERVISORS)
    async def audit_api(request, principal):
        rows, total = await deps.db(audit_of(deps).search, _query(request, deps))
        return {"items": [{"id": r.id, "at": r.at.isoformat(), "user": r.username, "role": r.role, "kind": r.kind,
                           "record": r.record, "detail": r.detail, "address": r.address} for r in rows],
                "total": total}
