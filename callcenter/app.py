"""The composition root: the ONE place that builds the hotline's services from configuration and a clock.

``callcenter serve`` runs :class:`Hotline` on the real reactor against Asterisk's AMI
(:mod:`callcenter.commands.serve`); ``callcenter demo`` runs the very same :class:`Hotline`
against the PBX simulator, on a :class:`~callcenter.routing.timewarp.ScaledClock`, with
synthetic callers, agents and departments around it (:mod:`callcenter.demo.world`).
Nothing else wires services together; ``tests/demo/test_app.py`` checks that serve and demo
build the same set.

Extension point — adding a service (SMS outbox, attachments, dispatcher console, failover …)
------------------------------------------------------------------------------------------------
1. Write a step ``def _sms(h: Hotline) -> Part`` below, next to the others.  Build the service
   from ``h.config``; give it ``h.clock`` for timers and timestamps (a ScaledClock in the demo)
   and ``h.reactor`` for sockets and threads; use what earlier steps built (``h.engine``,
   ``h.workorders``, ``h.ami``, ``h.acd`` …, or ``h.parts["name"].service``).  A step may return
   a Deferred that fires with its :class:`Part`.
2. Return ``Part("sms", service)``: a Twisted service (``startService``/``stopService``) is
   started and stopped for you; anything else says how with ``start=`` / ``stop=`` callables
   (each may return a Deferred).  ``Part(name, None)`` records a service switched off by
   configuration (it is still "built", so serve and demo list the same names).
3. Add ``("sms", _sms)`` to :data:`SERVICES` after the steps it needs.

Every step is built in :data:`SERVICES` order, then every part is started in that order, and
:meth:`Hotline.stop` stops them in reverse (so a part stops before what it depends on).  Web
pages and APIs are not services: a feature adds its routes to
:data:`callcenter.bootstrap.FEATURES` and reads what it needs from ``deps.extras`` (the ``web``
step puts the ACD, caller screen and intake there).

Roles (``Hotline(role=…)``): ``"calls"`` (the default) drives the PBX and runs everything; ``"web"``
(``[serve] role = "web"``) and ``"standby"`` (a failover standby while it waits for the lock) build only
:data:`WEB_STEPS` — the pages and APIs, with the calls pages relayed to the process that drives the calls
(the ``calls_relay`` step, :mod:`callcenter.web.pgcalls`) — and record every other step switched off.

The demo's differences are options, not a second wiring: ``migrate`` (the demo upgrades its own
SQLite database; serve refuses a schema behind the migrations), ``ami_options`` (the scaled clock,
no keep-alive pings), ``on_outcome``/``on_finished`` (progress counters), ``speech`` (only with
``--speech``), ``desk_audiosocket`` (the desk streams to whatever port the speech service got),
and :meth:`Hotline.before_stopping` (the demo hangs up its simulated calls before the IVR stops).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

from twisted.internet import defer

from callcenter.errors import HotlineError

log = logging.getLogger(__name__)


class SchemaBehind(HotlineError):
    """The database lacks migrations this code needs."""

    error_id = "serve.schema_behind"

    def __init__(self, missing: list[str]):
        self.missing = missing
        self.details = {"missing": list(missing)}
        self.message = ("数据库结构落后于当前版本，请先运行 `callcenter db upgrade` / the database schema is behind this "
                        f"version's migrations ({len(missing)} missing: {', '.join(missing[:5])}); "
                        "run `callcenter db upgrade`")
        Exception.__init__(self, self.message)


def missing_migrations(engine) -> list[str]:
    """Revisions the code has that the database has not applied (empty: up to date)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from callcenter.db import alembic_config

    script = ScriptDirectory.from_config(alembic_config(str(engine.url)))
    with engine.connect() as conn:
        applied = set(MigrationContext.configure(conn).get_current_heads())
    wanted = set()
    for head in script.get_heads():
        wanted.update(rev.revision for rev in script.iterate_revisions(head, "base"))
    done = set()
    for rev in applied:
        done.update(r.revision for r in script.iterate_revisions(rev, "base"))
    return sorted(wanted - done)


@dataclass
class Part:
    """One built service of the process and how to start and stop it (None: nothing to do)."""

    name: str
    service: Any
    start: Callable[[], Any] | None = None
    stop: Callable[[], Any] | None = None

    def __post_init__(self):
        if self.start is None and hasattr(self.service, "startService"):
            self.start = self.service.startService
        if self.stop is None and hasattr(self.service, "stopService"):
            self.stop = self.service.stopService


# -- the steps, in build/start order -------------------------------------------------------------

@defer.inlineCallbacks
def _database(h: "Hotline"):
    from twisted.internet.threads import deferToThread

    from callcenter.db import default_url, make_engine, upgrade

    url = default_url(h.config)
    if h.migrate:
        yield deferToThread(upgrade, url, "heads")
    h.engine = engine = make_engine(url)
    if not h.migrate:
        missing = yield deferToThread(missing_migrations, engine)
        if missing:
            engine.dispose()
            raise SchemaBehind(missing)
    return Part("database", engine, stop=engine.dispose)


@defer.inlineCallbacks
def _workorders(h: "Hotline"):
    from twisted.internet.threads import deferToThread

    from ticketing.service import WorkOrderService

    h.workorders = yield deferToThread(WorkOrderService.from_config, h.config, h.engine)
    return Part("workorders", h.workorders)


def _live_events(h: "Hotline") -> Part:
    from callcenter.web.pgevents import WorkOrderEventBridge

    # other processes on the same PostgreSQL see this one's work-order changes, and it theirs
    if h.engine.dialect.name != "postgresql":
        return Part("live_events", None)
    bridge = WorkOrderEventBridge(h.reactor, h.engine.url.render_as_string(hide_password=False), h.workorders,
                                  h.engine, name=str(h.config.get("failover.group") or ""))
    return Part("live_events", bridge, start=bridge.start, stop=bridge.stop)


def _tracker(h: "Hotline") -> Part:
    from callcenter.calls import CallTracker

    # the one "what is this call doing" of the process: fed and resynced by the AMI client
    h.tracker = CallTracker()
    return Part("tracker", h.tracker)


def _ami(h: "Hotline") -> Part:
    from callcenter.ami.client import AMIClient

    options = {"clock": h.clock, **h.ami_options}
    h.ami = AMIClient.from_config(h.config, h.reactor, tracker=h.tracker, **options)
    return Part("ami", h.ami, start=h.ami.start, stop=h.ami.stop)


def _acd(h: "Hotline") -> Part:
    from callcenter.routing.acd import controller_from_config
    from callcenter.routing.metrics import register_metrics
    from callcenter.routing.store import RoutingStore

    h.acd = controller_from_config(h.config, h.ami, h.clock, store=RoutingStore(h.engine),
                                   calendar=h.workorders.calendar)
    collectors = []   # registered only while the ACD runs: a start that fails later leaves none behind

    def start():
        h.acd.startService()
        collectors.append(register_metrics(h.acd))

    @defer.inlineCallbacks
    def stop():
        from callcenter.metrics import REGISTRY

        try:
            yield h.acd.stopService()
        finally:
            while collectors:
                REGISTRY.unregister(collectors.pop())   # the next hotline of this process registers its own

    return Part("acd", h.acd, start=start, stop=stop)


def _transcriptions(h: "Hotline") -> Part:
    from callcenter.asr.jobs import TranscriptionQueue

    # recorded messages, callback comments and live streams wait here for the transcription worker
    h.transcriptions = TranscriptionQueue(h.engine)
    return Part("transcriptions", h.transcriptions)


def _survey(h: "Hotline") -> Part:
    """Satisfaction callbacks: the worker that dials citizens back (started by the
    ``satisfaction_callbacks`` step) and the IVR hook that records their answers."""
    from callcenter.callbacks.service import build_satisfaction_callbacks

    h.callbacks, h.survey = build_satisfaction_callbacks(h.config, engine=h.engine, workorders=h.workorders,
                                                         ami=h.ami, reactor=h.clock, pool=h.reactor.getThreadPool(),
                                                         transcriptions=h.transcriptions)
    return Part("survey", h.survey)


def _ratings(h: "Hotline") -> Part:
    from callcenter.callbacks.rating import RatingHook, acd_lookup
    from callcenter.clock import now_from

    h.ratings = RatingHook(h.engine, reactor=h.reactor, pool=h.reactor.getThreadPool(),
                           agent_of=acd_lookup(h.acd), now=lambda: now_from(h.clock))
    return Part("ratings", h.ratings)


def _ivr(h: "Hotline") -> Part:
    from callcenter.callbacks.rating import outcome_hooks
    from ivr.services import build_runner

    h.runner = build_runner(h.config, h.ami, h.clock, service=h.workorders, calendar=h.workorders.calendar,
                            acd=h.acd, db_engine=h.engine,
                            on_outcome=outcome_hooks(h.survey.on_outcome, h.ratings.on_outcome, *h.on_outcome),
                            on_finished=h.on_finished)
    return Part("ivr", h.runner, start=h.runner.start, stop=h.runner.stop)


def _adoption(h: "Hotline") -> Part:
    """After every AMI login: adopt callers parked in AsyncAGI that nobody drives (a dropped link,
    or a controller that died) — IVR callers at their menu, queued callers in their place."""
    from callcenter.failover.adoption import CallAdoption

    from callcenter.failover.queue import QueueAdoption

    from callcenter.failover.callbacks import build_callback_adoption

    callbacks = build_callback_adoption(h.config, engine=h.engine, ami=h.ami, clock=h.clock, reactor=h.reactor,
                                        worker=h.callbacks, acd=h.acd)  # callbacks in flight: dialled once
    h.adoption = CallAdoption(h.ami, h.runner, h.acd, clock=h.clock,
                              queue=QueueAdoption(h.acd, h.ami, engine=h.engine), callbacks=callbacks)
    h.adoption.start()  # listening from the build on, so the very first login is not missed
    return Part("adoption", h.adoption, stop=h.adoption.stop)


def _satisfaction_callbacks(h: "Hotline") -> Part:
    # built with the survey hook; started after the IVR so answers have somewhere to go,
    # stopped before it so no new callback dials while the IVR winds down
    return Part("satisfaction_callbacks", h.callbacks)


def _sla(h: "Hotline") -> Part:
    from ticketing.sla_worker import SlaWorker

    h.sla = SlaWorker.from_config(h.config, h.clock, h.engine, h.workorders, h.reactor.getThreadPool(),
                                  reactor=h.reactor)
    return Part("sla", h.sla)


def _surge(h: "Hotline") -> Part:
    """突增预警: hot-topic surges as Prometheus gauges, for the HotlineHotTopicSurge alert."""
    from callcenter.reports.surge import SurgeMonitor

    h.surge = SurgeMonitor.from_config(h.config, h.engine, h.clock, h.reactor.getThreadPool(), reactor=h.reactor)
    return Part("surge", h.surge, start=h.surge.start, stop=h.surge.stop)


@defer.inlineCallbacks
def _speech(h: "Hotline"):
    from callcenter.asr.fanout import SpeechFanout
    from callcenter.asr.service import start_speech

    # live transcripts go to the agent desk (it asks Asterisk to stream the caller) and are stored
    h.fanout = SpeechFanout(h.clock, h.transcriptions)
    h.speech = None
    if h.speech_enabled:
        h.speech = yield start_speech(h.reactor, h.config, h.fanout)
    return Part("speech", h.speech, stop=h.speech.stop if h.speech is not None else None)


@defer.inlineCallbacks
def _speech_intake(h: "Hotline"):
    """Whisper + intake: the IVR's describe node (key 9), voice messages filling their drafts, and
    agent-call recordings queued for transcription when the call ends."""
    from callcenter.asr.service import start_speech_intake

    h.speech_intake = None
    if h.speech_enabled:
        h.speech_intake = yield start_speech_intake(
            h.reactor, h.clock, h.config, pool=h.speech.pool if h.speech is not None else None,
            transcriptions=h.transcriptions, workorders=h.workorders)
    si = h.speech_intake
    if si is None:
        return Part("speech_intake", None)
    h.runner.understand = si.understand
    h.tracker.on_call_ended.append(lambda call: si.on_call_ended(call.linkedid, list(call.recordings)))
    return Part("speech_intake", si, stop=si.stop)


def _transcriber(h: "Hotline") -> Part:
    h.transcriber = None
    si = h.speech_intake
    if h.speech is None and si is None:
        return Part("transcriber", None)
    from callcenter.asr.jobs import TranscriptionWorker

    # recordings and voice messages: the batch model (Whisper when installed), else the live one
    model, pool = (si.batch_model, si.batch_pool) if si is not None else (h.speech.model, h.speech.pool)
    h.transcriber = TranscriptionWorker(h.reactor, h.transcriptions, model, pool, worker_id=f"hotline-{id(h):x}",
                                        on_done=si.transcribed if si is not None else None)
    return Part("transcriber", h.transcriber, start=h.transcriber.start, stop=h.transcriber.stop)


def _sms(h: "Hotline") -> Part:
    """SMS to citizens through Kannel (``[sms]``): order accepted / replied / closed and the
    portal's codes, from the outbox; None while ``sms.enabled`` is off."""
    from callcenter.sms.service import build_sms

    h.sms = build_sms(h.config, engine=h.engine, clock=h.clock, reactor=h.reactor, pool=h.reactor.getThreadPool())
    return Part("sms", h.sms)


def _intake_retrain(h: "Hotline") -> Part:
    """Learning from the floor: intake retrains on a schedule from agents' corrections and accepted
    returns; a new model replaces the current one only if no worse (ticketing.intake.retrain)."""
    from ticketing.intake.retrain import RetrainJob

    hours = h.config.number("intake.retrain_hours", 0, 24 * 365, unit="hours")
    if not hours:
        return Part("intake_retrain", None)
    path = h.config.get("intake.model_path") or h.config.get("intake.retrain_model_path") or "var/intake-model.json"
    job = RetrainJob(h.reactor, engine=h.engine, model_path=path, interval_seconds=hours * 3600,
                     taxonomy=h.workorders.taxonomy)
    return Part("intake_retrain", job, start=job.start, stop=job.stop)


def _retention(h: "Hotline") -> Part:
    """个人信息到期匿名化: finished orders past ``[retention] personal_data_days`` lose the caller's
    number and name, recordings and transcripts, every ``interval_hours`` (callcenter.audit.retention)."""
    from callcenter.audit.retention import Retention, RetentionJob

    hours = h.config.number("retention.interval_hours", 0, 24 * 365, unit="hours", default=24)
    if not hours:
        return Part("retention", None)
    job = RetentionJob(Retention.from_config(h.config, h.engine), h.clock, h.reactor, h.reactor.getThreadPool(),
                       interval=hours * 3600)
    return Part("retention", job, start=job.start, stop=job.stop)


def _web(h: "Hotline") -> Part:
    from callcenter.bootstrap import build_web, close_web, make_site
    from callcenter.livecalls import attach as attach_live_calls
    from ticketing.intake.service import IntakeService

    config = h.config
    if h.desk_audiosocket and h.speech is not None:
        host = config.get("asr.audiosocket_host") or "127.0.0.1"
        config = config.with_overrides({"desk.audiosocket": f"{host}:{h.speech.audiosocket_port}"})
    drives_calls = h.role == "calls"
    h.web_root = root = build_web(config, h.reactor, engine=h.engine, workorders=h.workorders,
                                  acd=h.acd if drives_calls else None, clock=h.clock)
    deps = root.deps
    if drives_calls:
        attach_live_calls(root, h.tracker, clock=h.clock)
        deps.extras["caller_screen"] = h.runner.caller_screen
        deps.extras["ivr_library"] = h.runner.library  # /healthz checks the sounds of the flows in service
        deps.extras["ami"] = h.ami  # /healthz: degraded while the AMI link is down
        deps.extras["speech_intake"] = h.speech_intake  # the desk shows what a caller told the IVR
        h.fanout.listeners.append(lambda: deps.extras.get("desk"))
    else:
        deps.extras["role"] = h.role  # /healthz says so; the calls pages come from the leader (calls_relay)
    deps.extras["intake"] = IntakeService.from_config(h.reactor, h.reactor.getThreadPool(), h.config,
                                                      taxonomy=h.workorders.taxonomy, engine=h.engine)

    def listen():
        try:
            h.web_port = h.reactor.listenTCP(int(h.config.get("web.port")), make_site(root, h.config, h.reactor),
                                             interface=h.config.get("web.host") or "127.0.0.1")
        except Exception:
            # The port is taken (or not ours): this part never started, so Hotline.stop skips it — close
            # what build_web started here, or its pool's threads keep `serve` / `demo` alive after
            # "could not start" and neither ever exits (SIGTERM included).
            close_web(root)
            raise

    @defer.inlineCallbacks
    def stop():
        if h.web_port is not None:
            yield h.web_port.stopListening()
        close_web(root)

    return Part("web", root, start=listen, stop=stop)


def _calls_relay(h: "Hotline") -> Part:
    """The pages fed by the calls on every web process (:mod:`callcenter.web.pgcalls`, PostgreSQL only): the
    process that drives the calls copies its live streams out and runs the requests relayed to it; a web
    process (``role`` web or standby) relays those requests and serves the copied streams."""
    from callcenter.web.pgcalls import CallsHost, CallsRelay

    if h.engine.dialect.name != "postgresql":
        return Part("calls_relay", None)
    deps = h.web_root.deps
    group = str(h.config.get("failover.group") or "default")
    name = str(h.config.get("failover.name") or "")
    secret = deps.extras.get("secret_key")
    if h.role == "calls":
        def web_address():
            where = h.web_port.getHost()
            return where.host, where.port

        host = CallsHost(h.reactor, h.engine, group=group, secret=secret, web_address=web_address, name=name)
        for key, stream in (("wallboard_feed", "wallboard"), ("live_calls", "livecalls")):
            if deps.extras.get(key) is not None:
                deps.extras[key].stream.mirror = host.sink(stream)
        if deps.extras.get("desk") is not None:
            deps.extras["desk"].mirror = host.desk_frame
        return Part("calls_relay", host, start=host.start, stop=host.stop)
    relay = CallsRelay(h.reactor, h.engine, group=group, secret=secret, name=name)
    relay.claim_timeout = h.config.number("serve.controller_timeout", 0.2, 60, unit="s", default=relay.claim_timeout)
    deps.extras["calls_relay"] = relay
    return Part("calls_relay", relay, start=relay.start, stop=relay.stop)


#: opened by :meth:`Hotline.open` (the demo needs the work orders' calendar to set its clock)
FOUNDATION = (
    ("database", _database),
    ("workorders", _workorders),
)

#: every other service of a running hotline, in build and start order (stopped in reverse)
SERVICES = (
    ("live_events", _live_events),
    ("tracker", _tracker),
    ("ami", _ami),
    ("acd", _acd),
    ("transcriptions", _transcriptions),
    ("survey", _survey),
    ("ratings", _ratings),
    ("ivr", _ivr),
    ("adoption", _adoption),
    ("satisfaction_callbacks", _satisfaction_callbacks),
    ("sla", _sla),
    ("surge", _surge),
    ("sms", _sms),
    ("speech", _speech),
    ("speech_intake", _speech_intake),
    ("transcriber", _transcriber),
    ("intake_retrain", _intake_retrain),
    ("retention", _retention),
    ("web", _web),
    ("calls_relay", _calls_relay),
)

#: what ``role="web"`` (and ``"standby"``) builds: pages and APIs, no PBX link and no workers; every other
#: step is recorded switched off (``Part(name, None)``), so every role lists the same names
WEB_STEPS = frozenset({"database", "workorders", "live_events", "web", "calls_relay"})
ROLES = ("calls", "web", "standby")


class Hotline:
    """Every service of one hotline process: ``open()`` (optional), ``start()``, then ``stop()``.

    ``clock`` (default ``reactor``) drives timers and timestamps; it may be replaced after
    :meth:`open` and before :meth:`start` (the demo's clock starts at 09:00 of a working day,
    which needs the calendar).  Built services are in :attr:`parts` (name → :class:`Part`) and,
    for the usual ones, attributes (``ami``, ``acd``, ``runner``, ``web_root``, ``web_port`` …).
    """

    def __init__(self, reactor, config, *, clock=None, migrate: bool = False, ami_options: dict | None = None,
                 on_outcome=(), on_finished=None, speech: bool = True, desk_audiosocket: bool = False,
                 role: str = "calls"):
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, not {role!r}")
        #: "calls": drives the PBX (AMI, IVR, ACD, workers, web); "web": pages and APIs only, the calls pages
        #: relayed to the process that drives the calls; "standby": "web" while waiting for leadership
        self.role = role
        self.reactor = reactor
        self.config = config
        self.clock = clock if clock is not None else reactor
        self.migrate = migrate
        self.ami_options = dict(ami_options or {})
        self.on_outcome = tuple(on_outcome)
        self.on_finished = on_finished
        self.speech_enabled = speech
        self.desk_audiosocket = desk_audiosocket
        self.parts: dict[str, Part] = {}
        self.speech = None
        self.speech_intake = None
        self.transcriber = None
        self.web_port = None
        self.sms = None
        self._started: list[Part] = []
        self._before_stopping: dict[str, list[Callable[[], Any]]] = {}

    @property
    def service(self):
        """The work-order service (``workorders``; the older name)."""
        return self.workorders

    def before_stopping(self, name: str, fn: Callable[[], Any]) -> None:
        """Run ``fn`` (may return a Deferred) just before part ``name`` is stopped."""
        self._before_stopping.setdefault(name, []).append(fn)

    @defer.inlineCallbacks
    def _build(self, steps):
        for name, step in steps:
            if name in self.parts:
                continue
            if self.role != "calls" and name not in WEB_STEPS:
                self.parts[name] = Part(name, None)
                continue
            part = yield defer.maybeDeferred(step, self)
            assert part.name == name, f"step {name!r} built part {part.name!r}"
            self.parts[name] = part

    @defer.inlineCallbacks
    def open(self):
        """The database (migrated or checked) and the work-order service."""
        yield self._build(FOUNDATION)
        return self

    @defer.inlineCallbacks
    def start(self):
        """Build every service, then start them in order; on failure stop what started."""
        yield self.open()
        try:
            yield self._build(SERVICES)
            for part in self.parts.values():
                if part.start is not None:
                    yield defer.maybeDeferred(part.start)
                self._started.append(part)
        except Exception:
            yield self.stop()
            raise
        log.info("hotline serving", extra={"fields": {
            "role": self.role, "web": f"{self.config.get('web.host')}:{self.web_port.getHost().port}",
            "ami": f"{self.config.get('ami.host')}:{self.config.get('ami.port')}",
            "speech": self.speech.model.name if self.speech else None}})
        return self

    @defer.inlineCallbacks
    def stop(self):
        """Stop taking work, let in-flight work finish, then close connections (reverse start order)."""
        started = {p.name for p in self._started}
        for part in reversed(list(self.parts.values())):
            for fn in self._before_stopping.pop(part.name, ()):
                yield defer.maybeDeferred(fn)
            # a part with no start of its own is live once built (the database, a listening speech port)
            if part.stop is None or (part.start is not None and part.name not in started):
                continue
            try:
                yield defer.maybeDeferred(part.stop)
            except Exception:
                log.exception("stopping a service failed", extra={"fields": {"service": part.name}})
        self._started.clear()
        self.parts.clear()
