"""``/callbacks`` page and ``/api/v1/callbacks``: the manual callback list.

Agents and dispatchers see callbacks that are scheduled, being dialled or
unreachable, and record a result after calling by hand (CSRF-protected form
or JSON).  Mount by adding ``callcenter.callbacks.web`` to ``web.features``.
"""
from __future__ import annotations

from callcenter.auth.web import require_role
from callcenter.web.app import form_arg, json_api, query_arg, read_json
from callcenter.web.errors import ApiError, error_payload
from callcenter.workorders.engine import actor_for, unavailable

PREFIX = "/api/v1/callbacks"
ROLES = ("agent", "dispatcher", "supervisor", "admin")
ANSWERS = ("satisfied", "basic", "dissatisfied", "unreachable")
LIST_STATES = ("scheduled", "dialing", "unreachable")


def _view(job: dict) -> dict:
    iso = lambda v: v.isoformat() if v else None  # noqa: E731
    return {"id": job["id"], "number": job["order_number"], "round": job["round"], "phone": job["phone"],
            "department": job["department"], "category": job["category"], "urgency": job["urgency"],
            "state": job["state"], "attempts": job["attempts"], "due_at": iso(job["due_at"]),
            "last_reason": job["last_reason"], "result": job["result"], "note": job["note"],
            "has_comment": bool(job.get("comment_path"))}


def _job_id(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 12:
        raise ApiError(404, "callback.not_found", "回访任务不存在 / no such callback", {"id": raw[:16]})
    return int(raw)


def routes(app) -> None:
    from pathlib import Path

    from callcenter.callbacks import jobs

    deps = app.deps
    deps.templates.add_directory(Path(__file__).parent / "templates")

    def recorder():
        if deps.workorders is None:
            raise unavailable()
        rec = deps.extras.get("callback_recorder")
        if rec is None:
            from ticketing.service import Actor

            rec = jobs.ResultRecorder(deps.engine, deps.workorders, Actor("system:callbacks", "dispatcher"),
                                      notify=deps.extras.get("callback_notify"))
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
        return {"items": [_view(j) for j in items]}

    @app.route(PREFIX + "/<job_id>/result", methods=["POST"])
    @json_api
    @require_role(*ROLES)
    async def post_result(request, principal, job_id):
        body = read_json(request)
        answer, note = body.get("answer"), body.get("note") or ""
        if not isinstance(answer, str) or not isinstance(note, str):
            raise ApiError(422, "callback.invalid_answer", "无效的回访结果 / invalid callback result",
                           {"answer": list(ANSWERS)})
        return _view(await record(principal, job_id, answer, note))

    @app.route(PREFIX + "/optouts", methods=["POST"])
    @json_api
    @require_role(*ROLES)
    async def post_optout(request, principal):
        body = read_json(request)
        await deps.db(jobs.opt_out, deps.engine, body.get("phone"), body.get("note") or "", deps.now())
        return 201, {"phone": body.get("phone")}

    async def page(request, principal, *, error=None, status=200):
        items = await deps.db(jobs.list_jobs, deps.engine, states(request))
        return deps.templates.render(request, "callbacks.html", status=status, session=principal.session,
                                     jobs=[_view(j) for j in items], error=error,
                                     done=query_arg(request, "done") == "1", answers=ANSWERS)

    @app.route("/callbacks", methods=["GET"])
    @require_role(*ROLES, page=True)
    async def callbacks_page(request, principal):
        return await page(request, principal)

    @app.route("/callbacks/<job_id>/result", methods=["POST"])
    @require_role(*ROLES, page=True)
    async def callbacks_form(request, principal, job_id):
        try:
            await record(principal, job_id, form_arg(request, "answer"), form_arg(request, "note"))
        except Exception as exc:  # noqa: BLE001 - the engine's message is shown on the page
            if not hasattr(exc, "error_id") and not isinstance(exc, ApiError):
                raise
            code, body = error_payload(exc)
            return await page(request, principal, error=body, status=code)
        request.redirect(b"/callbacks?done=1")
        request.setResponseCode(303)
        return b""
