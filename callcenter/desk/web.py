"""``/agent``: the agent desk page, its live event stream and its JSON actions.

The page is rendered once; after that ``desk.js`` listens to
``/agent/events`` (server-sent events: state, ringing, connected,
transcript, draft, similar, order, ended) and calls the JSON actions under
``/agent/api/`` with the session's CSRF token in ``X-CSRF-Token``.  An
account works as the ACD agent in its profile's ``agent_id`` (else its user
name, as before profiles), and on log-in is rung on the profile's ``device``
if it has one.  Without an ACD (``deps.extras["acd"]``) the desk answers 503
rather than pretending.
"""
from __future__ import annotations

import logging
from pathlib import Path

from callcenter.auth.web import require_role
from callcenter.desk.service import AGENT_PAUSE_REASONS, DeskError, DeskService
from callcenter.desk.text import DESK_TEXT
from callcenter.errors import HotlineError
from callcenter.knowledge import LEVEL_NAMES, LEVELS, default_knowledge
from callcenter.web.app import json_api, query_arg, read_json
from callcenter.web.errors import ApiError
from callcenter.web.health import StaticFiles
from callcenter.web.i18n import CATALOGUE
from callcenter.workorders.engine import actor_for

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
DESK_ROLES = ("agent",)
ORDER_FIELDS = ("type", "category", "district", "subdistrict", "address", "urgency", "caller_name",
                "caller_phone", "summary", "description", "department")


def desk_of(deps) -> DeskService:
    """The desk service of this web app, built on first use from the ACD in ``deps.extras``."""
    desk = deps.extras.get("desk")
    if desk is not None:
        if desk.intake is None:
            desk.intake = deps.extras.get("intake")  # speech intake may be wired after the web app
        if desk.ivr_speech is None:
            desk.ivr_speech = deps.extras.get("speech_intake")
        return desk
    acd = deps.extras.get("acd")
    if acd is None:
        raise ApiError(503, "desk.no_acd", "坐席服务未连接话务系统 / the desk is not connected to the ACD")
    desk = deps.extras["desk"] = DeskService(
        acd, deps.clock, db=deps.db, engine=deps.engine, workorders=deps.workorders,
        intake=deps.extras.get("intake"),
        agent_dispatch=bool(deps.config.get("desk.agent_dispatch", True)),
        audiosocket=str(deps.config.get("desk.audiosocket", "") or ""))
    desk.ivr_speech = deps.extras.get("speech_intake")
    deps.extras.setdefault("on_close", []).append(desk.close)
    return desk


def _clock_rate(deps) -> float:
    """Hotline seconds per real second (a ScaledClock's speed; 1 on the real reactor)."""
    return float(getattr(deps.clock, "speed", 1.0))


def routes(app) -> None:
    deps = app.deps
    CATALOGUE.update(DESK_TEXT)
    deps.templates.add_directory(HERE / "templates")
    app.mount("desk-static", StaticFiles(HERE / "static"))
    if deps.extras.get("acd") is not None:
        desk_of(deps)  # listen to the ACD from the start, not from the first page view

    def agent_id(principal) -> str:
        desk = desk_of(deps)
        me = principal.user.desk_agent
        if not desk.agent_known(me):
            raise ApiError(403, "desk.not_an_acd_agent", "该账号不是话务坐席 / this account is not an ACD agent",
                           {"agent": me})
        return me

    @app.route("/agent", methods=["GET"])
    @require_role(*DESK_ROLES, page=True)
    async def page(request, principal):
        try:
            me = agent_id(principal)
        except ApiError as exc:
            return deps.templates.render(request, "error.html", status=exc.status, session=principal.session,
                                         message_key="error.forbidden", detail=exc.error_id, back="/")
        desk = desk_of(deps)
        screen = desk.screen(me, show_number=principal.user.sees_phone_numbers)
        return deps.templates.render(
            request, "agent.html", session=principal.session, screen=screen,
            pause_reasons=[(r, screen["pause_reasons"][r]) for r in AGENT_PAUSE_REASONS],
            taxonomy=deps.workorders.taxonomy if deps.workorders is not None else None,
            levels=LEVELS, level_names=LEVEL_NAMES, lines=[e for e in default_knowledge().entries if e.line],
            clock_now=deps.now().isoformat(), clock_rate=_clock_rate(deps))

    @app.route("/agent/events", methods=["GET"])
    @require_role(*DESK_ROLES, stream=True)
    async def events(request, principal):
        relay = deps.extras.get("calls_relay")
        if relay is not None and deps.extras.get("acd") is None:
            # a web process that does not drive calls: the controller checks the agent, then its frames follow
            try:
                status, body = await relay.ask(request, "/agent/api/screen")
            except HotlineError as exc:  # no controller (503) or a silent one (504)
                raise ApiError(exc.http_status, exc.error_id, exc.message, exc.details) from None
            if status != 200:
                raise ApiError(status, str(body.get("error_id") or "desk.unavailable"), str(body.get("message") or ""),
                               body.get("details") or {})
            return relay.stream(f"desk:{principal.user.desk_agent}")
        return desk_of(deps).stream_for(agent_id(principal))

    @app.route("/agent/api/screen", methods=["GET"])
    @json_api
    @require_role(*DESK_ROLES)
    async def screen(request, principal):
        desk = desk_of(deps)
        me = agent_id(principal)
        out = desk.screen(me, show_number=principal.user.sees_phone_numbers)
        call = desk.current(me)
        if call is not None and deps.engine is not None:
            out["history"] = await deps.db(desk.history, call.call_id, call.number,
                                           show_number=principal.user.sees_phone_numbers)
        # the page's live timers run on the hotline clock (the demo's runs faster than the wall)
        out["clock"] = {"now": deps.now().isoformat(), "rate": _clock_rate(deps)}
        return out

    @app.route("/agent/api/state", methods=["POST"])
    @json_api
    @require_role(*DESK_ROLES)
    async def state(request, principal):
        body = read_json(request)
        _only(body, {"action", "reason"})
        action, reason = body.get("action"), body.get("reason", "")
        if not isinstance(action, str) or not isinstance(reason, str):
            raise ApiError(400, "request.invalid_field", "action 与 reason 须为文本 / action and reason are text")
        return desk_of(deps).change_state(agent_id(principal), action, reason, device=principal.user.device)

    @app.route("/agent/api/order", methods=["POST"])
    @json_api
    @require_role(*DESK_ROLES)
    async def order(request, principal):
        body = read_json(request)
        _only(body, {"call_id", "fields", "resolve", "reply"})
        desk = desk_of(deps)
        if deps.workorders is None:
            raise ApiError(503, "workorders.unavailable", "工单服务未启用 / work-order service is not configured")
        fields = body.get("fields")
        if not isinstance(fields, dict):
            raise ApiError(400, "request.invalid_field", "fields 须为对象 / fields must be an object",
                           {"field": "fields"})
        unknown = sorted(set(fields) - set(ORDER_FIELDS))
        if unknown:
            raise ApiError(400, "request.unknown_fields", "存在未知字段 / unknown fields", {"fields": unknown})
        call_id = body.get("call_id")
        if not isinstance(call_id, str) or not call_id:
            raise ApiError(400, "request.invalid_field", "缺少来电编号 / call_id is required", {"field": "call_id"})
        resolve = body.get("resolve", False)
        if not isinstance(resolve, bool):
            raise ApiError(400, "request.invalid_field", "resolve 须为布尔值 / resolve must be true or false",
                           {"field": "resolve"})
        me = agent_id(principal)
        call = desk.call_for_order(me, call_id)
        actor = actor_for(principal.user)
        created = await deps.db(desk.submit, actor, call, fields,
                                resolve_reply=body.get("reply") if resolve else None)
        desk.submitted(call, created)
        recorded = 0
        if desk.intake is not None and getattr(desk.intake, "_corrections", None) is not None:
            for name, value in desk.corrections(call, fields):
                try:
                    await desk.intake.record_correction(call.text, name, value, order_id=created["number"])
                    recorded += 1
                except Exception as exc:  # noqa: BLE001 - a correction the trainer refuses is not the agent's error
                    if not hasattr(exc, "error_id"):
                        raise
                    log.info("intake correction not stored", extra={"fields": {
                        "order": created["number"], "field": name, "error_id": exc.error_id}})
        return 201, {"order": created, "corrections": recorded}

    @app.route("/agent/api/transfer", methods=["POST"])
    @json_api
    @require_role(*DESK_ROLES)
    async def transfer(request, principal):
        body = read_json(request)
        _only(body, {"line"})
        line = body.get("line")
        if not isinstance(line, str) or not line.isdigit() or len(line) > 12:
            raise ApiError(400, "desk.bad_line", "转接号码须为数字 / a transfer line is digits", {"field": "line"})
        await desk_of(deps).acd.transfer(agent_id(principal), line)
        return {"transferred_to": line}

    @app.route("/agent/api/hangup", methods=["POST"])
    @json_api
    @require_role(*DESK_ROLES)
    async def hangup(request, principal):
        await desk_of(deps).acd.hang_up(agent_id(principal))
        return {"hung_up": True}

    @app.route("/agent/api/knowledge", methods=["GET"])
    @json_api
    @require_role(*DESK_ROLES)
    async def knowledge(request, principal):
        level = query_arg(request, "level") or None
        limit = query_arg(request, "limit") or "10"
        if not limit.isdigit():
            raise DeskError("knowledge.bad_limit", "条数须为数字 / limit must be a number")
        return {"items": default_knowledge().search(query_arg(request, "q") or "", level, int(limit))}


def _only(body: dict, allowed: set) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(400, "request.unknown_fields", "存在未知字段 / unknown fields", {"fields": unknown})
