"""The citizen portal's pages at the site root: ``/`` (anonymous visitors; staff are sent to
their desk), ``/report`` → ``/report/confirm``, ``/track`` → ``/track/verify`` →
``/track/<number>`` and ``/track/<number>/rate``.

No account: a code sent by SMS proves the phone.  After it, a signed cookie (path
``/track``, SameSite=Strict, 30 minutes) names the one order and phone it proved; every
POST must come from this site's own origin.  Refusals are shown on the page with their
``error_id``.
"""
from __future__ import annotations

import logging
import re
import time
from pathlib import Path

from callcenter.auth.web import same_origin, sign, unsign
from callcenter.citizen.service import ANSWERS, CitizenPortal, PortalError
from callcenter.citizen.text import TEXT
from callcenter.personal_data import mask_phone
from callcenter.web.app import form_arg, query_arg
from callcenter.web.errors import error_payload
from callcenter.web.http import client_address
from callcenter.web.i18n import CATALOGUE
from callcenter.web.templates import language, refusals_as_pages

log = logging.getLogger(__name__)
CATALOGUE.update(TEXT)
TRACK_COOKIE = b"hotline_track"
TRACK_MINUTES = 30
MAX_PHOTOS = 3
UPLOAD_PATH = re.compile(rb"^/report/confirm/?(\?.*)?$")


def portal_of(deps) -> CitizenPortal:
    """The app's one portal service, made on first use from the configuration."""
    portal = deps.extras.get("citizen_portal")
    if portal is None:
        from callcenter.callbacks.jobs import ResultRecorder
        from callcenter.screening.service import RestrictionList
        from callcenter.sms.service import citizen_link, quiet_hours
        from ticketing.callbacks.policy import CallbackPolicy
        from ticketing.service import Actor

        config = deps.config
        recorder = ResultRecorder(deps.engine, deps.workorders, Actor("system:callbacks", "dispatcher"),
                                  outbox=bool(config.get("callbacks.webhook_url")))
        portal = CitizenPortal(
            deps.engine, deps.workorders, secret=deps.extras["secret_key"], quiet=quiet_hours(config),
            link=citizen_link(str(config.get("sms.public_url") or "http://127.0.0.1:8080")),
            sign=(str(config.get("sms.sign", "12345热线")), str(config.get("sms.sign_en", "12345 Hotline"))),
            restrictions=RestrictionList(deps.engine), recorder=recorder,
            callback_policy=CallbackPolicy.from_config(config.section("callbacks")))
        deps.extras["citizen_portal"] = portal
    return portal


#: bad input the handler did not expect (a form field that is not UTF-8 …) becomes the error page
#: with its 4xx and error id, never a 500
_guarded = refusals_as_pages("/", message_key="cz.error", detail="error_id")


def _refusal(exc: BaseException) -> dict:
    status, body = error_payload(exc)
    return dict(body, status=status)


def routes(app) -> None:
    deps = app.deps
    templates = deps.templates
    templates.add_directory(Path(__file__).parent / "templates")
    deps.extras.setdefault("upload_paths", []).append(UPLOAD_PATH)

    def places():
        tax = deps.workorders.taxonomy
        return [(d, sorted(d.subdistricts.values(), key=lambda s: s.code)) for d in tax.districts.values()]

    def render(request, name, status=200, **ctx):
        return templates.render(request, name, status=status, **ctx)

    def refuse_cross_site(request):
        if not same_origin(request):
            raise PortalError("citizen.cross_origin", "请从本站页面提交 / please use this site's own form",
                              http_status=403)

    def track_cookie(request, number: str, phone: str) -> None:
        expires = int(time.time()) + TRACK_MINUTES * 60
        value = sign(deps.extras["secret_key"], f"{number}-{phone}-{expires}")
        request.addCookie(TRACK_COOKIE, value.encode("ascii"), path=b"/track", httpOnly=True,
                          secure=request.isSecure(), sameSite="strict", max_age=str(TRACK_MINUTES * 60))

    def proven(request, number: str) -> str | None:
        """The phone the cookie proved for ``number``, if any (and not expired)."""
        raw = request.getCookie(TRACK_COOKIE)
        value = unsign(deps.extras["secret_key"], raw.decode("ascii", "replace")) if raw else None
        if not value:
            return None
        parts = value.split("-")
        if len(parts) != 3 or parts[0] != number or not parts[2].isdigit() or int(parts[2]) < time.time():
            return None
        return parts[1]

    async def home_page(request):
        return render(request, "citizen_home.html")

    deps.extras["citizen_home"] = home_page  # the site root hands anonymous visitors here

    # -- report ----------------------------------------------------------------------------
    def report_form(request, *, error=None, values=None, status=200):
        bad = ((error or {}).get("details") or {}).get("fields") or {}
        return render(request, "citizen_report.html", status=status, places=places(), error=error,
                      values=values or {}, bad=bad)

    @app.route("/report", methods=["GET"])
    @_guarded
    def report_page(request):
        return report_form(request)

    @app.route("/report", methods=["POST"])
    @_guarded
    async def report_submit(request):
        portal = portal_of(deps)
        values = {k: form_arg(request, k) for k in ("text", "place", "address", "phone")}
        try:
            refuse_cross_site(request)
            draft = portal.check_report(dict(values, lang=language(request)))
            proposal = await deps.db(_propose, draft["text"], draft["lang"], deps.workorders.taxonomy)
            ticket = await deps.db(portal.start_report, draft, proposal, client_address(request), deps.now())
        except PortalError as exc:
            return report_form(request, error=_refusal(exc), values=values, status=exc.http_status)
        return confirm_form(request, ticket, draft, proposal)

    def confirm_form(request, ticket, draft, proposal, *, error=None, status=200):
        tax = deps.workorders.taxonomy
        suggested = [c for c in [proposal.get("category")] + list(proposal.get("alternatives") or [])
                     if c in tax.categories]
        suggested = list(dict.fromkeys(suggested))[:4]
        groups: dict[str, list] = {}
        for cat in tax.categories.values():
            if cat.code not in suggested:
                groups.setdefault((cat.group_zh, cat.group_en), []).append(cat)
        return render(request, "citizen_confirm.html", status=status, ticket=ticket, draft=draft,
                      suggested=[tax.categories[c] for c in suggested], groups=groups, error=error,
                      masked=mask_phone(draft["phone"]), max_photos=MAX_PHOTOS)

    @app.route("/report/confirm", methods=["POST"])
    @_guarded
    async def report_confirm(request):
        portal = portal_of(deps)
        ticket = form_arg(request, "ticket")
        try:
            row = await deps.db(portal.draft, ticket, deps.now())
        except PortalError as exc:
            return report_form(request, error=_refusal(exc), status=exc.http_status)
        draft = row["draft"]
        try:
            refuse_cross_site(request)
            photos = [p for p in request.args.get(b"photo", []) if p][:MAX_PHOTOS + 1]
            if len(photos) > MAX_PHOTOS:
                raise PortalError("citizen.too_many_photos", f"最多 {MAX_PHOTOS} 张照片 / at most {MAX_PHOTOS} photos",
                                  http_status=400)
            from callcenter.attachments.web import store_of

            store = store_of(deps)
            for data in photos:
                store.check(data)  # refused before anything is filed
            done = await deps.db(portal.finish_report, ticket, form_arg(request, "code").strip(),
                                 form_arg(request, "category"), client_address(request), deps.now())
            if done["new"]:
                for i, data in enumerate(photos, 1):
                    await deps.db(store.add, done["number"], data, f"photo-{i}", by="citizen:web", role="citizen",
                                  now=deps.now(), source="citizen")
        except Exception as exc:  # noqa: BLE001 - refusals (portal, attachments) are shown on the page
            if not hasattr(exc, "error_id"):
                raise
            return confirm_form(request, ticket, draft, draft.get("proposal") or {}, error=_refusal(exc),
                                status=error_payload(exc)[0])
        track_cookie(request, done["number"], done["phone"])
        request.redirect(f"/track/{done['number']}?new=1".encode("ascii"))
        request.setResponseCode(303)
        return b""

    # -- track -------------------------------------------------------------------------------
    def track_form(request, *, number="", error=None, status=200, ticket=None, notice=None):
        return render(request, "citizen_track.html", status=status, number=number, error=error, ticket=ticket,
                      notice=notice)

    @app.route("/track", methods=["GET"])
    @_guarded
    def track_page(request):
        number = query_arg(request, "number") or ""
        return track_form(request, number=number if number.isdigit() and len(number) <= 20 else "")

    @app.route("/track", methods=["POST"])
    @_guarded
    async def track_submit(request):
        portal = portal_of(deps)
        number = form_arg(request, "number").strip()
        try:
            refuse_cross_site(request)
            ticket = await deps.db(portal.start_track, number, form_arg(request, "phone"), client_address(request),
                                   language(request), deps.now())
        except PortalError as exc:
            return track_form(request, number=number if number.isdigit() else "", error=_refusal(exc),
                              status=exc.http_status)
        return track_form(request, number=number, ticket=ticket, notice="cz.track_sent")

    @app.route("/track/verify", methods=["POST"])
    @_guarded
    async def track_verify(request):
        portal = portal_of(deps)
        ticket = form_arg(request, "ticket")
        number = form_arg(request, "number").strip()
        try:
            refuse_cross_site(request)
            number, phone = await deps.db(portal.verify_track, ticket, form_arg(request, "code").strip(), deps.now())
        except PortalError as exc:
            keep = ticket if exc.error_id == "citizen.wrong_code" else None
            return track_form(request, number=number if number.isdigit() else "", error=_refusal(exc),
                              status=exc.http_status, ticket=keep)
        track_cookie(request, number, phone)
        request.redirect(f"/track/{number}".encode("ascii"))
        request.setResponseCode(303)
        return b""

    async def order_page(request, number, *, error=None, status=200):
        phone = proven(request, number)
        if phone is None:
            return track_form(request, number=number, notice="cz.verify_again")
        try:
            order = await deps.db(portal_of(deps).order_for, number, phone, deps.now())
        except PortalError as exc:
            return track_form(request, number="", error=_refusal(exc), status=exc.http_status)
        return render(request, "citizen_order.html", status=status, order=order, error=error, answers=ANSWERS,
                      new=bool(query_arg(request, "new")), rated=query_arg(request, "rated") or "")

    @app.route("/track/<number>", methods=["GET"])
    @_guarded
    async def track_order(request, number):
        if not number.isdigit() or len(number) > 20:
            return track_form(request, status=404)
        return await order_page(request, number)

    @app.route("/track/<number>/rate", methods=["POST"])
    @_guarded
    async def track_rate(request, number):
        phone = proven(request, number) if number.isdigit() and len(number) <= 20 else None
        if phone is None:
            return track_form(request, number=number if number.isdigit() else "", notice="cz.verify_again",
                              status=403)
        answer = form_arg(request, "answer")
        try:
            refuse_cross_site(request)
            await deps.db(portal_of(deps).rate, number, phone, answer, form_arg(request, "comment"), deps.now())
        except PortalError as exc:
            return await order_page(request, number, error=_refusal(exc), status=exc.http_status)
        request.redirect(f"/track/{number}?rated={answer}".encode("ascii"))
        request.setResponseCode(303)
        return b""


def _propose(text: str, lang: str, taxonomy) -> dict:
    """The intake's proposal for the citizen to confirm: category (with alternatives), type,
    urgency and a summary; empty when intake cannot say."""
    try:
        from ticketing.intake import propose

        proposal = propose(text, lang)
    except Exception:  # noqa: BLE001 - intake down: the citizen picks the category
        log.exception("intake failed on a portal report")
        return {}
    alternatives = [label for label, _ in (proposal.alternatives.get("category") or [])
                    if label in taxonomy.categories]
    return {"category": proposal.category if proposal.category in taxonomy.categories else None,
            "alternatives": alternatives[:3], "type": proposal.type, "urgency": proposal.urgency,
            "summary": proposal.summary[:200]}
