"""Jinja2 pages: autoescaped, bilingual, with the CSRF token at hand.

Every page extends ``base.html`` (language switch, navigation, log-out form).
Features add their own template folders with :meth:`Templates.add_directory`.
"""
from __future__ import annotations

import functools
import logging
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, pass_context

from callcenter.web.i18n import pick_language, translate
from callcenter.web.names import Names

HERE = Path(__file__).parent
LANG_COOKIE = b"hotline_lang"
#: what the error page says for a status when the page names no message of its own
STATUS_MESSAGES = {403: "error.forbidden", 404: "error.not_found"}

log = logging.getLogger(__name__)


def local_zone(config) -> ZoneInfo:
    """The hotline's own time zone, for people (``wallboard.timezone``, else ``calendar.timezone``)."""
    return ZoneInfo(config.get("wallboard.timezone") or config.get("calendar.timezone") or "Asia/Shanghai")


class Templates:
    #: where pages show times (the app sets it from the configuration)
    zone = ZoneInfo("Asia/Shanghai")

    def __init__(self) -> None:
        self._loaders = [FileSystemLoader(str(HERE / "templates"))]
        self.env = Environment(
            loader=ChoiceLoader(self._loaders),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        #: code → name (the app gives it the taxonomy)
        self.names = Names()
        # the one set of filters every page uses to show times, durations and codes
        self.env.filters["local"] = self.local
        self.env.filters["local_seconds"] = self.local_seconds
        self.env.filters["hm"] = self.hour_minute
        self.env.filters["duration"] = pass_context(lambda ctx, value: duration(value, ctx.get("lang", "zh")))
        self.env.filters["name"] = pass_context(
            lambda ctx, code, kind: self.names.name(kind, code, ctx.get("lang", "zh")))
        # for scripts that render the JSON APIs' codes: {kind: {code: name}} in the page's language
        self.env.globals["code_names"] = pass_context(
            lambda ctx, *kinds: {k: self.names.table(k, self.names.all_codes(k), ctx.get("lang", "zh"))
                                 for k in kinds})

    def _aware(self, value: datetime | str | None) -> datetime | None:
        if isinstance(value, str):  # the JSON views' ISO times
            value = datetime.fromisoformat(value) if value else None
        if value is not None and value.tzinfo is None:  # stored naive UTC (SQLite)
            from datetime import timezone

            value = value.replace(tzinfo=timezone.utc)
        return value

    def local(self, value: datetime | str | None) -> str:
        """A stored (UTC) time as people here read it: ``2026-11-23 17:05`` in the hotline's zone."""
        value = self._aware(value)
        return value.astimezone(self.zone).strftime("%Y-%m-%d %H:%M") if value is not None else ""

    def local_seconds(self, value: datetime | str | None) -> str:
        """A live time to the second, in the hotline's zone: ``17:05:09``."""
        value = self._aware(value)
        return value.astimezone(self.zone).strftime("%H:%M:%S") if value is not None else ""

    def hour_minute(self, value: datetime | str | None) -> str:
        """Today's time in the hotline's zone, to the minute: ``17:05``."""
        value = self._aware(value)
        return value.astimezone(self.zone).strftime("%H:%M") if value is not None else ""

    def add_directory(self, path: Path) -> None:
        self._loaders.insert(0, FileSystemLoader(str(path)))
        self.env.loader = ChoiceLoader(self._loaders)

    def render(self, request, name: str, *, status: int = 200, session=None, **context) -> bytes:
        """Render ``name`` in the request's language, setting the language cookie."""
        lang = language(request)
        path = request.path.decode("utf-8", "replace").split("?")[0]
        other = "en" if lang == "zh" else "zh"
        context.setdefault("user", getattr(session, "user", None))
        page = self.env.get_template(name).render(
            lang=lang,
            t=lambda key: translate(key, lang),
            csrf_token=getattr(session, "csrf_token", ""),
            lang_switch_url=path + "?" + urlencode({"lang": other}),
            request_path=path,
            **context,
        )
        request.setResponseCode(status)
        request.setHeader(b"Content-Type", b"text/html; charset=utf-8")
        request.setHeader(b"Cache-Control", b"no-store")
        return page.encode("utf-8")

    def error_page(self, request, exc: BaseException, *, back: str = "/", session=None, message_key: str | None = None,
                   detail: str = "message") -> bytes:
        """The bilingual error page for a refusal (an ``ApiError`` or anything with an ``error_id``): its
        HTTP status, ``message_key`` (by default what the status means: forbidden, not found, or a bad
        request), the error's ``message`` or ``error_id`` as the detail, a link ``back``."""
        from callcenter.web.errors import error_payload

        status, body = error_payload(exc)
        key = message_key or STATUS_MESSAGES.get(status, "error.bad_request")
        return self.render(request, "error.html", status=status, session=session, message_key=key,
                           detail=body[detail], back=back)


def refusals_as_pages(back: str = "/", *, message_key: str | None = None, detail: str = "message"):
    """Decorate a page handler (``handler(request, principal, ...)`` or ``handler(request, ...)``): a
    refusal it raises — anything with an ``error_id`` — is answered with :meth:`Templates.error_page`
    (its status, a link ``back``); the page counterpart of :func:`callcenter.web.app.json_api`."""

    def decorate(handler):
        @functools.wraps(handler)
        async def wrapper(request, *args, **kwargs):
            try:
                result = handler(request, *args, **kwargs)
                if hasattr(result, "__await__"):
                    result = await result
                return result
            except Exception as exc:  # noqa: BLE001 - refusals with an error id are pages
                if not hasattr(exc, "error_id"):
                    raise
                from callcenter.web.errors import error_payload

                if error_payload(exc)[0] >= 500:
                    log.error("error page for %s", request.path, exc_info=exc)
                return request.hotline_deps.templates.error_page(
                    request, exc, back=back, session=getattr(args[0], "session", None) if args else None,
                    message_key=message_key, detail=detail)
        return wrapper
    return decorate


def duration(seconds, lang: str = "zh") -> str:
    """A span of time as people say it: ``1 分 20 秒`` / ``1 min 20 s``, ``2 小时 5 分`` / ``2 h 5 min``
    ('' for none; whole seconds, rounded)."""
    if seconds is None or seconds == "":
        return ""
    total = int(round(float(seconds)))
    sign = "-" if total < 0 else ""
    total = abs(total)
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    units = ("小时", "分", "秒") if lang == "zh" else ("h", "min", "s")
    if h:
        parts = [(h, units[0]), (m, units[1])]
    elif m:
        parts = [(m, units[1]), (s, units[2])] if s else [(m, units[1])]
    else:
        parts = [(s, units[2])]
    return sign + " ".join(f"{n} {u}" for n, u in parts)


def language(request) -> str:
    """The page language, remembering an explicit ``?lang=`` in a cookie."""
    asked = request.args.get(b"lang", [b""])[0].decode("ascii", "replace") or None
    cookie = (request.getCookie(LANG_COOKIE) or b"").decode("ascii", "replace") or None
    lang = pick_language(asked, cookie)
    if asked == lang:
        request.addCookie(LANG_COOKIE, lang.encode(), path=b"/", sameSite="lax", max_age=str(365 * 86400))
    return lang
