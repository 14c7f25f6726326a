"""考核 department appraisal: ``/supervisor/appraisal`` (page), ``/supervisor/appraisal.csv`` and
``/api/v1/appraisal`` for one month (Beijing time) — each department's figures, its weighted score
(weights from ``[appraisal.weights]``) and rank, plus the call floor's per-agent figures.

Supervisors and admins see every department and the agents; department users see their own
department's row only (with its rank among all), and no agents.
"""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from callcenter.appraisal.queries import agent_month, department_month
from callcenter.auth.web import require_role
from callcenter.reports.csvexport import csv_download
from callcenter.reports.queries import CST, Period, ReportError
from callcenter.web.app import json_api, query_arg
from callcenter.web.errors import error_responses
from callcenter.web.i18n import CATALOGUE, translate
from callcenter.web.templates import language, refusals_as_pages
from ticketing.domain.appraisal import check_weights

VIEWERS = ("supervisor", "admin", "department")
EVERYTHING = ("supervisor", "admin")
COLUMNS = ("rank", "department", "score", "assigned", "ack_on_time_rate", "replies", "resolved_on_time_rate",
           "returns_accepted", "returns_rejected", "reopen_rate", "satisfaction_rate", "supervised")
PERCENT = {"ack_on_time_rate", "resolved_on_time_rate", "reopen_rate", "satisfaction_rate"}
AGENT_COLUMNS = ("name", "answered", "aht_seconds", "fcr_rate", "call_satisfaction")

TEXT = {
    "appraisal.title": {"zh": "部门考核", "en": "Department appraisal"},
    "appraisal.month": {"zh": "月份", "en": "Month"},
    "appraisal.show": {"zh": "查看", "en": "Show"},
    "appraisal.csv": {"zh": "导出 CSV", "en": "Export CSV"},
    "appraisal.weights": {"zh": "权重", "en": "Weights"},
    "appraisal.agents": {"zh": "坐席绩效", "en": "Agents"},
    "appraisal.empty": {"zh": "本月没有数据", "en": "No figures for this month"},
    "appraisal.col.rank": {"zh": "排名", "en": "Rank"},
    "appraisal.col.department": {"zh": "承办单位", "en": "Department"},
    "appraisal.col.score": {"zh": "综合得分", "en": "Score"},
    "appraisal.col.assigned": {"zh": "派单数", "en": "Assigned"},
    "appraisal.col.ack_on_time_rate": {"zh": "按时签收率", "en": "Acknowledged on time"},
    "appraisal.col.replies": {"zh": "回复数", "en": "Replies"},
    "appraisal.col.resolved_on_time_rate": {"zh": "按时办结率", "en": "Resolved on time"},
    "appraisal.col.returns_accepted": {"zh": "退单通过", "en": "Returns accepted"},
    "appraisal.col.returns_rejected": {"zh": "退单驳回", "en": "Returns rejected"},
    "appraisal.col.reopen_rate": {"zh": "重办率", "en": "Reopen rate"},
    "appraisal.col.satisfaction_rate": {"zh": "满意率", "en": "Satisfaction"},
    "appraisal.col.supervised": {"zh": "督办次数", "en": "Supervised"},
    "appraisal.col.name": {"zh": "坐席", "en": "Agent"},
    "appraisal.col.answered": {"zh": "接听量", "en": "Answered"},
    "appraisal.col.aht_seconds": {"zh": "平均处理时长", "en": "Average handling time"},
    "appraisal.col.fcr_rate": {"zh": "一次解决率", "en": "First-contact resolution"},
    "appraisal.col.call_satisfaction": {"zh": "通话满意率", "en": "Call satisfaction"},
    "appraisal.w.ack_on_time": {"zh": "按时签收", "en": "Acknowledged on time"},
    "appraisal.w.resolved_on_time": {"zh": "按时办结", "en": "Resolved on time"},
    "appraisal.w.returns": {"zh": "退单", "en": "Returns"},
    "appraisal.w.reopen": {"zh": "重办", "en": "Reopens"},
    "appraisal.w.satisfaction": {"zh": "满意度", "en": "Satisfaction"},
    "appraisal.w.supervision": {"zh": "督办", "en": "Supervision"},
}
CATALOGUE.update(TEXT)

#: the ``?month=`` that :func:`month_of` reads, as an OpenAPI parameter (the month pages and APIs share it)
MONTH_PARAMETER = {"name": "month", "in": "query",
                   "schema": {"type": "string", "pattern": "^(19|20)[0-9]{2}-(0[1-9]|1[0-2])$"}}

OPENAPI = {"/api/v1/appraisal": {"get": {
    "operationId": "appraisal", "summary": "A month's department appraisal (and agents, for supervisors) / 部门考核",
    "parameters": [MONTH_PARAMETER],
    "responses": {"200": {"description": "departments ranked, weights, agents"}, **error_responses(400, 401, 403)}}}}


def weights_from(config) -> dict[str, float]:
    try:
        return check_weights(config.get("appraisal.weights") or {})
    except ValueError as exc:
        from callcenter.config import ConfigError

        raise ConfigError(f"[appraisal.weights]: {exc}") from None


def month_of(request, deps) -> Period:
    raw = query_arg(request, "month")
    if not raw:
        today = deps.now().astimezone(CST).date()
        return Period("month", today.replace(day=1))
    try:
        if len(raw) != 7 or raw[4] != "-":
            raise ReportError("reports.bad_date", "bad month")
        return Period.parse("month", raw)
    except ReportError:
        raise ReportError("appraisal.bad_month", "月份格式为 2026-11 / month must look like 2026-11",
                          month=raw[:20]) from None


def routes(app) -> None:
    deps = app.deps
    deps.templates.add_directory(Path(__file__).parent / "templates")
    deps.extras.setdefault("openapi_paths", {}).update(OPENAPI)
    weights = weights_from(deps.config)

    async def figures(principal, period: Period) -> dict:
        user = principal.user
        departments = await deps.db(department_month, deps.engine, period, weights)
        if user.role == "department":
            departments = [d for d in departments if d["department"] == user.department] or [
                {"department": user.department, "score": None, "rank": None,
                 **{c: None for c in COLUMNS if c not in ("department",)}}]
            agents = []
        else:
            agents = await deps.db(agent_month, deps.engine, period)
        return {"month": period.label, "weights": weights, "departments": departments, "agents": agents}

    @app.route("/api/v1/appraisal", methods=["GET"])
    @json_api
    @require_role(*VIEWERS)
    async def api(request, principal):
        return await figures(principal, month_of(request, deps))

    @app.route("/supervisor/appraisal", methods=["GET"])
    @require_role(*VIEWERS, page=True)
    @refusals_as_pages("/supervisor/appraisal")
    async def page(request, principal):
        period = month_of(request, deps)
        data = await figures(principal, period)
        previous = (period.start - timedelta(days=1)).strftime("%Y-%m")
        return deps.templates.render(request, "appraisal.html", session=principal.session, data=data,
                                     columns=COLUMNS, percent=PERCENT, agent_columns=AGENT_COLUMNS,
                                     previous=previous, csv_url=f"/supervisor/appraisal.csv?month={period.label}")

    @app.route("/supervisor/appraisal.csv", methods=["GET"])
    @require_role(*VIEWERS, page=True)
    @refusals_as_pages("/supervisor/appraisal")
    async def csv(request, principal):
        period = month_of(request, deps)
        data = await figures(principal, period)
        lang = language(request)
        names = deps.templates.names
        header = [translate(f"appraisal.col.{c}", lang) for c in COLUMNS]
        rows = [[names.name("department", d[c], lang) if c == "department" else d[c] for c in COLUMNS]
                for d in data["departments"]]
        from callcenter.audit.service import record_access

        await record_access(deps, request, principal, "appraisal.export", f"appraisal-{period.label}.csv")
        return csv_download(request, f"appraisal-{period.label}.csv", header, rows)
