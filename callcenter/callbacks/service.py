"""Wiring for ``serve``/``demo``: the callback worker and the survey hook from ``[callbacks]``."""
from __future__ import annotations

from ticketing.callbacks.policy import CallbackPolicy


def build_satisfaction_callbacks(config, *, engine, workorders, ami, reactor, pool, transcriptions=None):
    """``(worker, survey_hook)``: start ``worker`` (a Twisted service) and pass
    ``survey_hook.on_outcome`` to the IVR runner as its ``on_outcome``; ``transcriptions`` (an
    ASR ``TranscriptionQueue``) gets the citizens' recorded comments."""
    from callcenter.callbacks.jobs import ResultRecorder
    from callcenter.callbacks.notify import WebhookDelivery, WebhookNotifier
    from callcenter.callbacks.worker import SatisfactionCallbackWorker, SurveyHook
    from ticketing.service import Actor

    section = config.section("callbacks")
    policy = CallbackPolicy.from_config(section)
    notifier = None
    if section.get("webhook_url"):
        # ``reactor`` may be a scaled clock (the demo); HTTP needs the real reactor
        http = reactor if hasattr(reactor, "connectTCP") else _global_reactor()
        notifier = WebhookNotifier(section["webhook_url"], reactor=http, token=section.get("webhook_token") or None)
    recorder = ResultRecorder(engine, workorders, Actor("system:callbacks", "dispatcher"), outbox=notifier is not None)
    from callcenter.failover.callbacks import pbx_scope

    worker = SatisfactionCallbackWorker(engine, ami, recorder, workorders.calendar, reactor=reactor, pool=pool,
                                        policy=policy, dial_string=section.get("dial_string") or None,
                                        scope=pbx_scope(config))
    if notifier is not None:
        worker.webhooks = WebhookDelivery(engine, notifier, clock=reactor, reactor=notifier.reactor, pool=pool)
    for key in ("interval", "lease", "ring_timeout"):
        if section.get(key) is not None:
            setattr(worker, key, float(section[key]))
    if section.get("caller_id"):
        worker.caller_id = str(section["caller_id"])
    return worker, SurveyHook(recorder, reactor=reactor, pool=pool, transcriptions=transcriptions)


def _global_reactor():
    from twisted.internet import reactor

    return reactor
