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
from dataclasses import dataclass, field
from typing import Any, Callable

from klein import Klein
from twisted.internet.threads import deferToThreadPool
from twisted.web.resource import IResource, Resource
from werkzeug.exceptions import MethodNotAllowed, NotFound

from callcenter.clock import now_from
from callcenter.web.errors import ApiError, error_payload
from callcenter.web.http import UNMATCHED_ROUTE, apply_forwarding, parse_networks

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
        request.hotline_route = self.route_template(request)
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
        value = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ApiError(400, "http.malformed_json", "body is not UTF-8 / 请求体不是 UTF-8 编码", {}) from None
    except json.JSONDecodeError as exc:
        raise ApiError(400, "http.malformed_json", "malformed JSON / JSON 格式错误",
                       {"line": exc.lineno, "column": exc.colno, "reason": exc.msg}) from None
    if not isinstance(value, dict):
        raise ApiError(400, "http.json_not_object", "body must be a JSON object / 请求体须为 JSON 对象",
                       {"got": type(value).__name__})
    if _depth(value) > max_depth:
        raise ApiError(400, "http.json_too_deep", "JSON nested too deeply / JSON 嵌套过深", {"max_depth": max_depth})
    return value


def _depth(value: Any, level: int = 1) -> int:
    if isinstance(value, dict):
        return max([level] + [_depth(v, level + 1) for v in value.values()])
    if isinstance(value, list):
        return max([level] + [_depth(v, level + 1) for v in value])
    return level


def query_arg(request, name: str) -> str | None:
    """One query-string value as text (first occurrence), or None."""
    values = request.args.get(name.encode())
    if not values:
        return None
    try:
        return values[0].decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "http.bad_query", "query parameter is not UTF-8 / 查询参数编码错误", {"param": name}) from None


def form_arg(request, name: str) -> str:
    """A form field as text ('' when absent)."""
    value = query_arg(request, name)
    return value if value is not None else ""
