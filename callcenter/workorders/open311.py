"""Open311 GeoReport v2 at ``/open311/v2/``, mapped onto the taxonomy — XML and JSON.

Every resource answers in the format its extension names (``.xml``, the spec's required
format, or ``.json``): ``discovery``, ``services``, ``services/{code}``, ``requests``
(GET and POST), ``requests/{id}``, ``tokens/{token}``.  Services are the taxonomy's leaf
categories (type ``realtime``: a POST returns the request id at once); a request is a
work order with channel ``open311``, plus what GeoReport carries that an order does not
(``lat``/``long`` as numbers, ``media_url``, ``email``, ``device_id``, ``account_id``:
table ``open311_requests``).  A photo sent as the multipart field ``media`` is kept as an
attachment of the order and served back at its ``media_url``.

Filing needs an ``api_key`` (an Open311 key from ``callcenter users token --open311`` or an
API bearer token, as the parameter or an ``Authorization: Bearer`` header).  Reading is public
when ``open311.public_read`` is on; the public view is redacted by the personal-data policy
(:func:`callcenter.personal_data.redact_public`): the description is the summary with phone
numbers, names and house numbers hidden, the address without door numbers, coordinates
rounded to about 100 m.  A key holder on the staff sees the full description and address.
``status`` and ``service_code`` take comma lists.

Errors, everywhere under ``/open311/v2/`` (unknown paths and methods too), are GeoReport error
arrays in the request's format — ``[{"code", "description", "error_id"}]`` — with the spec's
status codes: 400 for anything wrong with the request, 403 for a missing or invalid key, 404
for an unknown resource.  GET and OPTIONS answer CORS for the origins in
``open311.cors_origins`` (``"*"`` for any), so browser apps can read.
"""
from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta

from twisted.internet import defer

from callcenter import personal_data
from callcenter.auth.web import authenticate
from callcenter.web.app import query_arg
from callcenter.web.errors import ApiError, error_payload
from callcenter.workorders.api import idempotency_key
from callcenter.workorders.engine import actor_for, unavailable
from callcenter.workorders.open311_xml import document

log = logging.getLogger(__name__)
PREFIX = "/open311/v2"
FORMATS = {"json": b"application/json; charset=utf-8", "xml": b"text/xml; charset=utf-8"}
STANDARD_POST = {"api_key", "jurisdiction_id", "service_code", "lat", "long", "address_string", "address_id",
                 "email", "device_id", "account_id", "first_name", "last_name", "phone", "description",
                 "media_url", "media"}
ATTRIBUTES = ("district", "subdistrict", "type", "urgency")
MAX_IDS = 50
# GeoReport v2 limits for GET requests.json: a date range spans at most 90 days (the
# last 90 days without dates) and an answer holds at most 1000 requests, newest first.
WINDOW = timedelta(days=90)
MAX_RESULTS = 1000
# our status → the spec's (400 bad request, 403 key, 404 not found; the rest pass as they are)
SPEC_STATUS = {401: 403, 409: 400, 415: 400, 422: 400}
RESOURCES = ("discovery", "services", "services/", "service/", "requests", "requests/", "tokens/", "media/")
STAFF = personal_data.STAFF


def _format(request) -> str:
    path = request.path.decode("utf-8", "replace").split("?")[0]
    return "xml" if path.endswith(".xml") else "json"


def _respond(request, root: str, body, status: int = 200) -> bytes:
    fmt = _format(request)
    request.setResponseCode(status)
    request.setHeader(b"Content-Type", FORMATS[fmt])
    request.setHeader(b"Cache-Control", b"no-store")
    _cors(request)
    if fmt == "xml":
        return document(root, body)
    import json

    return json.dumps(body, ensure_ascii=False, default=str).encode("utf-8")


def _cors(request) -> None:
    allowed = request.hotline_deps.config.get("open311.cors_origins") or []
    if isinstance(allowed, str):
        allowed = [o.strip() for o in allowed.split(",") if o.strip()]
    origin = (request.getHeader(b"origin") or b"").decode("latin-1")
    if not origin or request.method not in (b"GET", b"HEAD", b"OPTIONS"):
        return
    if "*" in allowed:
        request.setHeader(b"Access-Control-Allow-Origin", b"*")
    elif origin in allowed:
        request.setHeader(b"Access-Control-Allow-Origin", origin.encode("latin-1"))
        request.setHeader(b"Vary", b"Origin")
    else:
        return
    request.setHeader(b"Access-Control-Allow-Methods", b"GET, OPTIONS")
    request.setHeader(b"Access-Control-Max-Age", b"600")


def _error_array(request, exc: BaseException) -> bytes:
    status, body = error_payload(exc)
    status = SPEC_STATUS.get(status, status)
    for name, value in (exc.headers if isinstance(exc, ApiError) else {}).items():
        request.setHeader(name.encode("ascii"), value.encode("ascii"))
    return _respond(request, "errors", [{"code": status, "description": body["message"],
                                         "error_id": body["error_id"], "details": body["details"]}], status)


def open311(root: str):
    """Wrap a handler: jurisdiction check, the answer as document ``root`` in the request's
    format, every error as an Open311 error array."""
    def decorate(handler):
        async def wrapper(request, *args, **kwargs):
            kwargs.pop("fmt", None)
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
            if isinstance(result, bytes):
                return result
            status = 200
            if isinstance(result, tuple):
                status, result = result
            return _respond(request, root, result, status)

        wrapper.__name__ = handler.__name__
        return wrapper
    return decorate


def _lang(request) -> str:
    return "en" if query_arg(request, "lang") == "en" else "zh"


def _list(value: str | None) -> list[str]:
    """A GeoReport comma list (``open,closed``), without blanks or repeats."""
    return list(dict.fromkeys(v.strip() for v in (value or "").split(",") if v.strip()))


def service_entry(category, lang: str) -> dict:
    return {
        "service_code": category.code,
        "service_name": category.en if lang == "en" else category.zh,
        "description": f"{category.zh} / {category.en}",
        "metadata": True,
        "type": "realtime",
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


def request_view(order: dict, lang: str, extra: dict | None = None, *, role: str | None = None) -> dict:
    """A work order as a GeoReport request.  ``role`` is the reader's (None: the public): the
    public gets the redacted summary as description, the address without door numbers and
    coordinates rounded to 3 decimals; staff get the full description and address."""
    def pick(names):
        return (names or {}).get(lang) if names else None

    extra = extra or {}
    staff = role in STAFF
    names = [order.get("caller_name") or ""]
    lat, lon = extra.get("lat"), extra.get("long")
    if not staff and lat is not None:
        lat, lon = round(lat, 3), round(lon, 3)
    resolve = (order.get("deadlines") or {}).get("resolve") or {}
    return {
        "service_request_id": order["number"],
        "status": "open" if order["status_kind"] == "open" else "closed",
        "status_notes": pick(order["status_name"]),
        "service_name": pick(order.get("category_name")),
        "service_code": order["category"],
        "description": (order.get("description") or order["summary"]) if staff
        else personal_data.redact_public(order["summary"], names),
        "agency_responsible": pick(order.get("department_name")),
        "service_notice": (order.get("reply") if staff else personal_data.redact_public(order.get("reply"), names))
        if order["status_kind"] != "open" else None,
        "requested_datetime": order["created_at"],
        "updated_datetime": order.get("updated_at"),
        "expected_datetime": resolve.get("due_at"),
        "address": order.get("address") if staff else personal_data.address_for(order.get("address"), None,
                                                                                   personal_data.PUBLIC),
        "address_id": None,
        "zipcode": None,
        "lat": lat,
        "long": lon,
        "media_url": extra.get("media_url"),
    }


def _form(request) -> tuple[dict[str, str], bytes | None]:
    """The POST parameters (form-encoded or multipart, as GeoReport clients send) and the
    uploaded ``media`` file, if any."""
    out = {}
    media = None
    for raw_key, values in request.args.items():
        if raw_key == b"media":
            if len(values) > 1:
                raise ApiError(400, "open311.repeated_parameter", "a parameter was given twice / 参数重复",
                               {"parameter": "media"})
            media = values[0] or None
            continue
        try:
            key = raw_key.decode("utf-8")
            out[key] = values[0].decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(400, "open311.bad_encoding", "parameters must be UTF-8 / 参数编码错误") from None
        if len(values) > 1:
            raise ApiError(400, "open311.repeated_parameter", "a parameter was given twice / 参数重复",
                           {"parameter": key[:64]})
        if "\0" in out[key]:
            raise ApiError(400, "open311.bad_encoding", "parameters must not contain NUL / 参数含非法字符",
                           {"parameter": key[:64]})
    return out, media


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


def fields_from_form(form: dict[str, str]) -> tuple[dict, dict]:
    """Open311 parameters → (work-order fields, GeoReport extras), refusing anything unknown."""
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
    if lat is None and not address and not form.get("address_id"):
        raise ApiError(400, "open311.missing_parameter", "a location is required: lat/long or address_string / "
                       "须提供位置（经纬度或地址）", {"parameter": "lat"})
    media_url = (form.get("media_url") or "").strip() or None
    if media_url is not None and (len(media_url) > 500 or not media_url.startswith(("http://", "https://"))):
        raise ApiError(400, "open311.bad_media_url", "media_url must be an http(s) URL / 图片地址无效",
                       {"parameter": "media_url"})
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
    extra = {"lat": lat, "long": lon, "media_url": media_url,
             "email": (form.get("email") or "").strip()[:200] or None,
             "device_id": (form.get("device_id") or "").strip()[:100] or None,
             "account_id": (form.get("account_id") or "").strip()[:100] or None}
    return {k: v for k, v in fields.items() if v is not None}, extra


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


def discovery(base: str, config) -> dict:
    return {"changeset": "2026-12-07T00:00:00+08:00",
            "contact": str(config.get("open311.contact") or "12345 市民热线 / citizen hotline, dial 12345"),
            "key_service": "callcenter users token --open311 (ask the hotline's administrator) / 向热线管理员申请",
            "endpoints": [{"specification": "http://wiki.open311.org/GeoReport_v2", "url": base + PREFIX,
                           "changeset": "2026-12-07T00:00:00+08:00", "type": "production",
                           "formats": ["text/xml", "application/json"]}]}


def routes(app) -> None:
    from callcenter.workorders import open311_store

    deps = app.deps
    deps.extras.setdefault("upload_paths", []).append(__import__("re").compile(
        rb"^/open311/v2/requests\.(json|xml)(\?.*)?$"))

    def service():
        if deps.workorders is None:
            raise unavailable()
        return deps.workorders

    async def reader(request):
        """(the actor reading, its role for redaction): the key's owner, or the public reader."""
        from ticketing.service import Actor

        principal = await _keyed(request, required=not deps.config.get("open311.public_read", True))
        if principal is not None:
            return actor_for(principal.user), principal.user.role
        return Actor(user_id="open311-public", role="supervisor"), None

    async def _keyed(request, *, required: bool):
        key = query_arg(request, "api_key")
        if key is None and request.method == b"POST":
            values = request.args.get(b"api_key")
            key = values[0].decode("utf-8", "replace") if values else None
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

    def base_url(request) -> str:
        host = (request.getHeader(b"host") or b"127.0.0.1").decode("latin-1")
        return ("https" if request.isSecure() else "http") + "://" + host

    async def views(orders, lang, role, request):
        extras = await deps.db(open311_store.extras, deps.engine, [o["number"] for o in orders])
        base = base_url(request)
        out = []
        for order in orders:
            extra = dict(extras.get(order["number"]) or {})
            if extra.get("attachment_id") and not extra.get("media_url"):
                extra["media_url"] = f"{base}{PREFIX}/media/{order['number']}/{extra['attachment_id']}"
            out.append(request_view(order, lang, extra, role=role))
        return out

    for prefix in ("/open311", PREFIX):
        @app.route(prefix + "/discovery.<any(json,xml):fmt>", methods=["GET", "HEAD"])
        @open311("discovery")
        async def get_discovery(request):
            return discovery(base_url(request), deps.config)

    @app.route(PREFIX + "/services.<any(json,xml):fmt>", methods=["GET", "HEAD"])
    @open311("services")
    async def services(request):
        lang = _lang(request)
        return [service_entry(c, lang) for c in service().taxonomy.categories.values()]

    # ``service/`` (singular): the open311 client library's spelling of the same resource
    @app.route(PREFIX + "/services/<code>.<any(json,xml):fmt>", methods=["GET", "HEAD"])
    @app.route(PREFIX + "/service/<code>.<any(json,xml):fmt>", methods=["GET", "HEAD"])
    @open311("service_definition")
    async def service_def(request, code):
        taxonomy = service().taxonomy
        category = taxonomy.categories.get(code)
        if category is None:
            raise ApiError(404, "open311.unknown_service", "no such service_code / 服务代码不存在",
                           {"service_code": code[:64]})
        return service_definition(taxonomy, category, _lang(request))

    @app.route(PREFIX + "/requests.<any(json,xml):fmt>", methods=["POST"])
    @open311("service_requests")
    async def post_request(request):
        svc = service()
        ctype = (request.getHeader(b"content-type") or b"").split(b";")[0].strip().lower()
        if ctype not in (b"application/x-www-form-urlencoded", b"multipart/form-data"):
            raise ApiError(415, "open311.form_required",
                           "send application/x-www-form-urlencoded or multipart/form-data / 请以表单格式提交", {})
        form, media = _form(request)
        key = idempotency_key(request)
        principal = await _keyed(request, required=True)
        fields, extra = fields_from_form(form)
        if fields["category"] not in svc.taxonomy.categories:
            raise ApiError(400, "open311.unknown_service", "no such service_code / 服务代码不存在",
                           {"service_code": fields["category"][:64]})
        store = None
        if media is not None:
            from callcenter.attachments.web import store_of

            store = store_of(deps)
            store.check(media)  # refused before anything is filed
        fetcher = target = None
        if store is None and extra.get("media_url") and deps.config.get("open311.media_fetch", True):
            from callcenter.attachments.web import store_of
            from callcenter.workorders.open311_media import MediaFetcher, MediaUnresolved

            fetcher = MediaFetcher.from_config(deps.config, deps.reactor, deps.pool,
                                               max_bytes=store_of(deps).max_bytes)
            try:
                # resolved and judged once, before anything is filed: an internal address is a 400
                target = await deps.db(fetcher.check, extra["media_url"])
            except MediaUnresolved as exc:
                log.info("open311 media_url not fetched: %s", exc.message)   # the request stands
        actor = actor_for(principal.user)
        now = deps.now()
        order = await deps.db(svc.create, fields, actor, now, idempotency_key=key)
        number = order["number"]
        if not order.get("replayed"):
            if store is not None:
                meta = await deps.db(store.add, number, media, "media", by=actor.user_id, role=actor.role, now=now,
                                     source="open311")
                extra["attachment_id"] = meta["id"]
            await deps.db(open311_store.save, deps.engine, number, extra)
            if target is not None:
                from callcenter.workorders.open311_media import keep

                # after the answer, from the checked address: the request stands whether or not the photo comes
                fetching = deps.extras.setdefault("open311_fetches", set())
                d = defer.ensureDeferred(keep(deps, number, target, fetcher, actor))
                fetching.add(d)
                d.addBoth(lambda result, d=d: (fetching.discard(d), result)[1])
        return 201, [{"service_request_id": number, "service_notice":
                      "已受理，请记住工单号 / received; keep the request number", "account_id": extra.get("account_id")}]

    @app.route(PREFIX + "/requests.<any(json,xml):fmt>", methods=["GET", "HEAD"])
    @open311("service_requests")
    async def get_requests(request):
        svc = service()
        lang = _lang(request)
        actor, role = await reader(request)
        now = deps.now()
        ids = query_arg(request, "service_request_id")
        if ids:  # GeoReport v2: ids override every other filter
            numbers = _list(ids)
            if len(numbers) > MAX_IDS:
                raise ApiError(400, "open311.too_many_ids", f"at most {MAX_IDS} ids / 一次最多查询 {MAX_IDS} 个",
                               {"max": MAX_IDS})
            found = {o["number"]: o for o in await deps.db(svc.query, actor, numbers=numbers, now=now)}
            return await views([found[n] for n in numbers if n in found], lang, role, request)
        codes = _list(query_arg(request, "service_code"))
        for code in codes:
            if code not in svc.taxonomy.categories:
                raise ApiError(400, "open311.unknown_service", "no such service_code / 服务代码不存在",
                               {"service_code": code[:64]})
        states = _list(query_arg(request, "status"))
        for state in states:
            if state not in ("open", "closed"):
                raise ApiError(400, "open311.bad_status", "status is open or closed / 状态须为 open 或 closed",
                               {"status": state[:32]})
        kind = states[0] if len(states) == 1 else None
        start, end = date_window(_parse_date(query_arg(request, "start_date"), "start_date"),
                                 _parse_date(query_arg(request, "end_date"), "end_date"), now)
        orders = []
        for code in codes or [None]:
            orders += await deps.db(svc.query, actor, category=code, status_kind=kind, created_from=start,
                                    created_to=end, limit=MAX_RESULTS, now=now)
        orders.sort(key=lambda o: (o["created_at"], o["number"]), reverse=True)
        return await views(orders[:MAX_RESULTS], lang, role, request)

    @app.route(PREFIX + "/requests/<number>.<any(json,xml):fmt>", methods=["GET", "HEAD"])
    @open311("service_requests")
    async def get_request(request, number):
        actor, role = await reader(request)
        order = await deps.db(service().get, number, actor, now=deps.now())
        return await views([order], _lang(request), role, request)

    @app.route(PREFIX + "/tokens/<token>.<any(json,xml):fmt>", methods=["GET", "HEAD"])
    @open311("service_requests")
    async def get_token(request, token):
        # services are realtime: a POST answers with the id itself, so no token is ever issued
        raise ApiError(404, "open311.unknown_token", "no such token: requests get their id at once / 令牌不存在",
                       {"token": token[:64]})

    @app.route(PREFIX + "/media/<number>/<int:attachment_id>", methods=["GET", "HEAD"])
    async def get_media(request, number, attachment_id):
        """A photo filed with an Open311 request (public like the request itself)."""
        from callcenter.attachments.web import store_of
        from callcenter.web.files import send_file

        try:
            actor, _role = await reader(request)
            await deps.db(service().get, number, actor, now=deps.now())
            store = store_of(deps)
            meta = await deps.db(store.get, attachment_id, number)
            if meta.get("source") != "open311":
                raise ApiError(404, "open311.unknown_media", "no such media / 图片不存在", {})
        except Exception as exc:  # noqa: BLE001
            return _error_array(request, exc)
        return await send_file(request, deps, store.path(meta), meta["media_type"])

    @app.route(PREFIX + "/", branch=True, methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
    def anything_else(request):
        rest = request.path.decode("utf-8", "replace").split("?")[0][len(PREFIX) + 1:]
        known = rest.startswith(RESOURCES) and rest.rsplit(".", 1)[-1] in FORMATS
        if request.method == b"OPTIONS":
            request.setResponseCode(204)
            request.setHeader(b"Allow", b"GET, HEAD, POST, OPTIONS")
            _cors(request)
            return b""
        if known:
            return _error_array(request, ApiError(
                405, "open311.method_not_allowed", "method not allowed / 不支持该请求方法",
                {"method": request.method.decode("ascii", "replace")[:10]}, headers={"Allow": "GET, HEAD, POST"}))
        return _error_array(request, ApiError(404, "open311.not_found", "no such Open311 resource / 资源不存在",
                                              {"path": rest[:200]}))
