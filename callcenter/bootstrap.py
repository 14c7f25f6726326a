"""Assembling the service from configuration.

:func:`build_web` wires the web application: database engine, thread pool,
auth, the work-order service (when ``ticketing`` provides one) and every
feature's routes.  Features register by being listed in :data:`FEATURES`
(or the ``web.features`` config list): each is a module with
``routes(app)``, where ``app`` is the :class:`~callcenter.web.app.WebApp`.
"""
from __future__ import annotations

import importlib
import logging
import secrets

from twisted.python.threadpool import ThreadPool

from callcenter.auth.service import AuthService
from callcenter.db import default_url, make_engine
from callcenter.web.app import WebApp, WebDeps
from callcenter.web.http import HotlineSite
from callcenter.web.templates import Templates, local_zone

log = logging.getLogger(__name__)

FEATURES = (
    "callcenter.web.health",
    "callcenter.auth.web",
    "callcenter.workorders.api",
    "callcenter.workorders.openapi",
    "callcenter.workorders.open311",
    "callcenter.workorders.portal",
    "callcenter.desk.web",
    "callcenter.wallboard.web",
    "callcenter.supervisor.web",
    "callcenter.livecalls.web",
    "callcenter.search.web",
    "callcenter.reports.web",
    "callcenter.callbacks.web",
    "callcenter.accounts.web",
    "callcenter.screening.web",
    "callcenter.audit.web",
    "callcenter.attachments.web",
    "callcenter.recordings.web",
    "callcenter.dispatch.web",
    "callcenter.appraisal.web",
    "callcenter.knowledge.web",
    "callcenter.analysis.web",
    "callcenter.sms.web",
    "callcenter.citizen.web",
)


def build_workorder_service(engine, config):
    """The ticketing facade on ``engine``, or None while ``ticketing`` has none."""
    try:
        from callcenter.workorders.engine import make_service
    except ImportError:
        log.warning("ticketing is not installed: the work-order API answers 503")
        return None
    return make_service(engine, config)


def build_web(config, reactor, *, engine=None, pool: ThreadPool | None = None, workorders=None,
              features=None, acd=None, clock=None):
    """The root resource of the web service (``.app`` is the WebApp, ``.deps`` its dependencies).

    The caller owns the lifecycle: ``close_web(root)`` stops the pool it made.
    ``acd`` (a :class:`~callcenter.routing.acd.QueueController`) feeds the wallboard and
    the supervisor page; without it they show work-order figures only.  ``clock`` (default
    ``reactor``) is the time pages show and judge by (the demo passes its ScaledClock).
    """
    engine = engine or make_engine(default_url(config))
    own_pool = pool is None
    if own_pool:
        pool = ThreadPool(minthreads=1, maxthreads=int(config.get("web.db_threads", 8)), name="web-db")
        pool.start()
    department_exists = None
    if workorders is None:
        workorders = build_workorder_service(engine, config)
    if workorders is not None and hasattr(workorders, "taxonomy"):
        departments = workorders.taxonomy.departments
        department_exists = departments.__contains__
    auth = AuthService(
        engine,
        time_cost=int(config.get("auth.argon2_time_cost", 3)),
        memory_kib=int(config.get("auth.argon2_memory_kib", 65536)),
        department_exists=department_exists,
    )
    secret = config.get("web.secret_key") or ""
    templates = Templates()
    templates.zone = local_zone(config)
    templates.names.taxonomy = getattr(workorders, "taxonomy", None)
    deps = WebDeps(reactor=reactor, clock=clock, config=config, engine=engine, pool=pool, auth=auth,
                   templates=templates, workorders=workorders,
                   extras={"secret_key": (secret or secrets.token_hex(32)).encode("utf-8"),
                           "own_pool": own_pool, "acd": acd})
    app = WebApp(deps)
    for name in tuple(features if features is not None else FEATURES) + tuple(config.get("web.features") or ()):
        importlib.import_module(name).routes(app)
    return app.resource()


def make_site(root, config, reactor=None) -> HotlineSite:
    site = HotlineSite(root, max_body=int(config.get("auth.max_body_bytes", 256 * 1024)), reactor=reactor,
                       request_read_seconds=config.get("web.request_read_seconds"),
                       idle_seconds=config.get("web.idle_seconds"), max_connections=config.get("web.max_connections"))
    store = root.deps.extras.get("attachments") if hasattr(root, "deps") else None
    if store is not None:  # attachment uploads (callcenter.attachments) may be bigger than a form
        site.upload_paths = list(root.deps.extras.get("upload_paths", ()))
        site.upload_max_body = store.max_bytes + 4096
    return site


def close_web(root) -> None:
    """Stop what :func:`build_web` started (the pool, if it made it)."""
    deps = root.deps
    for stop in deps.extras.get("on_close", ()):
        stop()
    if deps.extras.get("own_pool") and deps.pool.started:
        deps.pool.stop()
