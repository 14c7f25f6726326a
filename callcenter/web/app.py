"""The web application every feature mounts into.

One :class:`WebApp` per process holds the Klein router and the shared
dependencies (:class:`WebDeps`: reactor, config, database pool, auth, the
work-order service, templates).  Features add routes either by mounting a
whole resource under a first path segment (``app.mount("wallboard", res)``)
or by registering Klein routes through ``routes(app)`` functions, using the
:func:`json_api` and :func:`page` decorators so errors, JSON, CSRF and roles
are handled the same way everywhere.
"""
from __future__ import annotations

import functools
import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from klein import Klein
from twisted.internet.threads import deferToThreadPool
from twisted.web.resource import IResource, Resource
from werkzeug.exceptions import MethodNotAllowed, NotFound

from callcenter.clock import now_from
from callcenter.web.errors import ApiError, error_payload
from callcenter.web.http import UNMATCHED_ROUTE, accept_relayed, apply_forwarding, parse_networks

log = logging.getLogger(__name__)

JSON_TYPE = b"application/json; charset=utf-8"


@dataclass
class WebDeps:
    """What handlers need; built once in :func:`callcenter.bootstrap.build_web`."""

    reactor: Any
    config: Any
    engine: Any
    pool: Any
    auth: Any
    templates: Any
    workorders: Any = None
    extras: dict[str, Any] = field(default_factory=dict)
    #: the process's clock for everything people see (SLA colours, waits, report dates): the demo's
    #: ScaledClock there, else the reactor; sockets and threads stay on ``reactor``
    clock: Any = None

    def __post_init__(self):
        if self.clock is None:
            self.clock = self.reactor

    def db(self, fn: Callable, *args, **kwargs):
        """Run blocking database work in the pool; a Deferred of its result."""
        return deferToThreadPool(self.reactor, self.pool, fn, *args, **kwargs)

    def now(self):
        """The process's current instant (aware UTC) on :attr:`clock`."""
        return now_from(self.clock)

    def wall_now(self):
        """Real time, whatever :attr:`clock` says: sessions, tokens and log-in locks are about real people
        (a demo at 60× must not end a session after 30 real seconds)."""
        return now_from(self.reactor)


def deps_of(request) -> WebDeps:
    """The dependencies of the app serving ``request`` (set by :class:`HotlineRoot`)."""
    return request.hotline_deps


class WebApp:
    """The Klein router plus the mount table."""

    def __init__(self, deps: WebDeps):
        self.deps = deps
        self.klein = Klein()
        self.mounts: dict[str, IResource] = {}

        @self.klein.handle_errors(NotFound)
        def _not_found(request, failure):
            return _error_response(request, ApiError(404, "http.not_found", "no such resource / 资源不存在",
                                                     {"path": request.path.decode("utf-8", "replace")[:200]}))

        @self.klein.handle_errors(MethodNotAllowed)
        def _not_allowed(request, failure):
            return _error_response(request, ApiError(405, "http.method_not_allowed",
                                                     "method not allowed / 不支持该请求方法",
                                                     {"method": request.method.decode("ascii", "replace")}))

    def route(self, url: str, *args, **kwargs):
        """Klein's ``route`` with an endpoint name unique to module, function, URL and methods.

        Klein names endpoints after the function; two features each defining
        ``order_action`` would silently replace one another's handler.
        """
        def decorate(handler):
            methods = ",".join(sorted(kwargs.get("methods") or ()))
            kwargs.setdefault("endpoint", f"{handler.__module__}.{handler.__qualname__} {methods} {url}")
            return self.klein.route(url, *args, **kwargs)(handler)

        return decorate

    def mount(self, prefix: str, resource: IResource) -> None:
        """Serve ``resource`` for every path under ``/prefix/``."""
        prefix = "/" + prefix.strip("/")
        if prefix in self.mounts:
            raise ValueError(f"{prefix} is already mounted")
        self.mounts[prefix] = resource

        @self.route(prefix, branch=True, strict_slashes=False)
        def _mounted(request):
            return resource

    def resource(self) -> "HotlineRoot":
        return HotlineRoot(self)


class HotlineRoot(Resource):
    """The site root: hands each request its app's dependencies, then routes it.

    It is also the one place where proxy headers are weighed (against
    ``web.trusted_proxies``, parsed once here so a bad entry stops start-up),
    before any handler reads the client address or asks whether it is secure.
    """

    isLeaf = True

    def __init__(self, app: WebApp):
        super().__init__()
        self.app = app
        self.deps = app.deps
        self.trusted_proxies = parse_networks(app.deps.config.get("web.trusted_proxies"))
        self._klein = app.klein.resource()

    def render(self, request):
        request.hotline_deps = self.deps
        apply_forwarding(request, self.trusted_proxies)
        if request.requestHeaders.hasHeader(b"x-hotline-relay"):  # relayed by another web process of ours
            accept_relayed(request, self.deps.extras.get("secret_key"))
        request.hotline_route = self.route_template(request)
        try:
            check_request_text(request)
        except ApiError as exc:
            return _error_response(request, exc)
        relay = self.deps.extras.get("calls_relay")  # this process does not drive calls: the leader serves these
        if relay is not None and relay.wants(request):
            return relay.render(request)
        return self._klein.render(request)

    def route_template(self, request) -> str:
        """The template of the route that serves ``request`` (``/api/v1/workorders/<order_id>``), or
        ``unmatched``: the metrics label, so its values are bounded by the routes, never by what clients send."""
        try:
            path = request.path.decode("utf-8")
            rule, _ = self.app.klein.url_map.bind("hotline", path_info=path).match(
                method=request.method.decode("ascii"), return_rule=True)
        except Exception:  # noqa: BLE001 - not found, wrong method, redirect or undecodable: one label
            return UNMATCHED_ROUTE
        return rule.rule


def _error_response(request, exc: BaseException) -> bytes:
    status, body = error_payload(exc)
    if status >= 500:
        log.error("unhandled error in %s", request.path, exc_info=exc)
    request.setResponseCode(status)
    request.setHeader(b"Content-Type", JSON_TYPE)
    request.setHeader(b"Cache-Control", b"no-store")
    for name, value in (exc.headers if isinstance(exc, ApiError) else {}).items():
        request.setHeader(name.encode("ascii"), value.encode("ascii"))
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def json_response(request, body: Any, status: int = 200) -> bytes:
    request.setResponseCode(status)
    request.setHeader(b"Content-Type", JSON_TYPE)
    request.setHeader(b"Cache-Control", b"no-store")
    return json.dumps(body, ensure_ascii=False, default=str).encode("utf-8")


def json_api(handler: Callable) -> Callable:
    """Wrap an async handler returning a JSON-able value or ``(status, value)``.

    Any :class:`ApiError` or domain error becomes the standard JSON error
    body; anything else is logged and reported as a 500 without details.
    """

    @functools.wraps(handler)
    async def wrapper(request, *args, **kwargs):
        try:
            result = await handler(request, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - every error becomes a response
            return _error_response(request, exc)
        if isinstance(result, bytes):
            return result
        status = 200
        if isinstance(result, tuple):
            status, result = result
        return json_response(request, result, status)

    return wrapper


def read_json(request, *, max_depth: int = 8) -> dict:
    """The request body as a JSON object, or a 400 saying exactly what is wrong."""
    ctype = (request.getHeader(b"content-type") or b"").split(b";")[0].strip().lower()
    if ctype and ctype != b"application/json":
        raise ApiError(415, "http.unsupported_media_type", "body must be application/json / 请求体须为 JSON",
                       {"content_type": ctype.decode("ascii", "replace")})
    request.content.seek(0)
    raw = request.content.read()
    if not raw.strip():
        raise ApiError(400, "http.malformed_json", "request body is empty / 请求体为空", {})
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "http.malformed_json", "body is not UTF-8 / 请求体不是 UTF-8 编码", {}) from None
    if _nesting(text) > max_depth:  # measured on the text: a deep enough document would exhaust the parser
        raise ApiError(400, "http.json_too_deep", "JSON nested too deeply / JSON 嵌套过深", {"max_depth": max_depth})
    try:
        value = json.loads(text, parse_int=_json_int, parse_float=_json_float, parse_constant=_json_constant)
    except json.JSONDecodeError as exc:
        raise ApiError(400, "http.malformed_json", "malformed JSON / JSON 格式错误",
                       {"line": exc.lineno, "column": exc.colno, "reason": exc.msg}) from None
    if not isinstance(value, dict):
        raise ApiError(400, "http.json_not_object", "body must be a JSON object / 请求体须为 JSON 对象",
                       {"got": type(value).__name__})
    _check_json_text(value)
    return value


# -- one place for text that no handler should ever see ----------------------------------------------
# NUL (PostgreSQL cannot store it), other control characters, lone surrogates (not encodable), text
# that is not UTF-8, integers beyond 64 bits and JSON nested beyond reason all get a 400 here, before
# any handler or database sees them: the path and query string of every request (HotlineRoot), urlencoded
# form bodies, and JSON bodies (read_json).

MAX_JSON_INT = 2 ** 63 - 1
_BAD_CHARS = frozenset(chr(c) for c in range(32) if chr(c) not in "\t\n\r") | {"\x7f"}


def text_problem(value: str) -> str | None:
    """Why ``value`` is not acceptable text ('control character', 'lone surrogate'), or None."""
    if not value.isprintable():  # fast path: most text is printable
        if any(ch in _BAD_CHARS for ch in value):
            return "control character"
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        return "lone surrogate"
    return None


def _invalid_text(where: str, reason: str) -> ApiError:
    return ApiError(400, "http.invalid_text", "text contains characters that are not allowed / 内容含有非法字符",
                    {"where": where[:80], "reason": reason})


def _json_int(text: str) -> int:
    if len(text.lstrip("-")) > 19 or abs(int(text)) > MAX_JSON_INT:
        raise ApiError(400, "http.number_too_large", "number too large / 数值过大", {"max": MAX_JSON_INT})
    return int(text)


def _json_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ApiError(400, "http.number_too_large", "number too large / 数值过大", {"max": MAX_JSON_INT})
    return value


def _json_constant(name: str):
    raise ApiError(400, "http.malformed_json", "malformed JSON / JSON 格式错误", {"reason": f"{name} is not JSON"})


def _nesting(text: str) -> int:
    """The deepest nesting of brackets outside strings (a cheap pre-check before parsing)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _check_json_text(value: Any, where: str = "body") -> None:
    if isinstance(value, str):
        problem = text_problem(value)
        if problem:
            raise _invalid_text(where, problem)
    elif isinstance(value, dict):
        for key, item in value.items():
            problem = text_problem(key)
            if problem:
                raise _invalid_text(where, problem)
            _check_json_text(item, f"{where}.{key[:30]}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_json_text(item, f"{where}[{i}]")


def check_request_text(request) -> None:
    """Refuse (400) a request whose path, query string or urlencoded form is not clean UTF-8 text.

    Multipart bodies (uploads) carry binary files: only their query string is checked here; their text
    fields go through :func:`query_arg` like every other parameter.
    """
    from urllib.parse import unquote_to_bytes

    path = unquote_to_bytes(request.path or b"")
    try:
        decoded = path.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "http.bad_encoding", "the address is not UTF-8 / 地址编码错误", {"where": "path"}) from None
    problem = text_problem(decoded)
    if problem:
        raise _invalid_text("path", problem)
    ctype = (request.getHeader(b"content-type") or b"").split(b";")[0].strip().lower()
    if ctype == b"multipart/form-data":
        args = {}
        query = (request.uri or b"").partition(b"?")[2]
        if query:
            from urllib.parse import parse_qs

            args = parse_qs(query, keep_blank_values=True)
    else:
        args = request.args or {}
    for key, values in args.items():
        for raw in (key, *values):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise ApiError(400, "http.bad_encoding", "a parameter is not UTF-8 / 参数编码错误",
                               {"where": key.decode("utf-8", "replace")[:40]}) from None
            problem = text_problem(text)
            if problem:
                raise _invalid_text(key.decode("utf-8", "replace")[:40], problem)


# What check_request_text and read_json enforce, as the OpenAPI document states it (so clients and fuzzers
# generate only what is accepted): every free-text string excludes control characters and lone surrogates,
# every integer fits 64 bits, and every operation may answer 400 with the standard error body.
TEXT_PATTERN = "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]*$"  # and text is Unicode scalar values (UTF-8)


def declare_input_rules(document: dict) -> dict:
    """Add the site-wide input rules to an OpenAPI document (in place; returns it)."""

    def walk(node):
        if isinstance(node, dict):
            kind = node.get("type")
            kinds = kind if isinstance(kind, list) else [kind]
            if "string" in kinds and not any(k in node for k in ("enum", "const", "pattern", "format")):
                node["pattern"] = TEXT_PATTERN
            if "integer" in kinds:
                node.setdefault("maximum", MAX_JSON_INT)
                node.setdefault("minimum", -MAX_JSON_INT)
            if "object" in kinds and node.get("additionalProperties", True) is not False:
                node.setdefault("propertyNames", {"pattern": TEXT_PATTERN})
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document.get("paths", {}))
    walk(document.get("components", {}).get("schemas", {}))
    for path, item in document.get("paths", {}).items():
        names = re.findall(r"{([^}]+)}", path)
        for method, operation in item.items():
            if names and isinstance(operation, dict):
                declared = {p.get("name") for p in operation.get("parameters", []) if p.get("in") == "path"}
                operation.setdefault("parameters", []).extend(
                    {"name": name, "in": "path", "required": True,
                     "schema": {"type": "string", "minLength": 1, "pattern": TEXT_PATTERN}}
                    for name in names if name not in declared)
            body = operation.get("requestBody") if isinstance(operation, dict) else None
            if isinstance(body, dict) and "application/json" in body.get("content", {}):
                body["required"] = True  # read_json refuses an empty body
                _closed_objects(body["content"]["application/json"].get("schema"))
            if isinstance(operation, dict) and "responses" in operation:
                operation["responses"].setdefault("400", {"description": "bad input", "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
    return document


def _closed_objects(schema) -> None:
    """JSON request bodies accept the fields they name and refuse others (``request.unknown_fields``)."""
    if isinstance(schema, dict):
        if schema.get("type") == "object" and "properties" in schema:
            schema.setdefault("additionalProperties", False)
        for value in schema.values():
            _closed_objects(value)
    elif isinstance(schema, list):
        for value in schema:
            _closed_objects(value)


def ascii_int(raw: str | None, *, max_digits: int = 12) -> int | None:
    """``raw`` as a non-negative integer when it is 1..max_digits ASCII digits, else None.

    ``str.isdigit`` is true for "²" and "١٢", which ``int`` then refuses or reads as a number nobody typed:
    every numeric id and count from a request is read through this."""
    if raw is None or not raw.isascii() or not raw.isdigit() or not 0 < len(raw) <= max_digits:
        return None
    return int(raw)


MAX_ROW_ID = 2 ** 31 - 1  # INTEGER primary keys (PostgreSQL int4): a larger id names no row


def row_id(raw: str | None) -> int | None:
    """A database row id from a URL (``/callbacks/<id>``), or None when it cannot name a row — so an
    oversized id is a 404, never a database error."""
    value = ascii_int(raw, max_digits=10)
    return value if value is not None and value <= MAX_ROW_ID else None


def query_arg(request, name: str) -> str | None:
    """One query-string value as text (first occurrence), or None."""
    values = request.args.get(name.encode())
    if not values:
        return None
    try:
        text = values[0].decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "http.bad_query", "query parameter is not UTF-8 / 查询参数编码错误", {"param": name}) from None
    problem = text_problem(text)
    if problem:
        raise _invalid_text(name, problem)
    return text


def form_arg(request, name: str) -> str:
    """A form field as text ('' when absent)."""
    value = query_arg(request, name)
    return value if value is not None else ""
