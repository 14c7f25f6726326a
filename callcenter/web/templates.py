"""Jinja2 pages: autoescaped, bilingual, with the CSRF token at hand.

Every page extends ``base.html`` (language switch, navigation, log-out form).
Features add their own template folders with :meth:`Templates.add_directory`.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

from callcenter.web.i18n import pick_language, translate

HERE = Path(__file__).parent
LANG_COOKIE = b"hotline_lang"


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
        self.env.filters["local"] = self.local

    def local(self, value: datetime | str | None) -> str:
        """A stored (UTC) time as people here read it: ``2026-11-23 17:05`` in the hotline's zone."""
        if isinstance(value, str):  # the JSON views' ISO times
            value = datetime.fromisoformat(value) if value else None
        return value.astimezone(self.zone).strftime("%Y-%m-%d %H:%M") if value is not None else ""

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
            **context,
        )
        request.setResponseCode(status)
        request.setHeader(b"Content-Type", b"text/html; charset=utf-8")
        request.setHeader(b"Cache-Control", b"no-store")
        return page.encode("utf-8")


def language(request) -> str:
    """The page language, remembering an explicit ``?lang=`` in a cookie."""
    asked = request.args.get(b"lang", [b""])[0].decode("ascii", "replace") or None
    cookie = (request.getCookie(LANG_COOKIE) or b"").decode("ascii", "replace") or None
    lang = pick_language(asked, cookie)
    if asked == lang:
        request.addCookie(LANG_COOKIE, lang.encode(), path=b"/", sameSite="lax", max_age=str(365 * 86400))
    return lang
