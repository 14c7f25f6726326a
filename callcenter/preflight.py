"""`callcenter check`: can this configuration run the hotline?  One line per check.

``serve`` runs the same checks before it starts (:func:`run_checks`).  Each check says
``ok``, ``FAIL`` (with the fix) or ``skip`` (not configured); a failed check makes
``callcenter check`` exit 1.  ``serve`` refuses to start on any failure except the
*transient* ones — the PBX or the search engine not answering yet — because it
reconnects to those with back-off (compose starts Asterisk and Elasticsearch beside it)
and says so in ``/healthz`` meanwhile.

The checks, in order: configuration values, secrets (no placeholders), database reachable
and migrated, every IVR prompt rendered, AMI reachable with a login, the search engine
reachable and of a supported version, and the speech model present where one is configured.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from twisted.internet import defer
from twisted.internet.threads import deferToThread

#: a secret made of one of these words (case, "-", "_" and spaces ignored) is a placeholder
PLACEHOLDERS = frozenset({"changeme", "change", "secret", "password", "placeholder", "todo", "xxx", "replaceme",
                          "setme", "example", "default"})
MIN_SECRET_KEY = 32


@dataclass
class Check:
    name: str
    status: str          # "ok", "fail" or "skip"
    detail: str
    fix: str = ""
    transient: bool = False   # a service not answering yet: serve starts and reconnects

    @property
    def failed(self) -> bool:
        return self.status == "fail"

    def line(self) -> str:
        mark = {"ok": "ok  ", "fail": "FAIL", "skip": "skip"}[self.status]
        text = f"{mark}  {self.name:<9} {self.detail}"
        if self.fix:
            text += f" — fix: {self.fix}"
        return text


def _ok(name, detail):
    return Check(name, "ok", detail)


def _fail(name, detail, fix, transient=False):
    return Check(name, "fail", detail, fix, transient)


def is_placeholder(value: str) -> bool:
    return re.sub(r"[\s_\-]", "", str(value or "")).lower() in PLACEHOLDERS


# -- the checks ---------------------------------------------------------------------------------

def check_config(config) -> Check:
    """Every setting that is validated at start-up, validated now (the first bad key named)."""
    from zoneinfo import ZoneInfo

    from callcenter.ami.client import read_coalesce_setting
    from callcenter.config import ConfigError
    from callcenter.runtime import parse_gc_threshold
    from callcenter.web.http import parse_networks
    from callcenter.workorders.open311_media import MediaFetcher
    from ivr.services import screen_refresh_setting

    problems = []
    validators = [
        lambda: parse_gc_threshold(config.get("runtime.gc_threshold")),
        lambda: read_coalesce_setting(config),
        lambda: screen_refresh_setting(config),
        lambda: config.number("ami.greeting_timeout", 1, 300, unit="s", default=10.0),
        lambda: config.number("ami.login_timeout", 1, 300, unit="s", default=10.0),
        lambda: parse_networks(config.get("web.trusted_proxies")),
        lambda: MediaFetcher.from_config(config, None, None, max_bytes=1),   # open311.media_fetch_allow
    ]
    for validate in validators:
        try:
            validate()
        except (ConfigError, ValueError) as exc:
            problems.append(str(exc))
    if config.get("ami.auth") not in ("md5", "plain"):
        problems.append(f"ami.auth={config.get('ami.auth')!r}: expected \"md5\" or \"plain\"")
    if config.get("search.engine") not in ("embedded", "elasticsearch"):
        problems.append(f"search.engine={config.get('search.engine')!r}: expected \"embedded\" or \"elasticsearch\"")
    for key in ("calendar.timezone", "wallboard.timezone"):
        try:
            ZoneInfo(str(config.get(key)))
        except Exception:  # noqa: BLE001 - ZoneInfo raises several kinds
            problems.append(f"{key}={config.get(key)!r}: not a time zone")
    if problems:
        return _fail("config", "; ".join(problems), "correct the key(s) named in the configuration file "
                     "or the CALLCENTER_<SECTION>_<KEY> environment")
    return _ok("config", "settings valid")


def _shared_database(config) -> bool:
    """Whether ``database.url`` is PostgreSQL: the database several processes share (SQLite serves one)."""
    from sqlalchemy.engine import make_url

    from callcenter.db import default_url

    try:
        return make_url(default_url(config)).get_backend_name() == "postgresql"
    except Exception:  # noqa: BLE001 - a bad URL is the database check's to report
        return False


def check_secrets(config) -> Check:
    """``web.secret_key`` signs the session cookies, the citizens' links and the requests one process
    relays to another.  Left empty, each process draws its own at start: fine for the one process a
    SQLite database serves, refused with PostgreSQL, where several processes share the sessions (web
    processes, a failover standby) and would refuse each other's cookies and relayed requests."""
    problems = []
    drawn = ""
    key = str(config.get("web.secret_key") or "")
    if not key and _shared_database(config):
        problems.append("web.secret_key is empty with PostgreSQL: each process would draw its own key, so the "
                        "other processes on the database refuse its cookies and relayed requests, and every "
                        "restart signs everyone out")
    elif not key:
        drawn = "web.secret_key empty: drawn at start (one process on SQLite; a restart signs everyone out)"
    elif is_placeholder(key):
        problems.append(f"web.secret_key is the placeholder {key!r}")
    elif len(key) < MIN_SECRET_KEY:
        problems.append(f"web.secret_key has {len(key)} characters, fewer than {MIN_SECRET_KEY}")
    secret = str(config.get("ami.secret") or "")
    if not secret:
        problems.append("ami.secret is empty")
    elif is_placeholder(secret):
        problems.append(f"ami.secret is the placeholder {secret!r}")
    if problems:
        return _fail("secrets", "; ".join(problems),
                     "set web.secret_key to `openssl rand -hex 32` (or CALLCENTER_WEB_SECRET_KEY) and ami.secret "
                     "to the [hotline] secret of Asterisk's manager.conf (or CALLCENTER_AMI_SECRET)")
    if drawn:
        return _ok("secrets", f"{drawn}; ami.secret set")
    return _ok("secrets", "web.secret_key and ami.secret set (not placeholders)")


def check_database(config) -> Check:
    from sqlalchemy import text

    from callcenter.app import missing_migrations
    from callcenter.db import default_url, make_engine

    url = default_url(config)
    engine = make_engine(url)
    where = engine.url.render_as_string(hide_password=True)
    try:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - any driver error means unreachable
            return _fail("database", f"{where} unreachable ({type(exc).__name__}: {str(exc).splitlines()[0][:160]})",
                         "start PostgreSQL or correct database.url (CALLCENTER_DATABASE_URL)")
        missing = missing_migrations(engine)
    finally:
        engine.dispose()
    if missing:
        return _fail("database", f"{where}: schema behind this version ({len(missing)} migrations missing: "
                     f"{', '.join(missing[:5])})", "callcenter db upgrade --config FILE")
    return _ok("database", f"{where} reachable, schema up to date")


def missing_prompt_files(config) -> list[Path]:
    """Every sound the hotline can play (flow prompts, queue announcements, rating, survey) that
    ``[ivr] sounds_dir`` lacks (:func:`ivr.sounds.missing_sounds_for`)."""
    from ivr.sounds import missing_sounds_for

    sounds = Path(config.get("ivr.sounds_dir"))
    return [sounds / f"{name}.wav" for name in missing_sounds_for(config)]


def check_prompts(config) -> Check:
    sounds = config.get("ivr.sounds_dir")
    missing = missing_prompt_files(config)
    if missing:
        names = ", ".join(str(p.relative_to(sounds)) for p in missing[:8]) + (" …" if len(missing) > 8 else "")
        return _fail("prompts", f"{len(missing)} sound(s) not rendered in {sounds}: {names} (on Asterisk a "
                     "missing sound ends the caller's AGI session)", f"callcenter ivr prompts build --out {sounds}")
    return _ok("prompts", f"every sound the hotline plays is rendered in {sounds}")


@defer.inlineCallbacks
def check_ami(config, reactor, timeout: float = 10.0):
    from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

    from callcenter.ami.errors import AMILoginError
    from callcenter.ami.protocol import AMIProtocol

    host, port = config.get("ami.host"), int(config.get("ami.port"))
    where = f"{host}:{port}"
    proto = AMIProtocol(clock=reactor)
    proto.ping_interval = None
    proto.greeting_timeout = proto.login_timeout = timeout
    try:
        yield connectProtocol(TCP4ClientEndpoint(reactor, host, port, timeout=timeout), proto)
    except Exception as exc:  # noqa: BLE001 - refused, unreachable, DNS
        return _fail("ami", f"{where} unreachable ({type(exc).__name__})",
                     "start Asterisk (or the simulator) and check ami.host/ami.port and manager.conf bindaddr",
                     transient=True)
    try:
        yield proto.login(config.get("ami.username"), config.get("ami.secret"), auth=config.get("ami.auth") or "md5",
                          events="off", plain_fallback=bool(config.get("ami.plain_fallback")))
    except AMILoginError as exc:
        return _fail("ami", f"{where} refused the login of {config.get('ami.username')!r}: {exc.message}",
                     "make ami.username/ami.secret match a [user] of Asterisk's manager.conf (and its permit= lines)")
    except Exception as exc:  # noqa: BLE001 - timeouts, lost connections
        proto.abort()
        return _fail("ami", f"{where} did not complete the AMI greeting and login ({type(exc).__name__})",
                     "check that ami.port is Asterisk's manager port (5038), not another service", transient=True)
    version = proto.ami_version
    try:
        yield proto.logoff()
    except Exception:  # noqa: BLE001 - Asterisk closes the socket as it says Goodbye
        pass
    proto.abort()
    return _ok("ami", f"{where} logged in as {config.get('ami.username')!r} (AMI {version})")


def check_search(config) -> Check:
    from callcenter.search.documents import SearchError

    engine = config.get("search.engine")
    if engine == "embedded":
        path = Path(config.get("search.path"))
        folder = path.parent if str(path.parent) else Path(".")
        if folder.exists() and not folder.is_dir():
            return _fail("search", f"embedded index folder {folder} is not a directory", "set search.path")
        return _ok("search", f"embedded index at {path} (one machine only)")
    from callcenter.search.elastic import probe, supported_text

    url = config.get("search.url") or "http://127.0.0.1:9200"
    try:
        info = probe(url, float(config.get("search.timeout_seconds", 5)))
    except SearchError as exc:
        if exc.error_id == "search.unreachable":
            return _fail("search", f"{exc.details.get('url', url)} unreachable", "start Elasticsearch or correct "
                         "search.url (searches answer 503 until it is up; changes wait in the outbox)", transient=True)
        return _fail("search", f"{url}: {exc.message}", f"use a supported server: {supported_text()}")
    if not info.supported:
        return _fail("search", f"{url} is {info}, not supported", f"use a supported server: {supported_text()}")
    return _ok("search", f"{url} is {info} (supported)")


def check_speech(config) -> Check:
    from callcenter.asr.errors import ModelError
    from callcenter.asr.models import resolve

    name = str(config.get("asr.model") or "")
    if name.lower() in ("off", "none"):
        return Check("speech", "skip", f"asr.model = {name!r}: speech recognition off")
    try:
        spec, path = resolve(None, config)
    except ModelError as exc:
        if not name:
            return Check("speech", "skip", "no speech model configured or installed: speech recognition off")
        return _fail("speech", f"asr.model {name!r}: {exc}", "install it (callcenter models install NAME) or set "
                     "asr.model = \"off\"")
    return _ok("speech", f"model {spec.name if spec else path} at {path}")


@defer.inlineCallbacks
def run_checks(config, reactor, *, ami_timeout: float = 10.0):
    """Every check, in order; fires with the list of :class:`Check`."""
    results = [check_config(config), check_secrets(config)]
    for name, blocking in (("database", check_database), ("prompts", check_prompts)):
        results.append((yield _guarded(name, deferToThread(blocking, config))))
    results.append((yield _guarded("ami", check_ami(config, reactor, ami_timeout))))
    for name, blocking in (("search", check_search), ("speech", check_speech)):
        results.append((yield _guarded(name, deferToThread(blocking, config))))
    return results


@defer.inlineCallbacks
def _guarded(name, d):
    try:
        result = yield d
    except Exception as exc:  # noqa: BLE001 - a check that crashes is a failed check, with the reason
        result = _fail(name, f"check failed: {type(exc).__name__}: {str(exc)[:200]}", "see the message")
    return result


def report(results, out) -> None:
    for result in results:
        print(result.line(), file=out, flush=True)


def blocking_failures(results) -> list[Check]:
    """What stops ``serve``: every failure but a service that is not answering yet."""
    return [r for r in results if r.failed and not r.transient]
