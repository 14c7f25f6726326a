"""``/supervisor/restricted``: supervisors restrict a nuisance caller's number for 1-90 days, with a
reason, and lift it early; the list shows who did what.  Forms are CSRF-protected
(post/redirect/get).  Mount by listing ``callcenter.screening.web`` in ``FEATURES`` (it is)."""
from __future__ import annotations

from pathlib import Path

from callcenter.auth.web import require_role
from callcenter.screening.service import RestrictionList, ScreeningError
from callcenter.web.app import ascii_int, form_arg, row_id, query_arg
from callcenter.web.forms import page_forms

SUPERVISORS = ("supervisor", "admin")
PAGE = "/supervisor/restricted"
DONE = ("added", "lifted")


def restrictions_for(deps) -> RestrictionList:
    found = deps.extras.get("restrictions")
    if found is None:
        found = deps.extras["restrictions"] = RestrictionList(deps.engine)
    return found


def _days(raw: str) -> int:
    if ascii_int(raw.strip(), max_digits=3) is None:
        raise ScreeningError("screening.bad_days", "期限须为 1-90 天 / the restriction lasts 1-90 days", field="days")
    return int(raw.strip())


def _id(raw: str) -> int:
    if row_id(raw) is None:
        raise ScreeningError("screening.not_found", "没有这条有效的限制 / no such restriction in force",
                             http_status=404, id=raw[:16])
    return int(raw)


def routes(app) -> None:
    deps = app.deps
    deps.templates.add_directory(Path(__file__).parent / "templates")

    async def page(request, principal, *, error=None, status=200):
        now = deps.now()
        rows = await deps.db(restrictions_for(deps).listing, now)
        done = query_arg(request, "done")
        return deps.templates.render(request, "restricted.html", status=status, session=principal.session,
                                     rows=rows, now=now, error=error, done=done if done in DONE else None,
                                     max_days=RestrictionList.max_days,
                                     typed={k: form_arg(request, k) for k in ("number", "reason", "days")})

    async def changed():
        """This process's IVR follows at once; other processes within their refresh interval."""
        screen = deps.extras.get("caller_screen")
        if screen is not None:
            await screen.refresh()

    page_form = page_forms(PAGE, page)

    def form(request, principal, action, done: str):
        async def run():
            await action()
            await changed()

        return page_form(request, principal, run, done)

    @app.route(PAGE, methods=["GET"])
    @require_role(*SUPERVISORS, page=True)
    async def restricted_page(request, principal):
        return await page(request, principal)

    @app.route(PAGE, methods=["POST"])
    @require_role(*SUPERVISORS, page=True)
    async def add(request, principal):
        async def action():
            days = _days(form_arg(request, "days"))
            await deps.db(restrictions_for(deps).add, form_arg(request, "number"), form_arg(request, "reason"), days,
                          principal.user.username, deps.now())

        return await form(request, principal, action, "added")

    @app.route(PAGE + "/<restriction_id>/lift", methods=["POST"])
    @require_role(*SUPERVISORS, page=True)
    async def lift(request, principal, restriction_id):
        async def action():
            await deps.db(restrictions_for(deps).lift, _id(restriction_id), principal.user.username, deps.now())

        return await form(request, principal, action, "lifted")
