"""Open311 GeoReport v2 at ``/open311/v2/`` (JSON format), mapped onto the taxonomy.

Services are the taxonomy's leaf categories; a request is a work order with
channel ``open311``.  Filing needs an ``api_key`` (an Open311 key from
``callcenter users token --open311`` or an API bearer token, as the parameter
or an ``Authorization: Bearer`` header); reading is public when
``open311.public_read`` is on, and then shows only public fields — never the
caller's name or phone.  Errors are Open311 error arrays
``[{"code", "description", "error_id"}]`` with the same HTTP status.
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta

from callcenter.auth.web import authenticate
from callcenter.web.app import json_response, query_arg
from callcenter.web.errors import ApiError, error_payload
from callcenter.workorders.api import idempotency_key
from callcenter.workorders.engine import actor_for, unavailable

PREFIX = "/open311/v2"
STANDARD_POST = {"api_key", "jurisdiction_id", "service_code", "lat", "long", "address_string", "address_id",
                 "email", "device_id", "account_id", "first_name", "last_name", "phone", "description",
                 "media_url"}
ATTRIBUTES = ("district", "subdistrict", "type", "urgency")
MAX_IDS = 50
# GeoReport v2 limits for GET requests.json: a date range spans at most 90 days (the
# last 90 days without dates) and an answer holds at most 1000 requests, newest first.
WINDOW = timedelta(days=90)
MAX_RESULTS = 1000


def _error_array(request, exc: BaseException) -> bytes:
    status, body = error_payload(exc)
    return json_response(request, [{"code": status, "description": body["message"], "error_id": body["error_id"],
                                    "details": body["details"]}], status)


def open311(handler):
    async def wrapper(request, *args, **kwargs):
        try:
            deps = request.hotline_deps
            jurisdiction = query_arg(request, "jurisdiction_id")
            expected = deps.config.get("open311.jurisdiction_id", "ningbo.gov.cn")
            if jurisdiction not in (None, "", expected):
                raise ApiError(404, "open311.unknown_jurisdiction", "unknown jurisdiction_id / 未知辖区",
                               {"jurisdiction_id": jurisdiction[:64], "expected": expected})
            result = await handler(request, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - Open311 clients expect an error array
            return _error_array(request, exc)
        status = 200
        if isinstance(result, tuple):
            status, result = result
        return json_response(request, result, status)

    wrapper.__name__ = handler.__name__
    return wrapper


def _lang(request) -> str:
    return "en" if query_arg(request, "lang") == "en" else "zh"


def service_entry(category, lang: str) -> dict:
    return {
        "service_code": category.code,
        "service_name": category.en if lang == "en" else category.zh,
        "description": f"{category.zh} / {category.en}",
        "metadata": True,
        "type": "standard",
        "keywords": category.group,
        "group": category.group_en if lang == "en" else category.group_zh,
    }


def service_definition(taxonomy, category, lang: str) -> dict:
    def name(node):
        return node.en if lang == "en" else node.zh

    from ticketing.domain.workorder import ORDER_TYPES, URGENCIES

    return {"service_code": category.code, "attributes": [
        {"variable": True, "code": "district", "datatype": "singlevaluelist", "required": True, "order": 1,
         "datatype_description": "区县代码 / district code", "description": "区县 / District",
         "values": [{"key": d.code, "name": name(d)} for d in taxonomy.districts.values()]},
        {"variable": True, "code": "subdistrict", "datatype": "string", "required": False, "order": 2,
         "datatype_description": "街道/乡镇代码 / subdistrict or town code", "description": "街道乡镇 / Subdistrict"},
        {"variable": True, "code": "type", "datatype": "singlevaluelist", "required": False, "order": 3,
         "datatype_description": "默认 report / default report", "description": "诉求类型 / Request type",
         "values": [{"key": t, "name": t} for t in ORDER_TYPES]},
        {"variable": True, "code": "urgency", "datatype": "singlevaluelist", "required": False, "order": 4,
         "datatype_description": "默认 normal / default normal", "description": "紧急程度 / Urgency",
         "values": [{"key": u, "name": u} for u in URGENCIES]},
    ]}


def request_view(order: dict, lang: str) -> dict:
    """The public face of a work order: no caller name, no phone."""
    def pick(names):
        return (names or {}).get(lang) if names else None

    resolve = (order.get("deadlines") or {}).get("resolve") or {}
    return {
        "service_request_id": order["number"],
        "status": "open" if order["status_kind"] == "open" else "closed",
        "status_notes": pick(order["status_name"]),
        "service_name": pick(order.get("category_name")),
        "service_code": order["category"],
        "description": order["summary"],
        "agency_responsible": pick(order.get("department_name")),
        "service_notice": order.get("reply") if order["status_kind"] != "open" else None,
        "requested_datetime": order["created_at"],
        "updated_datetime": order.get("updated_at"),
        "expected_datetime": resolve.get("due_at"),
        "address": order.get("address"),
        "address_id": None,
        "zipcode": None,
        "lat": None,
        "long": None,
        "media_url": None,
    }


def _form(request) -> dict[str, str]:
    """The POST parameters (form-encoded, like every GeoReport client sends)."""
    out = {}
    for raw_key, values in request.args.items():
        try:
            key = raw_key.decode("utf-8")
            out[key] = values[0].decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(400, "open311.bad_encoding", "parameters must be UTF-8 / 参数编码错误") from None
        if len(values) > 1:
            raise ApiError(400, "open311.repeated_parameter", "a parameter was given twice / 参数重复",
                           {"parameter": key[:64]})
    return out


def _coordinate(value: str | None, name: str, limit: float) -> float | None:
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or abs(number) > limit:
        raise ApiError(400, "open311.bad_coordinate", f"{name} must be a number within ±{limit} / 坐标无效",
                       {"parameter": name})
    return number


def fields_from_form(form: dict[str, str]) -> dict:
    """Open311 parameters → work-order fields, refusing anything unknown."""
    attributes = {}
    unknown = []
    for key, value in form.items():
        if key.startswith("attribute[") and key.endswith("]"):
            code = key[len("attribute["):-1]
            if code not in ATTRIBUTES:
                unknown.append(key)
            attributes[code] = value
        elif key not in STANDARD_POST:
            unknown.append(key)
    if unknown:
        raise ApiError(400, "open311.unknown_parameter", "unknown parameters / 存在未知参数",
                       {"parameters": sorted(k[:64] for k in unknown)})
    description = (form.get("description") or "").strip()
    if not form.get("service_code"):
        raise ApiError(400, "open311.missing_parameter", "service_code is required / 缺少 service_code",
                       {"parameter": "service_code"})
    if not description:
        raise ApiError(400, "open311.missing_parameter", "description is required / 缺少诉求描述",
                       {"parameter": "description"})
    lat = _coordinate(form.get("lat"), "lat", 90)
    lon = _coordinate(form.get("long"), "long", 180)
    if (lat is None) != (lon is None):
        raise ApiError(400, "open311.bad_coordinate", "lat and long go together / 经纬度须同时提供", {})
    address = (form.get("address_string") or "").strip()
    if lat is not None:
        address = (address + " " if address else "") + f"({lat:.6f}, {lon:.6f})"
    first_line = description.splitlines()[0]
    name = " ".join(p for p in (form.get("first_name", "").strip(), form.get("last_name", "").strip()) if p)
    fields = {
        "type": attributes.get("type") or "report",
        "category": form["service_code"],
        "district": attributes.get("district"),
        "subdistrict": attributes.get("subdistrict") or None,
        "urgency": attributes.get("urgency") or None,
        "channel": "open311",
        "summary": first_line[:200],
        "description": description,
        "address": address or None,
        "caller_name": name or None,
        "caller_phone": (form.get("phone") or "").strip() or None,
    }
    return {k: v for k, v in fields.items() if v is not None}


def _parse_date(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, "open311.bad_date", f"{name} must be ISO 8601 / 日期格式错误", {"parameter": name}) from None
    if parsed.tzinfo is None:
        raise ApiError(400, "open311.bad_date", f"{name} needs a time zone / 日期须带时区", {"parameter": name})
    return parsed


def date_window(start: datetime | None, end: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    """The requested_datetime range to search, as GeoReport v2 defines it: the last
    ``WINDOW`` without dates, ``WINDOW`` from/to the one date given, never longer."""
    if start is None and end is None:
        end = now
    if start is None:
        start = end - WINDOW
    if end is None:
        end = start + WINDOW
    if end < start:
        raise ApiError(400, "open311.bad_date_range", "end_date is before start_date / 结束日期早于开始日期",
                       {"start_date": start.isoformat(), "end_date": end.isoformat()})
    if end - start > WINDOW:
        raise ApiError(400, "open311.date_range_too_long",
                       f"start_date..end_date may span at most {WINDOW.days} days / 查询区间最长 {WINDOW.days} 天",
                       {"max_days": WINDOW.days})
    return start, end


def routes(app) -> None:
    deps = app.deps

    def service():
        if deps.workorders is None:
            raise unavailable()
        return deps.workorders

    async def reader(request):
        """The actor reading: the key's owner, or the public reader when allowed."""
        from ticketing.service import Actor

        principal = await _keyed(request, required=not deps.config.get("open311.public_read", True))
        if principal is not None:
            return actor_for(principal.user)
        return Actor(user_id="open311-public", role="supervisor")

    async def _keyed(request, *, required: bool):
        key = query_arg(request, "api_key")
        if key:
            if request.getHeader(b"authorization"):
                raise ApiError(400, "open311.two_keys", "give api_key or Authorization, not both / 凭据重复")
            request.requestHeaders.setRawHeaders(b"authorization", [b"Bearer " + key.encode("utf-8")])
        principal = await authenticate(request, kinds=("api", "open311"))
        if principal is not None and principal.via == "session":
            principal = None  # Open311 is for machines: cookies do not count
        if principal is None and required:
            raise ApiError(401, "open311.api_key_required", "a valid api_key is required / 需要有效的 api_key")
        return principal

    @app.route(PREFIX + "/services.json", methods=["GET"])
    @open311
    async def services(request):
        lang = _lang(request)
        return [service_entry(c, lang) for c in service().taxonomy.categories.values()]

    @app.route(PREFIX + "/services/<code>.json", methods=["GET"])
    @open311
    async def service_def(request, code):
        taxonomy = service().taxonomy
        category = taxonomy.categories.get(code)
        if category is None:
            raise ApiError(404, "open311.unknown_service", "no such service_code / 服务代码不存在",
                           {"service_code": code[:64]})
        return service_definition(taxonomy, category, _lang(request))

    @app.route(PREFIX + "/requests.json", methods=["POST"])
    @open311
    async def post_request(request):
        svc = service()
        ctype = (request.getHeader(b"content-type") or b"").split(b";")[0].strip().lower()
        if ctype not in (b"application/x-www-form-urlencoded", b"multipart/form-data"):
            raise ApiError(415, "open311.form_required",
                           "send application/x-www-form-urlencoded / 请以表单格式提交", {})
        form = _form(request)
        key = idempotency_key(request)
        principal = await _keyed(request, required=True)
        fields = fields_from_form(form)
        if fields["category"] not in svc.taxonomy.categories:
            raise ApiError(400, "open311.unknown_service", "no such service_code / 服务代码不存在",
                           {"service_code": fields["category"][:64]})
        order = await deps.db(svc.create, fields, actor_for(principal.user), deps.now(), idempotency_key=key)
        return 201, [{"service_request_id": order["number"], "service_notice":
                      "已受理，请记住工单号 / received; keep the request number", "account_id": None}]

    @app.route(PREFIX + "/requests.json", methods=["GET"])
    @open311
    async def get_requests(request):
        svc = service()
        lang = _lang(request)
        actor = await reader(request)
        now = deps.now()
        ids = query_arg(request, "service_request_id")
        if ids:  # GeoReport v2: ids override every other filter
            numbers = list(dict.fromkeys(n.strip() for n in ids.split(",") if n.strip()))
            if len(numbers) > MAX_IDS:
                raise ApiError(400, "open311.too_many_ids", f"at most {MAX_IDS} ids / 一次最多查询 {MAX_IDS} 个",
                               {"max": MAX_IDS})
            found = {o["number"]: o for o in await deps.db(svc.query, actor, numbers=numbers, now=now)}
            return [request_view(found[n], lang) for n in numbers if n in found]  # unknown ids are absent
        code = query_arg(request, "service_code")
        if code and code not in svc.taxonomy.categories:
            raise ApiError(400, "open311.unknown_service", "no such service_code / 服务代码不存在",
                           {"service_code": code[:64]})
        state = query_arg(request, "status")
        if state not in (None, "", "open", "closed"):
            raise ApiError(400, "open311.bad_status", "status is open or closed / 状态须为 open 或 closed",
                           {"status": state[:32]})
        start, end = date_window(_parse_date(query_arg(request, "start_date"), "start_date"),
                                 _parse_date(query_arg(request, "end_date"), "end_date"), now)
        orders = await deps.db(svc.query, actor, category=code or None, status_kind=state or None,
                               created_from=start, created_to=end, limit=MAX_RESULTS, now=now)
        return [request_view(order, lang) for order in orders]

    @app.route(PREFIX + "/requests/<number>.json", methods=["GET"])
    @open311
    async def get_request(request, number):
        actor = await reader(request)
        return [request_view(await deps.db(service().get, number, actor, now=deps.now()), _lang(request))]



