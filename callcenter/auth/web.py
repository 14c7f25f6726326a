"""Authentication over HTTP: session cookies for pages, bearer tokens for APIs.

* Pages: ``POST /login`` (double-submit CSRF cookie + same-origin check)
  opens a server-side session; the cookie holds its random id signed with the
  site secret (HttpOnly, SameSite=Lax, Secure over TLS) and it expires after
  ``auth.session_idle_minutes`` without use.  Every state-changing form
  carries the session's CSRF token and must come from our own origin.
* APIs: ``POST /api/v1/tokens`` trades user name + password for a bearer
  token.  A browser page may also call the API with its session cookie, but
  then unsafe methods need the ``X-CSRF-Token`` header and our origin.
* Both log-ins go through the :class:`~callcenter.auth.throttle.LoginThrottle`
  (429 while a user name or client address is locked, password unchecked).

:func:`require_role` wraps a handler and hands it the :class:`Principal`.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from callcenter.auth.service import Session, User
from callcenter.auth.throttle import LoginThrottle, Lockout
from callcenter.metrics import LOGINS
from callcenter.web.app import deps_of, form_arg, json_api, json_response, read_json
from callcenter.web.errors import ApiError, error_payload, forbidden, unauthorized
from callcenter.web.http import client_address
from callcenter.web.i18n import CATALOGUE

log = logging.getLogger(__name__)

SESSION_COOKIE = b"hotline_session"
LOGIN_CSRF_COOKIE = b"hotline_login_csrf"
SAFE_METHODS = (b"GET", b"HEAD", b"OPTIONS")
#: page text of this module, merged into the shared catalogue when the routes are added
AUTH_TEXT = {
    "login.throttled": {"zh": "登录尝试过多，请 {minutes} 分钟后再试",
                        "en": "Too many sign-in attempts; try again in {minutes} minutes"},
}
HOME_BY_ROLE = {"agent": "/agent", "department": "/dept", "dispatcher": "/dispatch", "supervisor": "/supervisor", "admin": "/supervisor"}


@dataclass(frozen=True)
class Principal:
    """Who is calling and how: ``via`` is "session", "token" or "open311"."""

    user: User
    via: str
    csrf_token: str = ""
    session_id: str = ""

    @property
    def session(self) -> Session:
        return Session(self.user, self.csrf_token)


def sign(secret: bytes, value: str) -> str:
    mac = hmac.new(secret, value.encode("ascii"), hashlib.sha256).digest()[:18]
    return value + "." + base64.urlsafe_b64encode(mac).decode("ascii")


def unsign(secret: bytes, signed: str) -> str | None:
    value, _, _mac = signed.rpartition(".")
    if not value:
        return None
    try:
        value.encode("ascii")
    except UnicodeEncodeError:
        return None
    return value if hmac.compare_digest(sign(secret, value), signed) else None


def _secret(request) -> bytes:
    return deps_of(request).extras["secret_key"]


def _idle(request) -> timedelta:
    return timedelta(minutes=float(deps_of(request).config.get("auth.session_idle_minutes", 30)))


def same_origin(request) -> bool:
    """True when Origin (or, failing that, Referer) names this very site.

    The scheme is https when the request is secure, which includes a trusted
    proxy saying so (``web.trusted_proxies``, see :mod:`callcenter.web.http`).
    """
    host = request.getHeader(b"host")
    if not host:
        return False
    scheme = b"https" if request.isSecure() else b"http"
    expected = scheme + b"://" + host
    origin = request.getHeader(b"origin")
    if origin:
        return origin == expected
    referer = request.getHeader(b"referer")
    if referer:
        return referer == expected or referer.startswith(expected + b"/")
    return False


async def authenticate(request, *, kinds=("api",)) -> Principal | None:
    """The caller, from a bearer token or the session cookie (cached per request)."""
    cached = getattr(request, "_hotline_principal", False)
    if cached is not False:
        return cached
    deps = deps_of(request)
    principal = None
    header = request.getHeader(b"authorization")
    if header:
        scheme, _, token = header.partition(b" ")
        if scheme.lower() != b"bearer" or not token.strip():
            raise ApiError(401, "auth.bad_authorization", "Authorization must be 'Bearer <token>' / 认证头格式错误")
        user = await deps.db(deps.auth.user_for_token, token.strip().decode("ascii", "replace"), deps.wall_now(),
                             kinds=kinds)
        if user is None:
            raise ApiError(401, "auth.invalid_token", "invalid, expired or revoked token / 令牌无效或已过期")
        principal = Principal(user, "token")
    else:
        raw = request.getCookie(SESSION_COOKIE)
        sid = unsign(_secret(request), raw.decode("ascii", "replace")) if raw else None
        if sid:
            session = await deps.db(deps.auth.session, sid, deps.wall_now(), _idle(request))
            if session is not None:
                principal = Principal(session.user, "session", session.csrf_token, sid)
    request._hotline_principal = principal
    return principal


def check_csrf(request, principal: Principal, submitted: str | None) -> None:
    """Refuse a cookie-authenticated state change without our token and origin."""
    if principal.via != "session" or request.method in SAFE_METHODS:
        return
    if not same_origin(request):
        raise ApiError(403, "auth.cross_origin", "request must come from this site / 跨站请求被拒绝")
    if not submitted or not hmac.compare_digest(submitted.encode(), principal.csrf_token.encode()):
        raise ApiError(403, "auth.csrf", "missing or wrong CSRF token / 表单已过期，请刷新后重试")


def require_role(*roles: str, page: bool = False, stream: bool = False):
    """Decorate ``handler(request, principal, ...)``: authenticate, authorise, CSRF.

    API handlers (``page=False``) get JSON 401/403; page handlers are sent to
    the log-in page or shown the bilingual error page.  ``stream=True`` is for
    routes answering with a resource (an SSE :class:`EventStream`), which
    cannot sit under ``json_api``: a refusal, or an :class:`ApiError` the
    handler raises before handing over the stream, is written here as the
    API's JSON error.  An empty ``roles`` admits any signed-in user.
    """

    def decorate(handler):
        @functools.wraps(handler)
        async def wrapper(request, *args, **kwargs):
            try:
                principal = await authenticate(request)
                if principal is None:
                    raise unauthorized()
                if roles and principal.user.role not in roles:
                    raise forbidden(required=list(roles), role=principal.user.role)
                submitted = form_arg(request, "csrf_token") if page else \
                    (request.getHeader(b"x-csrf-token") or b"").decode("ascii", "replace")
                check_csrf(request, principal, submitted)
            except ApiError as exc:
                if stream:
                    return _json_refusal(request, exc)
                if not page:
                    raise
                return _page_refusal(request, exc)
            if not stream:
                return await handler(request, principal, *args, **kwargs)
            try:
                return await handler(request, principal, *args, **kwargs)
            except ApiError as exc:
                return _json_refusal(request, exc)

        return wrapper

    return decorate


def _json_refusal(request, exc: ApiError) -> bytes:
    status, body = error_payload(exc)
    for name, value in exc.headers.items():
        request.setHeader(name.encode("ascii"), value.encode("ascii"))
    return json_response(request, body, status)


def _page_refusal(request, exc: ApiError) -> bytes:
    deps = deps_of(request)
    if exc.status == 401 and request.method in SAFE_METHODS:
        request.redirect(b"/login?" + urlencode({"next": request.uri.decode("utf-8", "replace")}).encode())
        request.setResponseCode(303)
        return b""
    key = {"auth.csrf": "error.csrf", "auth.cross_origin": "error.csrf", "auth.required": "error.csrf"}.get(
        exc.error_id, "error.forbidden")
    principal = getattr(request, "_hotline_principal", None)
    return deps.templates.render(request, "error.html", status=exc.status,
                                 session=principal.session if principal else None,
                                 message_key=key, detail=exc.error_id, back="/")


def safe_next(value: str, default: str) -> str:
    """Only local paths: no scheme, no '//' host, no backslashes or control characters."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    if any(ord(c) < 32 for c in value):
        return default
    return value


def set_session_cookie(request, signed: str | None) -> None:
    kwargs = dict(path=b"/", httpOnly=True, secure=request.isSecure(), sameSite="lax")
    if signed is None:
        request.addCookie(SESSION_COOKIE, b"", max_age=b"0", **kwargs)
    else:
        request.addCookie(SESSION_COOKIE, signed.encode("ascii"), **kwargs)


def login_throttle(deps) -> LoginThrottle:
    """The app's throttle (one per app; tests may swap its ``clock``)."""
    throttle = deps.extras.get("login_throttle")
    if throttle is None:
        throttle = deps.extras["login_throttle"] = LoginThrottle.from_config(deps.engine, deps.reactor, deps.config)
    return throttle


async def _password_check(request, deps, username: str, password: str, via: str):
    """``(user, None)`` for a right password, ``(None, None)`` for a wrong one, ``(None, refusal)`` when throttled.

    A locked user name (here or everywhere) or address is refused before the password is hashed;
    the refusal is the 429 :class:`ApiError` (``auth.throttled``, Retry-After).
    """
    throttle = login_throttle(deps)
    address = client_address(request)
    now = throttle.now()
    attempt = await deps.db(throttle.begin_attempt, username, address, now)
    if attempt.lock is not None:
        LOGINS.labels("throttled").inc()
        return None, throttled_error(attempt.lock, now)
    user = await deps.db(deps.auth.check_password, username, password)
    if user is None:
        LOGINS.labels("failed").inc()
        lock = await deps.db(throttle.check, username, address, now)  # the attempt is already counted
        if lock is not None:
            log.warning("log-in locked out after repeated failures", extra={"fields": {
                "event": "auth.lockout", "scope": lock.scope, "username": _printable(username[:40]), "client": address,
                "failures": lock.failures, "until": lock.until.isoformat(), "via": via}})
        return None, None
    LOGINS.labels("ok").inc()
    await deps.db(throttle.attempt_succeeded, attempt, username, address, now)
    return user, None


def _printable(text: str) -> str:
    """No control characters in a log line (a user name is whatever the client typed)."""
    return "".join(c if c.isprintable() else "?" for c in text)


def throttled_error(lock: Lockout, now) -> ApiError:
    seconds, minutes = lock.retry_after(now), lock.minutes(now)
    return ApiError(429, "auth.throttled",
                    f"too many sign-in attempts; try again in {minutes} minutes / 登录尝试过多，请 {minutes} 分钟后再试",
                    {"retry_after_seconds": seconds, "retry_after_minutes": minutes, "scope": lock.scope},
                    headers={"Retry-After": str(seconds)})


def routes(app) -> None:
    """Log-in, log-out, the token endpoint and ``/api/v1/me``."""
    deps = app.deps
    CATALOGUE.update(AUTH_TEXT)
    login_throttle(deps)

    def login_page(request, *, failed=False, username="", status=200, message=None, throttled_minutes=0):
        token = secrets.token_urlsafe(24)
        request.addCookie(LOGIN_CSRF_COOKIE, token.encode(), path=b"/login", httpOnly=True,
                          secure=request.isSecure(), sameSite="strict")
        nxt = safe_next(form_arg(request, "next"), "")
        return deps.templates.render(request, "login.html", status=status, login_csrf=token, failed=failed,
                                     username=username, next=nxt, message=message,
                                     throttled_minutes=throttled_minutes)

    @app.route("/", methods=["GET"])
    async def home(request):
        principal = await authenticate(request)
        citizen_home = deps.extras.get("citizen_home")
        if principal is None and citizen_home is not None:
            return await citizen_home(request)  # the citizen portal (callcenter.citizen) lives at the root
        if principal is None:
            request.redirect(b"/login")
        else:
            request.redirect(HOME_BY_ROLE.get(principal.user.role, "/login?signed_in=1").encode())
        request.setResponseCode(303)
        return b""

    @app.route("/login", methods=["GET"])
    def login_form(request):
        message = "logout.done" if form_arg(request, "logged_out") else None
        return login_page(request, message=message)

    @app.route("/login", methods=["POST"])
    async def login_submit(request):
        cookie = (request.getCookie(LOGIN_CSRF_COOKIE) or b"").decode("ascii", "replace")
        submitted = form_arg(request, "csrf_token")
        if not same_origin(request) or not cookie or not hmac.compare_digest(cookie.encode(), submitted.encode()):
            LOGINS.labels("csrf").inc()
            return deps.templates.render(request, "error.html", status=403, message_key="error.csrf",
                                         detail="auth.csrf", back="/login")
        username = form_arg(request, "username").strip()[:40]
        user, refusal = await _password_check(request, deps, username, form_arg(request, "password")[:200], "page")
        if refusal is not None:
            request.setHeader(b"Retry-After", refusal.headers["Retry-After"].encode("ascii"))
            return login_page(request, username=username, status=429,
                              throttled_minutes=refusal.details["retry_after_minutes"])
        if user is None:
            return login_page(request, failed=True, username=username, status=401)
        sid, _session = await deps.db(deps.auth.open_session, user, deps.wall_now())
        set_session_cookie(request, sign(_secret(request), sid))
        request.addCookie(LOGIN_CSRF_COOKIE, b"", path=b"/login", max_age=b"0")
        request.redirect(safe_next(form_arg(request, "next"), HOME_BY_ROLE.get(user.role, "/")).encode())
        request.setResponseCode(303)
        return b""

    @app.route("/logout", methods=["POST"])
    @require_role(page=True)
    async def logout(request, principal):
        if principal.session_id:
            await deps.db(deps.auth.close_session, principal.session_id)
        set_session_cookie(request, None)
        request.redirect(b"/login?logged_out=1")
        request.setResponseCode(303)
        return b""

    @app.route("/api/v1/tokens", methods=["POST"])
    @json_api
    async def create_token(request):
        body = read_json(request)
        unknown = sorted(set(body) - {"username", "password", "name"})
        if unknown:
            raise ApiError(400, "request.unknown_fields", "unknown fields / 存在未知字段", {"fields": unknown})
        for key in ("username", "password"):
            if not isinstance(body.get(key), str) or not body[key]:
                raise ApiError(400, "request.invalid_field", f"{key} must be a non-empty string / 字段无效",
                               {"field": key})
        name = body.get("name", "")
        if not isinstance(name, str) or len(name) > 80:
            raise ApiError(400, "request.invalid_field", "name must be text up to 80 characters / 名称无效",
                           {"field": "name"})
        user, refusal = await _password_check(request, deps, body["username"][:40], body["password"][:200], "token")
        if refusal is not None:
            raise refusal
        if user is None:
            raise ApiError(401, "auth.invalid_credentials", "wrong user name or password / 用户名或密码错误")
        days = float(deps.config.get("auth.token_days", 90))
        lifetime = timedelta(days=days)
        token = await deps.db(deps.auth.issue_token, user, deps.wall_now(), name=name, lifetime=lifetime)
        return 201, {"token": token, "token_type": "Bearer",
                     "expires_at": (deps.wall_now() + lifetime).isoformat(), "user": user_json(user)}

    @app.route("/api/v1/me", methods=["GET"])
    @json_api
    @require_role()
    async def me(request, principal):
        return {"user": user_json(principal.user), "via": principal.via,
                "csrf_token": principal.csrf_token if principal.via == "session" else None}


def user_json(user: User) -> dict:
    return {"username": user.username, "display_name": user.display_name, "role": user.role,
            "department": user.department}
