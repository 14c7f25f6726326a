"""``/admin/users``: the administrator's accounts page (CSRF-protected forms, post/redirect/get).

Mount by listing ``callcenter.accounts.web`` in ``FEATURES`` (it is) or ``web.features``.
"""
from __future__ import annotations

from pathlib import Path

from callcenter.accounts.service import AccountAdmin
from callcenter.auth.service import ROLES as ALL_ROLES
from callcenter.auth.web import login_throttle, require_role
from callcenter.web.app import form_arg, query_arg
from callcenter.web.forms import page_forms

ADMINS = ("admin",)
PAGE = "/admin/users"
DONE = ("added", "password", "disabled", "enabled", "unlocked", "profile", "role")

def admin_for(deps) -> AccountAdmin:
    """The app's one :class:`AccountAdmin`, on the app's log-in throttle (so locks shown are the
    ones the log-in page applies)."""
    admin = deps.extras.get("account_admin")
    if admin is None:
        admin = deps.extras["account_admin"] = AccountAdmin(deps.auth, login_throttle(deps))
    return admin


def routes(app) -> None:
    deps = app.deps
    deps.templates.add_directory(Path(__file__).parent / "templates")

    def departments() -> list:
        taxonomy = getattr(deps.workorders, "taxonomy", None)
        return list(taxonomy.departments.values()) if taxonomy is not None else []

    async def page(request, principal, *, error=None, status=200):
        admin = admin_for(deps)
        rows = await deps.db(admin.overview, admin.throttle.now())
        done = query_arg(request, "done")
        return deps.templates.render(request, "accounts.html", status=status, session=principal.session,
                                     rows=rows, roles=ALL_ROLES, departments=departments(), error=error,
                                     done=done if done in DONE else None, me=principal.user.username,
                                     # a refused add keeps what was typed, except the passwords
                                     typed={k: form_arg(request, k) for k in (
                                         "username", "display_name", "role", "department", "agent_id", "device")})

    form = page_forms(PAGE, page)

    @app.route(PAGE, methods=["GET"])
    @require_role(*ADMINS, page=True)
    async def accounts_page(request, principal):
        return await page(request, principal)

    @app.route(PAGE, methods=["POST"])
    @require_role(*ADMINS, page=True)
    async def add(request, principal):
        fields = {k: form_arg(request, k) for k in (
            "username", "password", "confirm", "role", "display_name", "department", "agent_id", "device")}
        return await form(request, principal, lambda: deps.db(
            admin_for(deps).add, principal.user, deps.now(), **fields), "added")

    @app.route(PAGE + "/<username>/password", methods=["POST"])
    @require_role(*ADMINS, page=True)
    async def password(request, principal, username):
        return await form(request, principal, lambda: deps.db(
            admin_for(deps).reset_password, principal.user, username, form_arg(request, "password"),
            form_arg(request, "confirm")), "password")

    @app.route(PAGE + "/<username>/disable", methods=["POST"])
    @require_role(*ADMINS, page=True)
    async def disable(request, principal, username):
        return await form(request, principal, lambda: deps.db(
            admin_for(deps).set_active, principal.user, username, False), "disabled")

    @app.route(PAGE + "/<username>/enable", methods=["POST"])
    @require_role(*ADMINS, page=True)
    async def enable(request, principal, username):
        return await form(request, principal, lambda: deps.db(
            admin_for(deps).set_active, principal.user, username, True), "enabled")

    @app.route(PAGE + "/<username>/unlock", methods=["POST"])
    @require_role(*ADMINS, page=True)
    async def unlock(request, principal, username):
        return await form(request, principal, lambda: deps.db(
            admin_for(deps).unlock, principal.user, username), "unlocked")

    @app.route(PAGE + "/<username>/profile", methods=["POST"])
    @require_role(*ADMINS, page=True)
    async def profile(request, principal, username):
        return await form(request, principal, lambda: deps.db(
            admin_for(deps).set_profile, principal.user, username, agent_id=form_arg(request, "agent_id"),
            device=form_arg(request, "device")), "profile")

    @app.route(PAGE + "/<username>/role", methods=["POST"])
    @require_role(*ADMINS, page=True)
    async def role(request, principal, username):
        return await form(request, principal, lambda: deps.db(
            admin_for(deps).set_role, principal.user, username, form_arg(request, "role"),
            form_arg(request, "department")), "role")
