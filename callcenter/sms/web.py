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

from callcenter.sms import outbox, policy
from callcenter.web.app import ascii_int, query_arg

log = logging.getLogger(__name__)


def _text(request, status: int, body: str) -> bytes:
    request.setResponseCode(status)
    request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
    request.setHeader(b"Cache-Control", b"no-store")
    return body.encode("utf-8")


def routes(app) -> None:
    deps = app.deps

    @app.route("/sms/dlr", methods=["GET", "POST"])
    async def delivery_report(request):
        raw_id, token, raw_type = query_arg(request, "id"), query_arg(request, "token"), query_arg(request, "type")
        if ascii_int(raw_id) is None or ascii_int(raw_type, max_digits=3) is None or not token:
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
