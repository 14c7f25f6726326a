"""``/supervisor``: steer the floor.

* agents live (state, reason, time in state) with listen / whisper / barge —
  an AMI ``Originate`` of the supervisor's phone into ``ChanSpy`` on the
  agent's channel, done by the ACD (:meth:`QueueController.supervise`).  The
  phone is always the supervisor's own registered ``device`` (set by an
  administrator on the accounts page) and must be one of the centre's phones
  (``PJSIP/9001``): a live call is never sent to a number typed in a form or
  to a dial string that reaches outside (``Local/…@hotline-pstn``);
* queue details from the wallboard projection;
* today's abandoned calls (numbers masked) with a callback action that books
  the caller into the ACD's callback queue (the number stays server-side);
* SLA-at-risk work orders with 催办 remind and 督办 supervise through the
  work-order service.

Every POST is a form carrying the session's CSRF token from our own origin
(``require_role(page=True)``); bad input changes nothing and says why.
"""
from __future__ import annotations

from pathlib import Path

from callcenter.errors import HotlineError
from callcenter.auth.web import require_role
from callcenter.routing.skills import is_desk_phone
from callcenter.wallboard.web import feed_for
from callcenter.web.app import form_arg, query_arg
from callcenter.web.forms import page_forms
from callcenter.web.i18n import CATALOGUE

ROLES = ("supervisor", "admin")
SPY_MODES = ("listen", "whisper", "barge")
ORDER_ACTIONS = ("remind", "supervise")
AT_RISK_LIMIT = 30

TEXT = {
    "sup.title": {"zh": "班长监控台", "en": "Supervisor console"},
    "sup.agents": {"zh": "坐席", "en": "Agents"},
    "sup.agent": {"zh": "工号", "en": "Agent"},
    "sup.state": {"zh": "状态", "en": "State"},
    "sup.reason": {"zh": "原因", "en": "Reason"},
    "sup.in_state": {"zh": "持续时长", "en": "Time in state"},
    "sup.device": {"zh": "我的话机", "en": "My phone"},
    "sup.device_hint": {"zh": "监听、耳语、强插只呼叫您账号登记的话机（管理员在账号页设置）",
                        "en": "Listen, whisper and barge call only the phone registered to your account (set by an "
                              "administrator on the accounts page)"},
    "sup.listen": {"zh": "监听", "en": "Listen"},
    "sup.whisper": {"zh": "耳语", "en": "Whisper"},
    "sup.barge": {"zh": "强插", "en": "Barge"},
    "sup.queues": {"zh": "队列", "en": "Queues"},
    "sup.abandoned": {"zh": "今日放弃来电", "en": "Abandoned calls today"},
    "sup.number": {"zh": "号码", "en": "Number"},
    "sup.waited": {"zh": "等待时长", "en": "Waited"},
    "sup.at": {"zh": "时间", "en": "When"},
    "sup.callback": {"zh": "回拨", "en": "Call back"},
    "sup.at_risk": {"zh": "超时风险工单", "en": "Work orders at SLA risk"},
    "sup.remind": {"zh": "催办", "en": "Remind"},
    "sup.supervise": {"zh": "督办", "en": "Supervise"},
    "sup.supervised": {"zh": "已督办", "en": "Supervised"},
    "sup.reminders": {"zh": "催办次数", "en": "Reminders"},
    "sup.note": {"zh": "说明", "en": "Note"},
    "sup.done": {"zh": "操作已提交", "en": "Done"},
    "sup.error": {"zh": "操作未完成", "en": "Not done"},
    "sup.none": {"zh": "暂无", "en": "None"},
    "sup.no_acd": {"zh": "话务系统未连接", "en": "Call routing is not connected"},
}
CATALOGUE.update(TEXT)


class SupervisorError(HotlineError):
    """A refused supervisor action, shown on the page."""


def mask(number: str) -> str:
    """An abandoned caller's number on the supervisor's wallboard panel (read over a shoulder)."""
    from callcenter.personal_data import LIVE, phone_for

    return phone_for(number, None, LIVE) or ""


def spy_device(profile: str | None) -> str:
    """The phone to listen from: the supervisor's own registered device, and only if it is one of the
    centre's phones (:func:`~callcenter.routing.skills.is_desk_phone`)."""
    device = profile or ""
    if not device:
        raise SupervisorError("supervisor.no_device", "您的账号没有登记话机，请管理员在账号页设置 / your account has no "
                              "registered phone; an administrator sets it on the accounts page", http_status=422)
    if not is_desk_phone(device):
        raise SupervisorError("supervisor.bad_device", "登记的话机不是本中心的话机（如 PJSIP/9001），不能用于监听 / "
                              "your registered phone is not one of the centre's phones (such as PJSIP/9001)",
                              http_status=422, device=device[:40])
    return device


def routes(app) -> None:
    deps = app.deps
    deps.templates.add_directory(Path(__file__).parent / "templates")
    feed = feed_for(app)

    def acd():
        controller = deps.extras.get("acd")
        if controller is None:
            raise SupervisorError("supervisor.no_acd", "话务系统未连接 / call routing is not connected")
        return controller

    async def at_risk(principal):
        from callcenter.wallboard.workorders import orders_at_risk
        from callcenter.workorders.engine import actor_for

        svc = deps.workorders
        if svc is None:
            return []
        now = deps.now()
        numbers = await deps.db(orders_at_risk, deps.engine, now, AT_RISK_LIMIT)
        actor = actor_for(principal.user)
        return [await deps.db(svc.get, n, actor, now=now) for n in numbers]

    async def render(request, principal, *, error=None, status=200):
        snap = feed.current()
        abandoned = [dict(c, number=mask(c["number"])) for c in feed.wallboard.abandoned_calls]
        return deps.templates.render(
            request, "supervisor.html", status=status, session=principal.session, snap=snap,
            agents=feed.agent_rows(), abandoned=abandoned, orders=await at_risk(principal),
            has_acd=deps.extras.get("acd") is not None, modes=SPY_MODES, error=error,
            done=query_arg(request, "done") or "",
            device=principal.user.device or "")

    form = page_forms("/supervisor", render)

    @app.route("/supervisor", methods=["GET"])
    @require_role(*ROLES, page=True)
    async def page(request, principal):
        return await render(request, principal)

    @app.route("/supervisor/agents/<agent_id>/<mode>", methods=["POST"])
    @require_role(*ROLES, page=True)
    async def spy(request, principal, agent_id, mode):
        async def action():
            if mode not in SPY_MODES:
                raise SupervisorError("supervisor.bad_mode", "模式须为监听、耳语或强插 / mode is listen, whisper or "
                                      "barge", mode=mode[:20])
            controller = acd()
            if agent_id not in controller.sessions:
                raise SupervisorError("supervisor.unknown_agent", "无此坐席 / no such agent", agent=agent_id[:20])
            device = spy_device(principal.user.device)
            await controller.supervise(device, agent_id, mode)

        return await form(request, principal, action, "1")

    @app.route("/supervisor/abandoned/<call_id>/callback", methods=["POST"])
    @require_role(*ROLES, page=True)
    async def callback(request, principal, call_id):
        from callcenter.routing.acd import CallHandle

        async def action():
            entry = next((c for c in feed.wallboard.abandoned_calls if c["call_id"] == call_id), None)
            if entry is None:
                raise SupervisorError("supervisor.unknown_call", "该来电不在放弃列表中 / not in the abandoned list",
                                      call=call_id[:40])
            if not entry["number"]:
                raise SupervisorError("supervisor.no_number", "来电号码未知，无法回拨 / the number is unknown")
            booked = await acd().request_callback(CallHandle(call_id, "", entry["number"]), entry["queue"])
            if not booked:
                raise SupervisorError("supervisor.callback_refused",
                                      "已在回拨队列中或无法预约 / already waiting for a callback or refused")
            feed.wallboard.forget_abandoned(call_id)

        return await form(request, principal, action, "1")

    @app.route("/supervisor/orders/<number>/<action_name>", methods=["POST"])
    @require_role(*ROLES, page=True)
    async def order_action(request, principal, number, action_name):
        from callcenter.workorders.engine import actor_for, unavailable

        async def action():
            if action_name not in ORDER_ACTIONS:
                raise SupervisorError("supervisor.unknown_action", "未知操作 / unknown action",
                                      action=action_name[:20])
            if deps.workorders is None:
                raise unavailable()
            note = form_arg(request, "reason").strip()
            params = {"reason": note} if note else {}
            await deps.db(deps.workorders.perform, number, action_name, params, actor_for(principal.user), deps.now())

        return await form(request, principal, action, "1")
