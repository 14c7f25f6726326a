"""``/reports`` (daily/monthly tables with charts), ``/reports/export.csv`` and ``/reports/hot`` (hot topics).

Supervisors and admins only.  Figures are computed in the web thread pool;
charts are inline SVG drawn here, so the pages work without any CDN.
"""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

from callcenter.auth.web import require_role
from callcenter.reports.charts import bar_chart, line_chart
from callcenter.reports.csvexport import csv_download
from callcenter.reports.hottopics import Thresholds
from callcenter.reports.ivr import ivr_report
from callcenter.reports.queries import CALL_DIMENSIONS, CST, DIMENSIONS, Period, ReportError, hot_topics, report
from callcenter.web.app import query_arg
from callcenter.web.i18n import CATALOGUE, translate
from callcenter.web.templates import language, refusals_as_pages

VIEWERS = ("supervisor", "admin")
CALL_COLUMNS = ("offered", "answered", "abandoned", "answer_rate", "service_level", "asa_seconds", "aht_seconds",
                "abandon_rate", "call_satisfaction")
ORDER_COLUMNS = ("orders", "closed", "on_time_rate", "fcr_rate", "reopen_rate", "callback_satisfaction")
RATES = {"answer_rate", "service_level", "abandon_rate", "call_satisfaction", "on_time_rate", "fcr_rate",
         "reopen_rate", "callback_satisfaction"}

TEXT = {
    "reports.title": {"zh": "统计报表", "en": "Reports"},
    "reports.hot.title": {"zh": "热点诉求", "en": "Hot topics"},
    "reports.period": {"zh": "周期", "en": "Period"},
    "reports.period.day": {"zh": "日报", "en": "Daily"},
    "reports.period.month": {"zh": "月报", "en": "Monthly"},
    "reports.date": {"zh": "日期", "en": "Date"},
    "reports.by": {"zh": "维度", "en": "By"},
    "reports.by.queue": {"zh": "队列", "en": "Queue"},
    "reports.by.agent": {"zh": "坐席", "en": "Agent"},
    "reports.by.department": {"zh": "承办部门", "en": "Department"},
    "reports.by.category": {"zh": "诉求类别", "en": "Category"},
    "reports.show": {"zh": "查询", "en": "Show"},
    "reports.csv": {"zh": "导出 CSV", "en": "Export CSV"},
    "reports.empty": {"zh": "该周期暂无数据", "en": "No data for this period"},
    "reports.total": {"zh": "合计", "en": "Total"},
    "reports.col.key": {"zh": "名称", "en": "Name"},
    "reports.col.offered": {"zh": "呼入量", "en": "Offered"},
    "reports.col.answered": {"zh": "接通量", "en": "Answered"},
    "reports.col.abandoned": {"zh": "放弃量", "en": "Abandoned"},
    "reports.col.answer_rate": {"zh": "接通率", "en": "Answer rate"},
    "reports.col.service_level": {"zh": "15秒服务水平", "en": "Service level (15 s)"},
    "reports.col.asa_seconds": {"zh": "平均应答时长(秒)", "en": "ASA (s)"},
    "reports.col.aht_seconds": {"zh": "平均处理时长(秒)", "en": "AHT (s)"},
    "reports.col.abandon_rate": {"zh": "放弃率", "en": "Abandonment"},
    "reports.col.call_satisfaction": {"zh": "一次一评满意率", "en": "Per-call satisfaction"},
    "reports.col.orders": {"zh": "工单量", "en": "Work orders"},
    "reports.col.closed": {"zh": "办结量", "en": "Closed"},
    "reports.col.on_time_rate": {"zh": "按时办结率", "en": "On-time completion"},
    "reports.col.fcr_rate": {"zh": "直接办结率", "en": "First-contact resolution"},
    "reports.col.reopen_rate": {"zh": "重办率", "en": "Reopen rate"},
    "reports.col.callback_satisfaction": {"zh": "一事一评满意率", "en": "Callback satisfaction"},
    "reports.hot.surges": {"zh": "突增预警", "en": "Surge alerts"},
    "reports.hot.none": {"zh": "暂无突增", "en": "No surges"},
    "reports.hot.rising": {"zh": "上升最快", "en": "Rising fastest"},
    "reports.hot.trend": {"zh": "近日走势", "en": "Daily trend"},
    "reports.hot.dimension": {"zh": "类型", "en": "Type"},
    "reports.hot.category": {"zh": "类别", "en": "Category"},
    "reports.hot.place": {"zh": "地点", "en": "Place"},
    "reports.hot.today": {"zh": "当日", "en": "That day"},
    "reports.hot.baseline": {"zh": "日均基线", "en": "Daily baseline"},
    "reports.hot.increase": {"zh": "增量", "en": "Increase"},
    "reports.hot.surge_note": {"zh": "（阈值可在 [reports] 配置）", "en": "(thresholds in [reports] config)"},
    "reports.ivr.title": {"zh": "语音导航", "en": "IVR"},
    "reports.ivr.visits": {"zh": "进入语音导航", "en": "IVR visits"},
    "reports.ivr.to_queue": {"zh": "转人工排队", "en": "To an agents' queue"},
    "reports.ivr.served_in_ivr": {"zh": "自助办结", "en": "Served by the menus"},
    "reports.ivr.hung_up": {"zh": "导航中挂机", "en": "Hung up in the menus"},
    "reports.ivr.other": {"zh": "其他（故障）", "en": "Other (errors)"},
    "reports.ivr.containment": {"zh": "自助率", "en": "Served without an agent"},
    "reports.ivr.status_read_back": {"zh": "工单进度查询", "en": "Order status read back"},
    "reports.ivr.messages": {"zh": "留言", "en": "Messages left"},
    "reports.ivr.callbacks": {"zh": "预约回电", "en": "Callbacks booked"},
    "reports.ivr.restricted": {"zh": "限制呼入来电", "en": "Restricted callers"},
    "reports.ivr.after_hours": {"zh": "非工作时间来电", "en": "After hours"},
    "reports.ivr.by_queue": {"zh": "转入队列", "en": "By queue"},
    "reports.ivr.menu_keys": {"zh": "主菜单按键", "en": "Main-menu keys"},
    "reports.ivr.by_language": {"zh": "语言", "en": "Language"},
    "reports.ivr.outcomes": {"zh": "去向", "en": "Where callers went"},
}
CATALOGUE.update(TEXT)


def display(column: str, value) -> str:
    if value is None:
        return "—"
    if column in RATES:
        return f"{value * 100:.1f}%"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def names(taxonomy, lang: str) -> dict[str, str]:
    """Codes a report row may carry (departments, categories, districts and subdistricts, queues) to their
    names in ``lang`` — from :class:`callcenter.web.names.Names`, the pages' one code→name table."""
    from callcenter.web.names import Names

    table = Names(taxonomy)
    out: dict[str, str] = {}
    for kind in ("queue", "department", "category", "district"):
        out.update(table.table(kind, table.all_codes(kind), lang))
    if taxonomy is not None:
        for district in taxonomy.districts.values():
            for code, sub in district.subdistricts.items():
                out.setdefault(code, getattr(sub, lang, None) or sub.zh)
    return out


def labelled(key: str, known: dict[str, str]) -> str:
    """``停水`` for a known code (people read names, not codes), the key itself otherwise."""
    return known.get(key, key)


def _period(request, deps) -> Period:
    kind = query_arg(request, "period") or "day"
    today = deps.now().astimezone(CST).date()
    default = today.isoformat() if kind == "day" else today.strftime("%Y-%m")
    return Period.parse(kind, query_arg(request, "date") or default)


def _params(request, deps):
    period = _period(request, deps)
    by = query_arg(request, "by") or "queue"
    if by not in DIMENSIONS:
        raise ReportError("reports.bad_dimension", "未知的报表维度 / unknown report dimension", dimension=by[:20],
                          allowed=list(DIMENSIONS))
    return period, by


def routes(app) -> None:
    deps = app.deps
    templates = deps.templates
    templates.add_directory(Path(__file__).parent / "templates")
    thresholds = Thresholds.from_config(deps.config)

    async def asked(request):
        """The report the query asks for: its period, dimension, figures and columns (calls or orders)."""
        period, by = _params(request, deps)
        result = await deps.db(report, deps.engine, period, by)
        return period, by, result, CALL_COLUMNS if by in CALL_DIMENSIONS else ORDER_COLUMNS

    @app.route("/reports", methods=["GET"])
    @require_role(*VIEWERS, page=True)
    @refusals_as_pages("/reports")
    async def reports_page(request, principal):
        period, by, result, columns = await asked(request)
        lang = language(request)
        known = names(getattr(deps.workorders, "taxonomy", None), lang)
        rows = result.as_rows()
        for r in rows:
            r["key"] = labelled(r["key"], known)
        total = result.total().as_dict()
        if by in CALL_DIMENSIONS:
            charts = [bar_chart(translate("reports.col.answer_rate", lang), [(r["key"], r["answer_rate"]) for r in rows],
                                percent=True, css_id="chart-answer-rate"),
                      bar_chart(translate("reports.col.service_level", lang),
                                [(r["key"], r["service_level"]) for r in rows], percent=True, css_id="chart-service")]
        else:
            charts = [bar_chart(translate("reports.col.orders", lang), [(r["key"], r["orders"]) for r in rows],
                                css_id="chart-orders"),
                      bar_chart(translate("reports.col.on_time_rate", lang),
                                [(r["key"], r["on_time_rate"]) for r in rows], percent=True, css_id="chart-on-time")]
        query = urlencode({"period": period.kind, "date": period.label, "by": by})
        return templates.render(request, "reports.html", session=principal.session, period=period, by=by,
                                dimensions=DIMENSIONS, columns=columns, rows=rows, total=total, display=display,
                                charts=charts if rows else [], csv_url="/reports/export.csv?" + query)

    @app.route("/reports/export.csv", methods=["GET"])
    @require_role(*VIEWERS, page=True)
    @refusals_as_pages("/reports")
    async def export_csv(request, principal):
        period, by, result, columns = await asked(request)
        lang = language(request)
        columns = ("key",) + columns
        header = [translate(f"reports.col.{c}", lang) for c in columns]
        rows = [[r[c] for c in columns] for r in result.as_rows()]
        name = f"report-{by}-{period.label}.csv"
        from callcenter.audit.service import record_access

        await record_access(deps, request, principal, "reports.export", name)
        return csv_download(request, name, header, rows)

    @app.route("/reports/hot", methods=["GET"])
    @require_role(*VIEWERS, page=True)
    @refusals_as_pages("/reports")
    async def hot_page(request, principal):
        period = Period.parse("day", query_arg(request, "date") or deps.now().astimezone(CST).date().isoformat())
        labels, series, trends = await deps.db(hot_topics, deps.engine, period.first, thresholds)
        lang = language(request)
        known = names(getattr(deps.workorders, "taxonomy", None), lang)
        top = trends[:5]
        trend_chart = line_chart(translate("reports.hot.trend", lang), [d.strftime("%m-%d") for d in labels],
                                 {known.get(t.key, t.key): series[(t.dimension, t.key)] for t in top},
                                 css_id="chart-trend")
        rise_chart = bar_chart(translate("reports.hot.increase", lang),
                               [(known.get(t.key, t.key), round(t.increase, 1)) for t in trends], css_id="chart-rising")
        return templates.render(request, "hot.html", session=principal.session, day=period.first, trends=trends,
                                label=lambda key: labelled(key, known),
                                surges=[t for t in trends if t.surge], thresholds=thresholds,
                                charts=[trend_chart, rise_chart] if trends else [],
                                previous=(period.first - timedelta(days=1)).isoformat())

    @app.route("/reports/ivr", methods=["GET"])
    @require_role(*VIEWERS, page=True)
    @refusals_as_pages("/reports")
    async def ivr_page(request, principal):
        period = _period(request, deps)
        figures = await deps.db(ivr_report, deps.engine, period)
        lang = language(request)
        outcomes = [(translate(f"reports.ivr.{k}", lang), getattr(figures, k))
                    for k in ("to_queue", "served_in_ivr", "hung_up", "other")]
        charts = [bar_chart(translate("reports.ivr.outcomes", lang), outcomes, css_id="chart-ivr-outcomes"),
                  bar_chart(translate("reports.ivr.menu_keys", lang), sorted(figures.menu_keys.items()),
                            css_id="chart-ivr-keys")] if figures.visits else []
        return templates.render(request, "ivr.html", session=principal.session, period=period, f=figures,
                                charts=charts)
