"""``/callbacks`` page and ``/api/v1/callbacks``: the manual callback list.

Agents and dispatchers see callbacks that are scheduled, being dialled or
unreachable (every attempt used), and record a result after calling by hand
(CSRF-protected form or JSON).  The page also lists what would otherwise go
unnoticed: webhook notifications given up after their last attempt (a
supervisor sends them again) and the ACD's callback list that nothing dials
(abandoned callers, in-queue callbacks whose call did not reach them), which
an agent marks done after calling back by hand.  Only the roles that dial by hand (agent, dispatcher)
see whole phone numbers.  Mount by adding ``callcenter.callbacks.web`` to
``web.features``.
"""
from __future__ import annotations

from callcenter.auth.web import require_role
from callcenter.web.app import form_arg, json_api, query_arg, read_json, row_id
from callcenter.web.errors import ApiError, error_responses
from callcenter.web.forms import page_forms
from callcenter.workorders.engine import actor_for, unavailable

PREFIX = "/api/v1/callbacks"
ROLES = ("agent", "dispatcher", "supervisor", "admin")
ANSWERS = ("satisfied", "basic", "dissatisfied", "unreachable")
LIST_STATES = ("scheduled", "dialing", "unreachable")
DIALLERS = ("agent", "dispatcher")          # they call citizens back by hand: whole numbers
ACT_ON_WEBHOOKS = ("supervisor", "admin")   # may send a dead notification again


def _phone(phone: str | None, role: str) -> str | None:
    """Whole for those who dial from this list (agents, dispatchers), masked for the rest."""
    from callcenter.personal_data import WORKLIST, phone_for

    return phone_for(phone, role, WORKLIST)


def _iso(value):
    return value.isoformat() if value else None


def _view(job: dict, role: str) -> dict:
    iso = _iso
    return {"id": job["id"], "number": job["order_number"], "round": job["round"],
            "phone": _phone(job["phone"], role),
            "department": job["department"], "category": job["category"], "urgency": job["urgency"],
            "state": job["state"], "attempts": job["attempts"], "due_at": iso(job["due_at"]),
            "last_reason": job["last_reason"], "result": job["result"], "note": job["note"],
            "has_comment": bool(job.get("comment_path"))}


def _webhook_view(row: dict) -> dict:
    payload = row["payload"] or {}
    return {"id": row["id"], "event_id": row["event_id"], "kind": row["kind"], "state": row["state"],
            "number": payload.get("number"), "department": payload.get("department"),
            "attempts": row["attempts"], "last_error": row["last_error"], "next_at": _iso(row["next_at"]),
            "created_at": _iso(row["created_at"]), "updated_at": _iso(row["updated_at"])}


def _job_id(raw: str, what: str = "callback") -> int:
    if row_id(raw) is None:
        if what == "webhook":
            raise ApiError(404, "callback.webhook_not_found", "通知不存在 / no such notification", {"id": raw[:16]})
        if what == "queue":
            raise ApiError(404, "callback.queue_entry_not_found", "回拨记录不存在或已处理 / no such callback waiting",
                           {"id": raw[:16]})
        raise ApiError(404, "callback.not_found", "回访任务不存在 / no such callback", {"id": raw[:16]})
    return int(raw)


def _queue_needs_a_person():
    from sqlalchemy import and_, or_

    from callcenter.routing.store import CALLBACK_PENDING, CALLBACK_UNREACHABLE, queue_callbacks as q

    # A 'requested' row never attempted is still the ACD's (the caller keeps a place in the queue);
    # an attempted one is retried by the ACD but listed so a person may call first (marking it done
    # stops the retries); an unreachable one is nobody's but a person's.
    return q, (or_(q.c.state == CALLBACK_UNREACHABLE,
                   and_(q.c.state == CALLBACK_PENDING, or_(q.c.attempts > 0, q.c.reason == "abandoned"))),)


def queue_callbacks_waiting(engine, limit: int = 200) -> list[dict]:
    """The ACD's callback list (``queue_callbacks``, owned by routing) that needs a person: callers
    who abandoned the queue, in-queue callbacks whose call did not reach the caller (the ACD retries
    them on the callback policy until they are unreachable).  Listed so that someone calls back by
    hand."""
    from sqlalchemy import select

    q, where = _queue_needs_a_person()
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(
            select(q.c.id, q.c.number, q.c.queue, q.c.reason, q.c.state, q.c.attempts, q.c.created_at, q.c.updated_at)
            .where(*where).order_by(q.c.created_at, q.c.id).limit(limit))]


def queue_callback_done(engine, entry_id: int, now) -> None:
    """An agent called a caller of :func:`queue_callbacks_waiting` back by hand: the entry is done
    (as the ACD's ``resolve_callbacks`` does when the number gets through).  Only entries on that
    list; anything else is 404 and unchanged."""
    from sqlalchemy import update

    q, where = _queue_needs_a_person()
    with engine.begin() as conn:
        res = conn.execute(update(q).where(q.c.id == entry_id, *where).values(state="done", updated_at=now))
    if not res.rowcount:
        raise ApiError(404, "callback.queue_entry_not_found", "回拨记录不存在或已处理 / no such callback waiting",
                       {"id": entry_id})



WEBHOOK = {"type": "object", "properties": {
    "id": {"type": "integer"}, "event_id": {"type": "string"}, "kind": {"type": "string"},
    "state": {"type": "string", "enum": ["pending", "sending", "delivered", "dead"]},
    "number": {"type": ["string", "null"]}, "department": {"type": ["string", "null"]},
    "attempts": {"type": "integer"}, "last_error": {"type": ["string", "null"]},
    "next_at": {"type": "string", "format": "date-time"}, "created_at": {"type": "string", "format": "date-time"},
    "updated_at": {"type": "string", "format": "date-time"}}}
OPENAPI = {
    PREFIX + "/webhooks": {"get": {
        "operationId": "listCallbackWebhooks",
        "summary": "Webhook notifications of callbacks, dead ones by default / 回访通知（默认：发送失败的）",
        "parameters": [{"name": "state", "in": "query", "schema": {
            "type": "string", "enum": ["pending", "sending", "delivered", "dead"]}, "description": "default: dead"}],
        "responses": {"200": {"description": "notifications, latest first", "content": {"application/json": {
            "schema": {"type": "object", "properties": {"items": {"type": "array", "items": WEBHOOK}}}}}},
            **error_responses(400, 401, 403)}}},
    PREFIX + "/webhooks/{row_id}/retry": {"post": {
        "operationId": "resendCallbackWebhook",
        "summary": "Send a dead notification again, same event id (supervisor, admin) / 重新发送通知",
        "parameters": [{"name": "row_id", "in": "path", "required": True,
                        "schema": {"type": "string", "pattern": "^[0-9]{1,12}$"}}],
        "responses": {"200": {"description": "the notification, pending again", "content": {
            "application/json": {"schema": WEBHOOK}}}, **error_responses(401, 403, 404, 409)}}},
}


def routes(app) -> None:
    from pathlib import Path

    from callcenter.callbacks import jobs, outbox

    deps = app.deps
    deps.extras.setdefault("openapi_paths", {}).update(OPENAPI)
    deps.templates.add_directory(Path(__file__).parent / "templates")

    def recorder():
        if deps.workorders is None:
            raise unavailable()
        rec = deps.extras.get("callback_recorder")
        if rec is None:
            from ticketing.service import Actor

            # with a webhook configured, results recorded here are notified through the outbox the
            # serve process's delivery service sends
            rec = jobs.ResultRecorder(deps.engine, deps.workorders, Actor("system:callbacks", "dispatcher"),
                                      notify=deps.extras.get("callback_notify"),
                                      outbox=bool(deps.config.get("callbacks.webhook_url")))
            deps.extras["callback_recorder"] = rec
        return rec

    def states(request) -> tuple[str, ...]:
        raw = query_arg(request, "state")
        if not raw:
            return LIST_STATES
        if raw not in jobs.STATES:
            raise ApiError(400, "request.invalid_query", "state 无效 / unknown state", {"state": list(jobs.STATES)})
        return (raw,)

    async def record(principal, raw_id: str, answer: str, note: str):
        if answer not in ANSWERS:
            raise ApiError(422, "callback.invalid_answer", "无效的回访结果 / invalid callback result",
                           {"answer": list(ANSWERS)})
        if len(note) > 500 or "\0" in note:
            raise ApiError(422, "callback.invalid_note", "备注过长 / note too long", {"note": "up to 500 characters"})
        return await deps.db(recorder().manual, _job_id(raw_id), answer, actor_for(principal.user), deps.now(),
                             note=note)

    @app.route(PREFIX, methods=["GET"])
    @json_api
    @require_role(*ROLES)
    async def list_callbacks(request, principal):
        items = await deps.db(jobs.list_jobs, deps.engine, states(request))
        return {"items": [_view(j, principal.user.role) for j in items]}

    @app.route(PREFIX + "/<job_id>/result", methods=["POST"])
    @json_api
    @require_role(*ROLES)
    async def post_result(request, principal, job_id):
        body = read_json(request)
        answer, note = body.get("answer"), body.get("note") or ""
        if not isinstance(answer, str) or not isinstance(note, str):
            raise ApiError(422, "callback.invalid_answer", "无效的回访结果 / invalid callback result",
                           {"answer": list(ANSWERS)})
        return _view(await record(principal, job_id, answer, note), principal.user.role)

    @app.route(PREFIX + "/optouts", methods=["POST"])
    @json_api
    @require_role(*ROLES)
    async def post_optout(request, principal):
        body = read_json(request)
        await deps.db(jobs.opt_out, deps.engine, body.get("phone"), body.get("note") or "", deps.now())
        return 201, {"phone": body.get("phone")}

    def webhook_states(request) -> tuple[str, ...]:
        raw = query_arg(request, "state")
        if not raw:
            return ("dead",)
        if raw not in outbox.STATES:
            raise ApiError(400, "request.invalid_query", "state 无效 / unknown state", {"state": list(outbox.STATES)})
        return (raw,)

    @app.route(PREFIX + "/webhooks", methods=["GET"])
    @json_api
    @require_role(*ROLES)
    async def list_webhooks(request, principal):
        rows = await deps.db(outbox.list_rows, deps.engine, webhook_states(request))
        return {"items": [_webhook_view(r) for r in rows]}

    @app.route(PREFIX + "/webhooks/<row_id>/retry", methods=["POST"])
    @json_api
    @require_role(*ACT_ON_WEBHOOKS)
    async def retry_webhook(request, principal, row_id):
        return _webhook_view(await deps.db(outbox.requeue, deps.engine, _job_id(row_id, "webhook"), deps.now()))

    def gather(states_):
        """Blocking: everything the page shows, in one trip to the pool."""
        return (jobs.list_jobs(deps.engine, states_), outbox.list_rows(deps.engine, ("dead",)),
                queue_callbacks_waiting(deps.engine))

    async def page(request, principal, *, error=None, status=200):
        role = principal.user.role
        items, dead, queue_missed = await deps.db(gather, states(request))
        views = [_view(j, role) for j in items]
        for q in queue_missed:
            q["number"] = _phone(q["number"], role)
        return deps.templates.render(request, "callbacks.html", status=status, session=principal.session,
                                     jobs=[v for v in views if v["state"] != "unreachable"],
                                     exhausted=[v for v in views if v["state"] == "unreachable"],
                                     webhooks=[_webhook_view(r) for r in dead], queue_missed=queue_missed,
                                     can_resend=role in ACT_ON_WEBHOOKS, error=error,
                                     done=query_arg(request, "done"), answers=ANSWERS)

    @app.route("/callbacks", methods=["GET"])
    @require_role(*ROLES, page=True)
    async def callbacks_page(request, principal):
        return await page(request, principal)

    # each form's action: back to the list (303) when it worked, the list with the error otherwise
    form = page_forms("/callbacks", page)

    @app.route("/callbacks/<job_id>/result", methods=["POST"])
    @require_role(*ROLES, page=True)
    async def callbacks_form(request, principal, job_id):
        return await form(request, principal, lambda: record(principal, job_id, form_arg(request, "answer"),
                                                             form_arg(request, "note")), "1")

    @app.route("/callbacks/queue/<entry_id>/done", methods=["POST"])
    @require_role(*ROLES, page=True)
    async def queue_done_form(request, principal, entry_id):
        return await form(request, principal, lambda: deps.db(
            queue_callback_done, deps.engine, _job_id(entry_id, "queue"), deps.now()), "1")

    @app.route("/callbacks/webhooks/<row_id>/retry", methods=["POST"])
    @require_role(*ACT_ON_WEBHOOKS, page=True)
    async def webhook_form(request, principal, row_id):
        return await form(request, principal, lambda: deps.db(
            outbox.requeue, deps.engine, _job_id(row_id, "webhook"), deps.now()), "resent")
