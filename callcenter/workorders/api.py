"""``/api/v1/workorders``: list, create (idempotent), read, act, history.

Thin on purpose: parse and type-check the HTTP shape (query integers, the
Idempotency-Key header, the JSON object), then hand everything to the
synchronous ``WorkOrderService`` in the thread pool; its domain errors come
back as the standard JSON error with their own status.
"""
from __future__ import annotations

from callcenter.audit.service import record_access, record_order_view
from callcenter.auth.web import require_role
from callcenter.personal_data import API, PHONE, sees_whole
from callcenter.web.app import ascii_int, json_api, query_arg, read_json
from callcenter.web.errors import ApiError
from callcenter.workorders.engine import actor_for, unavailable

PREFIX = "/api/v1/workorders"
MAX_KEY = 128


def int_arg(request, name: str, default: int, *, low: int, high: int) -> int:
    raw = query_arg(request, name)
    if raw is None or raw == "":
        return default
    value = ascii_int(raw.removeprefix("-"), max_digits=18)
    if value is not None and raw.startswith("-"):
        value = -value
    if value is None or not low <= value <= high:
        raise ApiError(400, "request.invalid_query", f"{name} must be an integer {low}..{high} / 查询参数无效",
                       {"param": name, "min": low, "max": high})
    return value


def idempotency_key(request) -> str | None:
    raw = request.getHeader(b"idempotency-key")
    if raw is None:
        return None
    if not 0 < len(raw) <= MAX_KEY or not all(0x21 <= b <= 0x7E for b in raw):
        raise ApiError(400, "request.bad_idempotency_key",
                       f"Idempotency-Key must be 1-{MAX_KEY} visible ASCII characters / 幂等键格式错误",
                       {"max_length": MAX_KEY})
    return raw.decode("ascii")


def optional_body(request) -> dict:
    """Action parameters: an absent body means no parameters."""
    request.content.seek(0)
    if not request.content.read(1):
        return {}
    return read_json(request)


def routes(app) -> None:
    deps = app.deps

    def service():
        if deps.workorders is None:
            raise unavailable()
        return deps.workorders

    @app.route(PREFIX, methods=["GET"])
    @json_api
    @require_role()
    async def list_orders(request, principal):
        svc = service()
        limit = int_arg(request, "limit", 50, low=1, high=200)
        offset = int_arg(request, "offset", 0, low=0, high=10_000_000)
        found = await deps.db(svc.list, actor_for(principal.user), status=query_arg(request, "status") or None,
                              department=query_arg(request, "department") or None, limit=limit, offset=offset,
                              q=query_arg(request, "q") or None, now=deps.now())
        shown = [o["number"] for o in found["items"] if o.get("caller_phone")]
        if shown and sees_whole(PHONE, principal.user.role, API):
            # a list of citizens' numbers: which orders, so a later question "who saw this number" finds it
            await record_access(deps, request, principal, "orders.list", None, ",".join(shown)[:200])
        return found

    @app.route(PREFIX, methods=["POST"])
    @json_api
    @require_role()
    async def create_order(request, principal):
        svc = service()
        key = idempotency_key(request)
        fields = read_json(request)
        order = await deps.db(svc.create, fields, actor_for(principal.user), deps.now(), idempotency_key=key)
        replayed = order.pop("replayed", False)
        request.setHeader(b"Location", f"{PREFIX}/{order['number']}".encode())
        if replayed:
            request.setHeader(b"Idempotent-Replayed", b"true")
            return 200, order
        return 201, order

    @app.route(PREFIX + "/<number>", methods=["GET"])
    @json_api
    @require_role()
    async def get_order(request, principal, number):
        order = await deps.db(service().get, number, actor_for(principal.user), now=deps.now())
        await record_order_view(deps, request, principal, order, API)
        return order

    @app.route(PREFIX + "/<number>/history", methods=["GET"])
    @json_api
    @require_role()
    async def order_history(request, principal, number):
        entries = await deps.db(service().history, number, actor_for(principal.user))
        return {"number": number, "items": entries}

    @app.route(PREFIX + "/<number>/<action>", methods=["POST"])
    @json_api
    @require_role()
    async def act(request, principal, number, action):
        params = optional_body(request)
        return await deps.db(service().perform, number, action, params, actor_for(principal.user), deps.now())
