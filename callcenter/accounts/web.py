"""``/admin/users``, the administrator's accounts page (CSRF-protected forms, post/redirect/get), and
``/api/v1/users``, the same changes as JSON for provisioning from another system (an administrator's
bearer token, or a session with the CSRF header).

Mount by listing ``callcenter.accounts.web`` in ``FEATURES`` (it is) or ``web.features``.
"""
from __future__ import annotations

from pathlib import Path

from callcenter.accounts.service import AccountAdmin
from callcenter.auth.service import ROLES as ALL_ROLES
from callcenter.auth.web import login_throttle, require_role
from callcenter.web.app import form_arg, json_api, query_arg, read_json
from callcenter.web.errors import ApiError, error_responses
from callcenter.web.forms import page_forms

ADMINS = ("admin",)
PAGE = "/admin/users"
API = "/api/v1/users"
#: the body fields of each JSON call; anything else is refused
CREATE_FIELDS = ("username", "password", "role", "display_name", "department", "agent_id", "device")
ACTION_FIELDS = {"disable": (), "enable": (), "unlock": (), "password": ("password",),
                 "role": ("role", "department"), "profile": ("agent_id", "device")}
DONE = ("added", "password", "disabled", "enabled", "unlocked", "profile", "role")


def admin_for(deps) -> AccountAdmin:
    """The app's one :class:`AccountAdmin`, on the app's log-in throttle (so locks shown are the
    ones the log-in page applies)."""
    admin = deps.extras.get("account_admin")
    if admin is None:
        admin = deps.extras["account_admin"] = AccountAdmin(deps.auth, login_throttle(deps))
    return admin


def view(row) -> dict:
    """One account as the API shows it (never a password hash)."""
    u = row.user
    return {"username": u.username, "display_name": u.display_name, "role": u.role, "department": u.department,
            "active": u.active, "agent_id": u.agent_id, "device": u.device,
            "locked_until": row.locked_until.isoformat() if row.locked_until else None}


def body_fields(request, allowed: tuple[str, ...]) -> dict[str, str]:
    """The JSON body's fields that are present, each a string (null: ""); an unknown field or another
    type is a 422 naming it, so a typo never silently changes nothing."""
    body = read_json(request)
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ApiError(422, "request.unknown_fields", "未知字段 / unknown fields", {"fields": unknown,
                                                                                  "allowed": list(allowed)})
    for key, value in body.items():
        if value is not None and not isinstance(value, str):
            raise ApiError(422, "request.invalid_field", f"{key} 须为字符串 / {key} must be a string", {"field": key})
    return {key: value or "" for key, value in body.items()}



ACCOUNT = {"type": "object", "properties": {
    "username": {"type": "string"}, "display_name": {"type": "string"},
    "role": {"type": "string", "enum": list(ALL_ROLES)}, "department": {"type": ["string", "null"]},
    "active": {"type": "boolean"}, "agent_id": {"type": ["string", "null"]}, "device": {"type": ["string", "null"]},
    "locked_until": {"type": ["string", "null"], "format": "date-time",
                     "description": "a log-in lock on the name, from some address or from all"}}}
# What the account service checks (callcenter.auth.service), so generated requests are the ones it accepts.
FIELD_RULES = {"username": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{1,39}$"},
               "password": {"type": "string", "minLength": 8, "maxLength": 200},
               "role": {"type": "string", "enum": list(ALL_ROLES)}}
OPENAPI = {
    API: {
        "get": {"operationId": "listUsers", "summary": "Accounts (administrators) / 账号列表",
                "responses": {"200": {"description": "every account", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"items": {"type": "array", "items": ACCOUNT}}}}}},
                    **error_responses(401, 403)}},
        "post": {"operationId": "createUser", "summary": "Add an account (administrators) / 新增账号",
                 "requestBody": {"required": True, "content": {"application/json": {"schema": {
                     "type": "object", "required": ["username", "password", "role"],
                     "properties": {**{k: {"type": ["string", "null"]} for k in CREATE_FIELDS}, **FIELD_RULES},
                     "additionalProperties": False}}}},
                 "responses": {"201": {"description": "the account", "content": {"application/json": {
                     "schema": ACCOUNT}}}, **error_responses(400, 401, 403, 409, 422)}},
    },
    API + "/{username}/{action}": {"post": {
        "operationId": "changeUser",
        "summary": "disable, enable, unlock, password {password}, role {role, department}, profile {agent_id, "
                   "device} (administrators) / 账号操作",
        "parameters": [{"name": "username", "in": "path", "required": True, "schema": {"type": "string"}},
                       {"name": "action", "in": "path", "required": True,
                        "schema": {"type": "string", "enum": list(ACTION_FIELDS)}}],
        "requestBody": {"required": False, "content": {"application/json": {"schema": {
            "type": "object", "additionalProperties": False, "description": "the fields the action takes",
            "properties": {**{k: {"type": ["string", "null"]} for fields in ACTION_FIELDS.values() for k in fields},
                           **{k: v for k, v in FIELD_RULES.items() if k != "username"}}}}}},
        "responses": {"200": {"description": "the account after the change", "content": {"application/json": {
            "schema": ACCOUNT}}}, **error_responses(400, 401, 403, 404, 422)}}},
}


def routes(app) -> None:
    deps = app.deps
    deps.templates.add_directory(Path(__file__).parent / "templates")
    deps.extras.setdefault("openapi_paths", {}).update(OPENAPI)

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

    # -- JSON ---------------------------------------------------------------------------------

    async def account(username: str) -> dict:
        admin = admin_for(deps)
        rows = await deps.db(admin.overview, admin.throttle.now())
        return view(next(r for r in rows if r.user.username == username))

    @app.route(API, methods=["GET"])
    @json_api
    @require_role(*ADMINS)
    async def list_users(request, principal):
        admin = admin_for(deps)
        return {"items": [view(r) for r in await deps.db(admin.overview, admin.throttle.now())]}

    @app.route(API, methods=["POST"])
    @json_api
    @require_role(*ADMINS)
    async def create_user(request, principal):
        fields = body_fields(request, CREATE_FIELDS)
        for required in ("username", "password", "role"):
            fields.setdefault(required, "")
        user = await deps.db(admin_for(deps).add, principal.user, deps.now(), confirm=fields["password"], **fields)
        return 201, await account(user.username)

    @app.route(API + "/<username>/<action>", methods=["POST"])
    @json_api
    @require_role(*ADMINS)
    async def change_user(request, principal, username, action):
        if action not in ACTION_FIELDS:
            raise ApiError(404, "account.unknown_action", "未知操作 / unknown action",
                           {"action": action[:20], "allowed": list(ACTION_FIELDS)})
        fields = body_fields(request, ACTION_FIELDS[action]) if ACTION_FIELDS[action] else {}
        admin = admin_for(deps)
        changes = {
            "disable": lambda: admin.set_active(principal.user, username, False),
            "enable": lambda: admin.set_active(principal.user, username, True),
            "unlock": lambda: admin.unlock(principal.user, username),
            "password": lambda: admin.reset_password(principal.user, username, fields.get("password", ""),
                                                     fields.get("password", "")),
            "role": lambda: admin.set_role(principal.user, username, fields.get("role", ""),
                                           fields.get("department", "")),
            "profile": lambda: admin.set_profile(principal.user, username, **fields),  # absent: unchanged
        }
        await deps.db(changes[action])
        return await account(username)
