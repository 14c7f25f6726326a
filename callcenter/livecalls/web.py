"""``/api/v1/calls``, ``/api/v1/calls/<linkedid>``, ``/supervisor/calls`` (SSE) and a call's timeline page.

Roles: supervisors and admins see every call; the API also answers agents,
with only the calls they are the agent of (another's call is a 404, like an
unknown one, so its existence does not leak).  Every other role gets 403.
Until ``serve`` or the demo attaches a tracker (:func:`callcenter.livecalls.attach`)
the API answers 503 ``calls.not_tracked`` and the page says so.
"""
from __future__ import annotations

from pathlib import Path

from callcenter.auth.web import require_role
from callcenter.livecalls.feed import LiveCalls
from callcenter.livecalls.view import PHASES, SUPERVISORS, VIEWERS, valid_linkedid
from callcenter.web.app import json_api
from callcenter.web.errors import ApiError, error_responses
from callcenter.web.templates import local_zone
from callcenter.web.health import StaticFiles
from callcenter.web.i18n import CATALOGUE
from callcenter.web.sse import EventStream
from callcenter.web.templates import language

STATIC = Path(__file__).parent / "static"
ACD_STATES = ("waiting", "ringing", "returning", "connected", "callback_wait", "callback_dialing", "ended")
KINDS = ("dialplan", "answered", "var", "dial", "dial_end", "bridge_enter", "bridge_leave", "ivr_start", "ivr_end",
         "queue_join", "queue_leave", "queue_abandon", "agent_called", "agent_no_answer", "agent_connect",
         "agent_complete", "recording_start", "recording_stop", "user_event", "hangup", "channel")

TEXT = {
    "calls.title": {"zh": "实时通话", "en": "Live calls"},
    "calls.call": {"zh": "通话详情", "en": "Call details"},
    "calls.total": {"zh": "通话数", "en": "Calls"},
    "calls.updated": {"zh": "更新于", "en": "Updated"},
    "calls.live": {"zh": "实时", "en": "Live"},
    "calls.offline": {"zh": "连接中断，正在重连", "en": "Disconnected, reconnecting"},
    "calls.not_tracked": {"zh": "通话跟踪未启用（未连接交换机）", "en": "Call tracking is not running (no PBX connection)"},
    "calls.none": {"zh": "当前没有通话", "en": "No calls right now"},
    "calls.more": {"zh": "仅显示最早的通话", "en": "Only the oldest calls are shown"},
    "calls.phase": {"zh": "阶段", "en": "Phase"},
    "calls.started": {"zh": "开始", "en": "Started"},
    "calls.caller": {"zh": "来电号码", "en": "Caller"},
    "calls.queue": {"zh": "队列", "en": "Queue"},
    "calls.waited": {"zh": "等待时长", "en": "Waited"},
    "calls.agent": {"zh": "坐席", "en": "Agent"},
    "calls.acd": {"zh": "排队状态", "en": "Routing"},
    "calls.recording": {"zh": "录音", "en": "Recording"},
    "calls.ivr": {"zh": "语音导航", "en": "IVR"},
    "calls.channels": {"zh": "通道数", "en": "Channels"},
    "calls.details": {"zh": "详情", "en": "Details"},
    "calls.yes": {"zh": "是", "en": "Yes"},
    "calls.no": {"zh": "否", "en": "No"},
    "calls.ended_at": {"zh": "结束", "en": "Ended"},
    "calls.connected_at": {"zh": "接通", "en": "Connected"},
    "calls.hangup_cause": {"zh": "挂机原因", "en": "Hang-up cause"},
    "calls.recordings": {"zh": "录音文件数", "en": "Recordings"},
    "calls.dtmf": {"zh": "按键次数", "en": "Key presses"},
    "calls.dtmf_note": {"zh": "按键内容不显示（可能是证件号码）", "en": "Digits are not shown (they may be an ID number)"},
    "calls.restored": {"zh": "重连后恢复", "en": "Restored after reconnect"},
    "calls.callid": {"zh": "热线呼叫号", "en": "Hotline call id"},
    "calls.channel_list": {"zh": "通道", "en": "Channels"},
    "calls.channel_name": {"zh": "通道名", "en": "Channel"},
    "calls.state": {"zh": "状态", "en": "State"},
    "calls.bridge": {"zh": "桥接", "en": "Bridge"},
    "calls.alive": {"zh": "在线", "en": "Up"},
    "calls.timeline": {"zh": "时间线", "en": "Timeline"},
    "calls.at": {"zh": "时间", "en": "Time"},
    "calls.kind": {"zh": "事件", "en": "Event"},
    "calls.detail": {"zh": "内容", "en": "Detail"},
    "calls.back": {"zh": "返回通话列表", "en": "Back to live calls"},
    "calls.refresh_note": {"zh": "通话进行中，每5秒刷新", "en": "Call in progress: refreshes every 5 s"},
    "phase.dialing": {"zh": "呼叫中", "en": "Dialing"},
    "phase.ivr": {"zh": "语音导航", "en": "IVR"},
    "phase.queued": {"zh": "排队", "en": "Queued"},
    "phase.ringing": {"zh": "振铃", "en": "Ringing"},
    "phase.talking": {"zh": "通话中", "en": "Talking"},
    "phase.answered": {"zh": "已应答", "en": "Answered"},
    "phase.ended": {"zh": "已结束", "en": "Ended"},
    "acd.waiting": {"zh": "等待坐席", "en": "Waiting"},
    "acd.ringing": {"zh": "坐席振铃", "en": "Agent ringing"},
    "acd.returning": {"zh": "重新排队", "en": "Requeueing"},
    "acd.connected": {"zh": "已接通", "en": "Connected"},
    "acd.callback_wait": {"zh": "等待回拨", "en": "Callback kept"},
    "acd.callback_dialing": {"zh": "回拨中", "en": "Calling back"},
    "acd.ended": {"zh": "已结束", "en": "Ended"},
    "kind.dialplan": {"zh": "进入拨号方案", "en": "Dialplan"},
    "kind.answered": {"zh": "应答", "en": "Answered"},
    "kind.var": {"zh": "变量", "en": "Variable"},
    "kind.dial": {"zh": "发起呼叫", "en": "Dial"},
    "kind.dial_end": {"zh": "呼叫结果", "en": "Dial result"},
    "kind.bridge_enter": {"zh": "进入桥接", "en": "Bridged"},
    "kind.bridge_leave": {"zh": "离开桥接", "en": "Left bridge"},
    "kind.ivr_start": {"zh": "语音导航开始", "en": "IVR start"},
    "kind.ivr_end": {"zh": "语音导航结束", "en": "IVR end"},
    "kind.queue_join": {"zh": "进入队列", "en": "Joined queue"},
    "kind.queue_leave": {"zh": "离开队列", "en": "Left queue"},
    "kind.queue_abandon": {"zh": "排队放弃", "en": "Abandoned in queue"},
    "kind.agent_called": {"zh": "呼叫坐席", "en": "Agent rung"},
    "kind.agent_no_answer": {"zh": "坐席未接", "en": "Agent did not answer"},
    "kind.agent_connect": {"zh": "坐席接通", "en": "Agent connected"},
    "kind.agent_complete": {"zh": "坐席通话结束", "en": "Agent call complete"},
    "kind.recording_start": {"zh": "开始录音", "en": "Recording started"},
    "kind.recording_stop": {"zh": "停止录音", "en": "Recording stopped"},
    "kind.user_event": {"zh": "自定义事件", "en": "User event"},
    "kind.hangup": {"zh": "挂机", "en": "Hang-up"},
    "kind.channel": {"zh": "新通道", "en": "New channel"},
}
CATALOGUE.update(TEXT)


def live_calls_of(deps) -> LiveCalls:
    """The app's one :class:`LiveCalls` (made on first use, stopped with the app)."""
    live = deps.extras.get("live_calls")
    if live is None:
        live = LiveCalls(EventStream(deps.reactor), deps.reactor, tz=local_zone(deps.config))
        deps.extras["live_calls"] = live
        deps.extras.setdefault("on_close", []).extend([live.stop, live.stream.close])
    return live


def _not_tracked() -> ApiError:
    return ApiError(503, "calls.not_tracked", "通话跟踪未启用 / call tracking is not running")


def _linkedid(value: str) -> str:
    if not valid_linkedid(value):
        raise ApiError(400, "calls.bad_linkedid", "通话标识格式错误 / malformed call id (Linkedid)",
                       {"linkedid": value[:80]})
    return value


def _texts(lang: str) -> dict:
    """The words the page script needs, in the page's language."""
    keys = [f"phase.{p}" for p in PHASES] + [f"acd.{s}" for s in ACD_STATES] + \
        ["calls.none", "calls.details", "calls.yes", "calls.no", "calls.more"]
    return {k: TEXT[k].get(lang) or TEXT[k]["zh"] for k in keys}


_ROW = {"type": "object", "properties": {
    "linkedid": {"type": "string"},
    "phase": {"type": "string", "enum": list(PHASES)},
    "started_at": {"type": "string", "format": "date-time"},
    "caller": {"type": ["string", "null"], "description": "masked: 138****1234"},
    "queue": {"type": ["string", "null"]},
    "queue_position": {"type": ["integer", "null"]},
    "waited_seconds": {"type": ["number", "null"]},
    "agent": {"type": ["string", "null"]},
    "acd_state": {"type": ["string", "null"], "enum": list(ACD_STATES) + [None]},
    "recording_active": {"type": "boolean"},
    "ivr_active": {"type": "boolean"},
    "hotline_callid": {"type": ["string", "null"]},
    "channels": {"type": "integer", "description": "live channels"},
    "restored": {"type": "boolean", "description": "found by the resync after an AMI reconnect"}}}
_DETAIL = {"allOf": [_ROW, {"type": "object", "properties": {
    "ended_at": {"type": ["string", "null"], "format": "date-time"},
    "connected_at": {"type": ["string", "null"], "format": "date-time"},
    "hangup_cause": {"type": ["string", "null"]},
    "recordings": {"type": "integer"},
    "dtmf_count": {"type": "integer", "description": "the caller's key presses as the hotline received them; the digits are never exposed"},
    "channel_list": {"type": "array", "items": {"type": "object", "properties": {
        "uniqueid": {"type": "string"}, "name": {"type": "string"}, "state": {"type": ["string", "null"]},
        "bridge_id": {"type": ["string", "null"]}, "dtmf_count": {"type": "integer", "description": "DTMF events on this channel"}, "alive": {"type": "boolean"}}}},
    "timeline": {"type": "array", "items": {"type": "object", "properties": {
        "at": {"type": "string", "format": "date-time"}, "kind": {"type": "string"},
        "channel": {"type": ["string", "null"]}, "detail": {"type": ["string", "null"]}}}}}}]}



OPENAPI = {
    "/api/v1/calls": {"get": {
        "operationId": "live_calls", "summary": "Live calls from the call tracker / 实时通话",
        "description": "Supervisors and admins: every live call; agents: the calls they are the agent of. "
                       "Caller numbers are masked.",
        "responses": {"200": {"description": "live calls, oldest first", "content": {"application/json": {
            "schema": {"type": "object", "properties": {
                "at": {"type": "string", "format": "date-time"}, "total": {"type": "integer"},
                "items": {"type": "array", "items": _ROW}}}}}},
            **error_responses(401, 403, 503)}}},
    "/api/v1/calls/{linkedid}": {"get": {
        "operationId": "live_call", "summary": "One call (live or recently ended) with its timeline / 通话详情",
        "parameters": [{"name": "linkedid", "in": "path", "required": True,
                        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"}}],
        "responses": {"200": {"description": "the call", "content": {"application/json": {"schema": _DETAIL}}},
                      **error_responses(400, 401, 403, 404, 503)}}},
}


def routes(app) -> None:
    deps = app.deps
    deps.templates.add_directory(Path(__file__).parent / "templates")
    deps.extras.setdefault("openapi_paths", {}).update(OPENAPI)
    live = live_calls_of(deps)

    def tracking() -> LiveCalls:
        if not live.attached:
            raise _not_tracked()
        return live

    @app.route("/api/v1/calls", methods=["GET"])
    @json_api
    @require_role(*VIEWERS)
    async def calls(request, principal):
        source = tracking()
        items = source.rows(principal.user)
        return {"at": source.now().isoformat(), "total": len(items), "items": items}

    @app.route("/api/v1/calls/<linkedid>", methods=["GET"])
    @json_api
    @require_role(*VIEWERS)
    async def call(request, principal, linkedid):
        body = tracking().detail(_linkedid(linkedid), principal.user)
        if body is None:
            raise ApiError(404, "calls.not_found", "无此通话（或已不在近期记录中）/ no such call (or no longer kept)",
                           {"linkedid": linkedid})
        return body

    @app.route("/supervisor/calls", methods=["GET"])
    @require_role(*SUPERVISORS, page=True)
    async def page(request, principal):
        snap = live.snapshot() if live.attached else {"at": "", "total": 0, "calls": []}
        return deps.templates.render(request, "livecalls.html", session=principal.session, snap=snap,
                                     attached=live.attached, phases=PHASES, acd_states=ACD_STATES,
                                     texts=_texts(language(request)))

    @app.route("/supervisor/calls/events", methods=["GET"])
    @require_role(*SUPERVISORS, stream=True)
    async def events(request, principal):
        relay = deps.extras.get("calls_relay")  # a web process that does not drive calls: the leader's frames
        return relay.stream("livecalls") if relay is not None else live.stream

    app.mount("supervisor/calls/assets", StaticFiles(STATIC))

    @app.route("/supervisor/calls/<linkedid>", methods=["GET"])
    @require_role(*SUPERVISORS, page=True)
    async def call_page(request, principal, linkedid):
        body = live.detail(linkedid) if live.attached and valid_linkedid(linkedid) else None
        if body is None:
            return deps.templates.render(request, "error.html", status=404, session=principal.session,
                                         message_key="error.not_found", detail="calls.not_found",
                                         back="/supervisor/calls")
        if body["phase"] != "ended":  # a live call's page follows it without a script
            request.setHeader(b"Refresh", b"5")
        return deps.templates.render(request, "livecall.html", session=principal.session, call=body,
                                     local=live.local, kinds=KINDS, acd_states=ACD_STATES)
