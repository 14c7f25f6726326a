"""``/dept``: the department portal — the queue with SLA colours, and the
acknowledge / start / return / extend / reply forms (CSRF-protected).

Department staff see their own department only (the engine enforces it);
dispatchers, supervisors and admins may look at any department's queue.
"""
from __future__ import annotations

from callcenter.auth.web import require_role
from callcenter.web.app import ascii_int, form_arg, query_arg
from callcenter.web.errors import ApiError, error_payload
from callcenter.web.i18n import CATALOGUE
from callcenter.web.templates import refusals_as_pages
from callcenter.workorders.engine import actor_for, unavailable
from callcenter.errors import HotlineError

VIEWERS = ("department", "dispatcher", "supervisor", "admin")
PORTAL_ACTIONS = ("acknowledge", "start", "return", "extend", "reply", "co-acknowledge", "co-reply", "sub-dispatch",
                  "respond-supervision")

TEXT = {
    "dept.co-acknowledge": {"zh": "协办签收", "en": "Acknowledge our part"},
    "dept.co-reply": {"zh": "提交协办意见", "en": "Answer our part"},
    "dept.co_reply.text": {"zh": "本单位协办意见", "en": "Our department's part"},
    "dept.co_parts": {"zh": "协办单位", "en": "Co-handling departments"},
    "dept.co_state": {"zh": "协办状态", "en": "State"},
    "dept.co_answer": {"zh": "协办意见", "en": "Their part"},
    "dept.co_pending": {"zh": "以下协办单位答复(或被派单员解除)后才能回复市民", "en": "The reply to the citizen waits for "
                        "these co-handling departments to answer (or be released by the dispatcher)"},
    "dept.lead": {"zh": "主办单位", "en": "Lead department"},
    "dept.sub_unit": {"zh": "承办下级单位", "en": "Sub-unit"},
    "dept.sub-dispatch": {"zh": "二级派单", "en": "Hand to a sub-unit"},
    "dept.respond-supervision": {"zh": "答复督办", "en": "Answer the supervision"},
    "dept.supervision": {"zh": "督办", "en": "Supervision (督办)"},
    "dept.supervision.due": {"zh": "答复期限", "en": "Answer by"},
    "dept.supervision.text": {"zh": "督办答复", "en": "Our answer"},
    "dept.attachments": {"zh": "附件", "en": "Attachments"},
    "dept.attach": {"zh": "上传照片或 PDF", "en": "Attach a photo or PDF"},
    "dept.no_attachments": {"zh": "暂无附件", "en": "No attachments"},
}
CATALOGUE.update(TEXT)
MAX_EXTENSION_DAYS = 30


class FormError(HotlineError):
    def __init__(self, error_id: str, message: str):
        super().__init__(error_id, message)


def params_from_form(action: str, request) -> dict:
    """The engine parameters of a portal form (the engine validates them again)."""
    if action == "return":
        return {"reason_code": form_arg(request, "reason_code"), "reason": form_arg(request, "reason")}
    if action == "extend":
        raw = form_arg(request, "days").strip()
        if ascii_int(raw, max_digits=3) is None or not 1 <= int(raw) <= MAX_EXTENSION_DAYS:
            raise FormError("portal.bad_days", f"延期天数须为 1-{MAX_EXTENSION_DAYS} / extra days must be "
                                               f"1-{MAX_EXTENSION_DAYS}")
        return {"duration": f"{int(raw)} working days", "reason": form_arg(request, "reason")}
    if action in ("reply", "co-reply"):
        return {"reply": form_arg(request, "reply")}
    if action == "respond-supervision":
        return {"response": form_arg(request, "response")}
    if action == "sub-dispatch":
        return {"sub_unit": form_arg(request, "sub_unit")}
    note = form_arg(request, "note")
    return {"note": note} if note else {}


def routes(app) -> None:
    from pathlib import Path

    deps = app.deps
    templates = deps.templates
    templates.add_directory(Path(__file__).parent / "templates")

    def service():
        if deps.workorders is None:
            raise unavailable()
        return deps.workorders

    async def render_order(request, principal, number, *, error=None, status=200):
        from ticketing.domain.lifecycle import RETURN_REASONS

        svc = service()
        actor = actor_for(principal.user)
        order = await deps.db(svc.get, number, actor, now=deps.now())
        history = await deps.db(svc.history, number, actor)
        from callcenter.attachments.web import store_of

        attachments = await deps.db(store_of(deps).list, number)
        district = svc.taxonomy.districts.get(order["district"])
        sub_units = sorted(district.subdistricts.values(), key=lambda d: d.code) if district else []
        return templates.render(
            request, "dept_order.html", status=status, session=principal.session, order=order, history=history,
            actions=[a for a in PORTAL_ACTIONS if a in order["allowed_actions"]],
            reasons=[(code, names) for code, names in RETURN_REASONS.items()],
            done=query_arg(request, "done") in PORTAL_ACTIONS, error=error, max_days=MAX_EXTENSION_DAYS,
            attachments=attachments, sub_units=sub_units)

    @app.route("/dept", methods=["GET"])
    @require_role(*VIEWERS, page=True)
    @refusals_as_pages("/dept")
    async def queue(request, principal):
        svc = service()
        user = principal.user
        department = user.department if user.role == "department" else (query_arg(request, "department") or None)
        status = query_arg(request, "status") or None
        page = await deps.db(svc.list, actor_for(user), status=status,   # bad filters get the error page
                             department=department if user.role != "department" else None,
                             limit=200, offset=0, now=deps.now())
        orders = [o for o in page["items"] if o["status_kind"] == "open"]
        departments = sorted(svc.taxonomy.departments.values(), key=lambda d: d.code)
        return templates.render(request, "dept.html", session=principal.session, orders=orders,
                                department=department, departments=departments,
                                can_choose=user.role != "department", status_filter=status)

    @app.route("/dept/orders/<number>", methods=["GET"])
    @require_role(*VIEWERS, page=True)
    @refusals_as_pages("/dept")
    async def order_page(request, principal, number):
        return await render_order(request, principal, number)

    @app.route("/dept/orders/<number>/<action>", methods=["POST"])
    @require_role(*VIEWERS, page=True)
    async def order_action(request, principal, number, action):
        if action not in PORTAL_ACTIONS:
            return templates.error_page(request, ApiError(404, "portal.unknown_action", "unknown action / 未知操作"),
                                        session=principal.session, back="/dept")
        try:
            params = params_from_form(action, request)
            await deps.db(service().perform, number, action, params, actor_for(principal.user), deps.now())
        except Exception as exc:  # noqa: BLE001 - show the engine's message on the page
            if not hasattr(exc, "error_id"):
                raise
            status, body = error_payload(exc)
            if status == 404:
                return templates.error_page(request, exc, session=principal.session, back="/dept")
            return await render_order(request, principal, number, error=body, status=status)
        request.redirect(f"/dept/orders/{number}?done={action}".encode())
        request.setResponseCode(303)
        return b""
