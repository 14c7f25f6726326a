"""``/wallboard`` (big screen), ``/wallboard/events`` (SSE) and ``/api/v1/wallboard`` (JSON).

The page renders the current snapshot inline, then applies each ``wallboard``
event from the stream in place — no reload.  One :class:`WallboardFeed` per
app, made here unless bootstrap handed one in ``deps.extras``.
"""
from __future__ import annotations

from pathlib import Path

from callcenter.auth.web import require_role
from callcenter.metrics import register_ami
from callcenter.wallboard.feed import WallboardFeed
from callcenter.wallboard.projection import Thresholds, Wallboard
from callcenter.web.health import StaticFiles
from callcenter.web.i18n import CATALOGUE
from callcenter.web.app import json_api
from callcenter.web.sse import EventStream

VIEWERS = ("agent", "dispatcher", "supervisor", "admin")
STATIC = Path(__file__).parent / "static"
#: the page's script and style, served as files because the CSP forbids inline ones

TEXT = {
    "wb.title": {"zh": "热线实时大屏", "en": "Hotline live wallboard"},
    "wb.waiting": {"zh": "排队等待", "en": "Waiting"},
    "wb.longest": {"zh": "最长等待", "en": "Longest wait"},
    "wb.offered": {"zh": "今日呼入", "en": "Offered today"},
    "wb.answered": {"zh": "今日接通", "en": "Answered today"},
    "wb.abandoned": {"zh": "今日放弃", "en": "Abandoned today"},
    "wb.connection": {"zh": "人工接通率", "en": "Connection rate"},
    "wb.sl15": {"zh": "15秒接通率", "en": "Answered ≤ 15 s"},
    "wb.sl80": {"zh": "服务水平 80/20", "en": "Service level 80/20"},
    "wb.asa": {"zh": "平均应答时长", "en": "Average answer time"},
    "wb.aht": {"zh": "平均处理时长", "en": "Average handling time"},
    "wb.abandon_rate": {"zh": "放弃率", "en": "Abandonment"},
    "wb.callbacks": {"zh": "待回拨", "en": "Callbacks pending"},
    "wb.queue": {"zh": "队列", "en": "Queue"},
    "wb.agents": {"zh": "坐席状态", "en": "Agents"},
    "wb.paused_by": {"zh": "小休原因", "en": "Paused by reason"},
    "wb.workorders": {"zh": "工单", "en": "Work orders"},
    "wb.open": {"zh": "在办工单", "en": "Open orders"},
    "wb.yellow": {"zh": "即将超时", "en": "SLA yellow"},
    "wb.red": {"zh": "已超时", "en": "SLA red"},
    "wb.breaches": {"zh": "今日超时", "en": "Breaches today"},
    "wb.on_time": {"zh": "按时办结率", "en": "On-time completion"},
    "wb.satisfaction": {"zh": "今日满意率", "en": "Satisfaction today"},
    "wb.department": {"zh": "部门", "en": "Department"},
    "wb.updated": {"zh": "更新于", "en": "Updated"},
    "wb.live": {"zh": "实时", "en": "Live"},
    "wb.offline": {"zh": "连接中断，正在重连", "en": "Disconnected, reconnecting"},
    "wb.calls": {"zh": "话务", "en": "Calls"},
    "wb.legend": {"zh": "颜色说明", "en": "Colour key"},
    "wb.legend.green": {"zh": "达标", "en": "On target"},
    "wb.legend.amber": {"zh": "接近警戒", "en": "Watch"},
    "wb.legend.red": {"zh": "超出警戒", "en": "Act now"},
    "wb.legend.connection": {"zh": "接通率", "en": "Connection rate"},
    "wb.legend.sl": {"zh": "服务水平", "en": "Service level"},
    "wb.legend.abandon": {"zh": "放弃率", "en": "Abandonment"},
    "wb.legend.wait": {"zh": "最长等待", "en": "Longest wait"},
    "wb.none": {"zh": "无", "en": "none"},
}
CATALOGUE.update(TEXT)


def _callback_jobs_counter(engine):
    """Count issue 7's pending satisfaction callbacks when that feature is installed."""
    try:
        from callcenter.wallboard.workorders import satisfaction_callbacks_pending
        import callcenter.callbacks.tables  # noqa: F401 - presence check
    except ImportError:
        return None
    return lambda: satisfaction_callbacks_pending(engine)


def feed_for(app) -> WallboardFeed:
    """The app's one feed (created and started on first use)."""
    deps = app.deps
    feed = deps.extras.get("wallboard_feed")
    if feed is None:
        section = deps.config.section("wallboard")
        wallboard = Wallboard(Thresholds.from_section(section))
        acd = deps.extras.get("acd")
        feed = WallboardFeed(wallboard, EventStream(deps.reactor), deps.reactor, acd=acd,
                             time_source=deps.clock, call_from_thread=deps.reactor.callFromThread,
                             engine=deps.engine if deps.workorders is not None else None, db_runner=deps.db,
                             workorders=deps.workorders, callbacks_source=deps.extras.get("callbacks_pending")
                             or _callback_jobs_counter(deps.engine))
        feed.refresh_seconds = float(section.get("refresh_seconds", feed.refresh_seconds))
        deps.extras["wallboard_feed"] = feed
        ami = getattr(deps.extras.get("acd"), "ami", None)
        if ami is not None:  # hotline_ami_connected follows the ACD's AMI client
            register_ami(ami)
        feed.start()
        deps.extras.setdefault("on_close", []).extend([feed.stop, feed.stream.close])
    return feed


def routes(app) -> None:
    deps = app.deps
    deps.templates.add_directory(Path(__file__).parent / "templates")
    feed = feed_for(app)

    @app.route("/wallboard", methods=["GET"])
    @require_role(*VIEWERS, page=True)
    async def page(request, principal):
        return deps.templates.render(request, "wallboard.html", session=principal.session, snap=feed.current(),
                                     limits=feed.wallboard.thresholds)

    app.mount("wallboard/assets", StaticFiles(STATIC))

    @app.route("/wallboard/events", methods=["GET"])
    @require_role(*VIEWERS, stream=True)
    async def events(request, principal):
        relay = deps.extras.get("calls_relay")  # a web process that does not drive calls: the leader's frames
        return relay.stream("wallboard") if relay is not None else feed.stream

    @app.route("/api/v1/wallboard", methods=["GET"])
    @json_api
    @require_role(*VIEWERS)
    async def snapshot(request, principal):
        return feed.current()
