"""`callcenter serve`: the production process against a real Asterisk.

:class:`Hotline` builds the same services the demo runs — AMI client (with
reconnects), IVR runner, ACD with its store and metrics, SLA worker, callback worker,
transcription worker and live speech when a model is installed, the web
UI/API/metrics — on the configured database, and stops them in order.
It refuses to start when the database schema is behind the migrations:
a service on an old schema would corrupt work orders.
"""
from __future__ import annotations

import logging

from twisted.internet import defer

log = logging.getLogger(__name__)


class SchemaBehind(Exception):
    """The database lacks migrations this code needs."""

    error_id = "serve.schema_behind"

    def __init__(self, missing: list[str]):
        self.missing = missing
        super().__init__(
            "数据库结构落后于当前版本，请先运行 `callcenter db upgrade` / the database schema is behind this "
            f"version's migrations ({len(missing)} missing: {', '.join(missing[:5])}); run `callcenter db upgrade`")


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


class Hotline:
    """Every service of one production process; ``start()`` then ``stop()``."""

    def __init__(self, reactor, config):
        self.reactor = reactor
        self.config = config
        self.speech = None
        self.transcriber = None

    @defer.inlineCallbacks
    def start(self):
        from twisted.internet.threads import deferToThread

        from callcenter.ami.client import AMIClient
        from callcenter.asr.jobs import TranscriptionQueue
        from callcenter.bootstrap import build_web, make_site
        from callcenter.calls import CallTracker
        from callcenter.db import default_url, make_engine
        from callcenter.livecalls import attach as attach_live_calls
        from callcenter.routing.acd import controller_from_config
        from callcenter.routing.metrics import register_metrics
        from callcenter.routing.store import RoutingStore
        from ivr.services import build_runner
        from ticketing.service import WorkOrderService
        from ticketing.sla_worker import SlaWorker

        reactor, config = self.reactor, self.config
        self.engine = engine = make_engine(default_url(config))
        missing = yield deferToThread(missing_migrations, engine)
        if missing:
            raise SchemaBehind(missing)
        self.service = yield deferToThread(WorkOrderService.from_config, config, engine)
        # the one "what is this call doing" of the process: fed and resynced by the AMI client
        self.tracker = CallTracker()
        self.ami = AMIClient.from_config(config, reactor, tracker=self.tracker)
        self.acd = controller_from_config(config, self.ami, reactor, store=RoutingStore(engine), calendar=self.service.calendar)
        register_metrics(self.acd)
        from callcenter.callbacks.rating import RatingHook, acd_lookup, outcome_hooks
        from callcenter.callbacks.service import build_callbacks

        pool = reactor.getThreadPool()
        self.callbacks, survey = build_callbacks(config, engine=engine, workorders=self.service, ami=self.ami,
                                                 reactor=reactor, pool=pool, transcriptions=TranscriptionQueue(engine))
        ratings = RatingHook(engine, reactor=reactor, pool=pool, agent_of=acd_lookup(self.acd))
        self.runner = build_runner(config, self.ami, reactor, service=self.service,
                                   calendar=self.service.calendar, acd=self.acd, db_engine=engine,
                                   on_outcome=outcome_hooks(survey.on_outcome, ratings.on_outcome))
        self.ami.start()
        self.runner.start()
        self.acd.startService()
        self.sla = SlaWorker.from_config(config, reactor, engine, self.service, reactor.getThreadPool(),
                                         reactor=reactor)
        self.sla.startService()
        self.callbacks.startService()
        queue = TranscriptionQueue(engine)
        from callcenter.asr.service import start_speech
        from callcenter.demo.speech import SpeechFanout

        # live transcripts go to the agent desk (it asks Asterisk to stream the caller) and are stored
        self.fanout = SpeechFanout(reactor, queue)
        self.speech = yield start_speech(reactor, config, self.fanout)
        if self.speech is not None:
            from callcenter.asr.jobs import TranscriptionWorker

            self.transcriber = TranscriptionWorker(reactor, queue, self.speech.model, self.speech.pool,
                                                   worker_id=f"serve-{id(self):x}")
            self.transcriber.start()
        from ticketing.intake.service import IntakeService

        self.web_root = build_web(config, reactor, engine=engine, workorders=self.service, acd=self.acd)
        attach_live_calls(self.web_root, self.tracker, clock=reactor)
        self.web_root.deps.extras["caller_screen"] = self.runner.caller_screen
        self.web_root.deps.extras["intake"] = IntakeService.from_config(reactor, reactor.getThreadPool(), config,
                                                                     taxonomy=self.service.taxonomy, engine=engine)
        deps = self.web_root.deps
        self.fanout.listeners.append(lambda: deps.extras.get("desk"))
        self.web_port = reactor.listenTCP(int(config.get("web.port")), make_site(self.web_root, config, reactor),
                                          interface=config.get("web.host") or "127.0.0.1")
        log.info("hotline serving", extra={"fields": {
            "web": f"{config.get('web.host')}:{self.web_port.getHost().port}",
            "ami": f"{config.get('ami.host')}:{config.get('ami.port')}",
            "speech": self.speech.model.name if self.speech else None}})
        return self

    @defer.inlineCallbacks
    def stop(self):
        """Stop taking work, let in-flight work finish, then close connections."""
        from callcenter.bootstrap import close_web

        yield self.web_port.stopListening()
        if self.transcriber is not None:
            self.transcriber.stop()
        yield self.callbacks.stopService()
        yield self.sla.stopService()
        yield self.acd.stopService()
        self.runner.stop()
        yield self.ami.stop()
        if self.speech is not None:
            yield self.speech.stop()
        close_web(self.web_root)
        self.engine.dispose()
