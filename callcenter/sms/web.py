"""The two URLs Kannel calls: delivery reports and citizens' replies.

``GET /sms/dlr?id=…&token=…&type=N`` — smsbox reports on one message (the per-message token
proves the report belongs to it).  ``GET /sms/mo?token=…&from=…&text=…`` — a citizen replied
to the short code; ``TD`` / ``STOP`` / ``退订`` puts the number on the opt-out list, ``KT`` /
``START`` takes it off.  The MO token is ``sms.callback_token``; both answer plain text, as
Kannel expects, and log neither number nor text.
"""
from __future__ import annotations

import hmac
import logging

from callcenter import personal_data
from callcenter.auth.web import require_role
from callcenter.sms import outbox, policy
from callcenter.web.app import ascii_int, json_api, query_arg, row_id
from callcenter.web.errors import error_responses
from callcenter.workorders.engine import actor_for, unavailable

log = logging.getLogger(__name__)


OPENAPI = {
    "/api/v1/workorders/{number}/sms": {
        "get": {"operationId": "list_order_sms", "summary": "SMS sent to the order's citizen, with delivery status "
                "/ 工单短信及送达状态",
                "responses": {"200": {"description": "messages, newest first"}, **error_responses(401, 404)}}},
}


def message_view(row: dict, role: str | None) -> dict:
    """One message as staff see it: the number by the personal-data policy, never the code."""
    body = row["body"]
    if row["kind"] == "code":
        body = "（验证码短信 / verification code）"
    return {"id": row["id"], "kind": row["kind"], "state": row["state"], "lang": row["lang"], "body": body,
            "phone": personal_data.phone_for(row["phone"], role, personal_data.API), "attempts": row["attempts"],
            "last_error": row["last_error"], "dlr_status": row["dlr_status"],
            "created_at": row["created_at"].isoformat(),
            "sent_at": row["sent_at"].isoformat() if row["sent_at"] else None,
            "delivered_at": row["delivered_at"].isoformat() if row["delivered_at"] else None}


def _text(request, status: int, body: str) -> bytes:
    request.setResponseCode(status)
    request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
    request.setHeader(b"Cache-Control", b"no-store")
    return body.encode("utf-8")


def routes(app) -> None:
    deps = app.deps
    deps.extras.setdefault("openapi_paths", {}).update(OPENAPI)

    @app.route("/api/v1/workorders/<number>/sms", methods=["GET"])
    @json_api
    @require_role()
    async def order_sms(request, principal, number):
        """What the order's citizen was sent and whether it arrived (whoever may see the order)."""
        if deps.workorders is None:
            raise unavailable()
        await deps.db(deps.workorders.get, number, actor_for(principal.user), now=deps.now())
        rows = await deps.db(outbox.messages, deps.engine, order_number=number)
        return {"items": [message_view(r, principal.user.role) for r in rows]}

    @app.route("/sms/dlr", methods=["GET", "POST"])
    async def delivery_report(request):
        raw_id, token, raw_type = query_arg(request, "id"), query_arg(request, "token"), query_arg(request, "type")
        if row_id(raw_id) is None or ascii_int(raw_type, max_digits=3) is None or not token:
            return _text(request, 400, "sms.bad_report: id, token and type are required")
        state = await deps.db(outbox.report, deps.engine, int(raw_id), token, int(raw_type), deps.now())
        if state is None:
            return _text(request, 404, "sms.unknown_message")
        from callcenter.sms.metrics import SMS_REPORTS

        SMS_REPORTS.labels(state).inc()
        log.info("sms %s: delivery report %s → %s", raw_id, raw_type, state)
        return _text(request, 200, state)

    @app.route("/sms/mo", methods=["GET", "POST"])
    async def mobile_originated(request):
        expected = str(deps.config.get("sms.callback_token") or "")
        token = query_arg(request, "token") or ""
        if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
            return _text(request, 403, "sms.bad_token")
        sender = policy.mobile(query_arg(request, "from"))
        word = policy.opt_out_word(query_arg(request, "text"))
        if sender is None or word is None:
            return _text(request, 200, "")  # nothing to act on; max-messages = 0, so no reply goes out
        if word in policy.OPT_OUT_WORDS:
            if await deps.db(outbox.opt_out, deps.engine, sender, word, deps.now()):
                from callcenter.sms.metrics import SMS_OPT_OUTS

                SMS_OPT_OUTS.inc()
            log.info("sms: a number opted out (%s)", word)
        else:
            await deps.db(outbox.opt_in, deps.engine, sender)
            log.info("sms: a number opted in again (%s)", word)
        return _text(request, 200, "")
