"""The webhook notification hook against a real local HTTP server, and the callback figures on the
shared Prometheus registry computed from the database."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
import pytest_twisted
from twisted.internet import defer
from twisted.web import resource, server

from callcenter.callbacks import jobs
from callcenter.callbacks.metrics import refresh
from callcenter.callbacks.notify import WebhookDelivery, WebhookNotifier
from callcenter.metrics import REGISTRY
from tests.callbacks.helpers import CALENDAR, MONDAY, replied_order, world
from ticketing.callbacks.policy import CallbackPolicy
from ticketing.domain.errors import ValidationFailed


class Receiver(resource.Resource):
    isLeaf = True

    def __init__(self, status=200):
        super().__init__()
        self.status = status
        self.bodies: list[dict] = []
        self.headers: list = []
        self.keys: list = []
        self.arrived = defer.Deferred()

    def render_POST(self, request):
        self.bodies.append(json.loads(request.content.read()))
        self.headers.append(request.getHeader(b"authorization"))
        self.keys.append(request.getHeader(b"idempotency-key"))
        request.setResponseCode(self.status)
        if not self.arrived.called:
            self.arrived.callback(None)
        return b"{}"


@pytest_twisted.inlineCallbacks
def test_webhook_post_carries_token_and_idempotency_key():
    """One POST sends the JSON payload with the bearer token and the event id as Idempotency-Key;
    a 500 is a failure worth retrying, a 404 one that is not — neither raises."""
    from twisted.internet import reactor

    ok, broken, missing = Receiver(), Receiver(status=500), Receiver(status=404)
    ports = [reactor.listenTCP(0, server.Site(r), interface="127.0.0.1") for r in (ok, broken, missing)]
    try:
        url = lambda p: f"http://127.0.0.1:{p.getHost().port}/hook"  # noqa: E731
        hook = WebhookNotifier(url(ports[0]), reactor=reactor, token="s3cret")
        outcome = yield hook.post({"event": "callback.unreachable", "number": "2026112300001"}, "abc123")
        assert outcome.ok
        assert ok.bodies == [{"event": "callback.unreachable", "number": "2026112300001"}]
        assert ok.headers == [b"Bearer s3cret"] and ok.keys == [b"abc123"]
        outcome = yield WebhookNotifier(url(ports[1]), reactor=reactor).post({"event": "x"}, "k1")
        assert (outcome.ok, outcome.retry, outcome.error) == (False, True, "HTTP 500")
        outcome = yield WebhookNotifier(url(ports[2]), reactor=reactor).post({"event": "x"}, "k2")
        assert (outcome.ok, outcome.retry) == (False, False)
        outcome = yield hook.post({"event": "x"}, "bad\r\nX-Injected: 1")
        assert not outcome.ok and len(ok.bodies) == 1       # never sent: the key is not a header value
        for bad in ("ftp://x/hook", "http://x/\r\nX: y", ""):
            with pytest.raises(ValidationFailed):
                WebhookNotifier(bad, reactor=reactor)
    finally:
        for p in ports:
            yield p.stopListening()


def test_metrics_per_department_and_category(db_url):
    """One satisfied, one dissatisfied, one unreachable callback of urban-management: reachability 2/3,
    callback rate 2/3, satisfaction 1/2 for street-vending, reopen rate 1/2 — on the shared registry."""
    engine, service, recorder, notes = world(db_url)
    policy = CallbackPolicy(max_attempts=1)
    try:
        for phone in ("13800000011", "13800000012", "13800000013"):
            replied_order(service, caller_phone=phone)
        jobs.schedule_replied(engine, MONDAY, policy, CALENDAR)
        a, b, c = jobs.claim_due(engine, MONDAY + timedelta(days=1), "w")
        recorder.survey_answer(a["callback_id"], "satisfied", MONDAY + timedelta(days=1))
        recorder.survey_answer(b["callback_id"], "dissatisfied", MONDAY + timedelta(days=1))
        assert jobs.attempt_failed(engine, c["callback_id"], 3, MONDAY + timedelta(days=1), policy,
                                   CALENDAR)["state"] == "unreachable"
        data = refresh(engine)
        assert data["states"] == {"done": 2, "unreachable": 1}
        value = lambda name, **labels: REGISTRY.get_sample_value(name, labels)  # noqa: E731
        assert value("hotline_callback_reachability_ratio", department="urban-management") == pytest.approx(2 / 3)
        assert value("hotline_callback_rate_ratio", department="urban-management") == pytest.approx(2 / 3)
        assert value("hotline_callback_satisfaction_ratio", department="urban-management",
                     category="street-vending") == 0.5
        assert value("hotline_callback_reopen_ratio", department="urban-management") == 0.5
        assert value("hotline_callback_jobs", state="unreachable") == 1
    finally:
        engine.dispose()


def test_build_callbacks_from_config(tmp_path, db_url):
    """[callbacks] settings reach the worker (policy, dial string, lease) and a webhook URL makes the
    notifier; an invalid URL is refused with a clear error."""
    from twisted.internet import reactor

    from callcenter.callbacks.service import build_satisfaction_callbacks
    from callcenter.config import load_config

    engine, service, recorder, notes = world(db_url)
    try:
        path = tmp_path / "cc.toml"
        path.write_text('[callbacks]\nmax_attempts = 2\nlease = 60.0\ndial_string = "PJSIP/{number}@trunk"\n'
                        'webhook_url = "http://127.0.0.1:9/hook"\n', encoding="utf-8")
        worker, hook = build_satisfaction_callbacks(load_config(str(path)), engine=engine, workorders=service, ami=None,
                                       reactor=reactor, pool=reactor.getThreadPool())
        assert worker.policy.max_attempts == 2 and worker.lease == 60.0
        assert worker.dial_string == "PJSIP/{number}@trunk"
        assert worker.recorder.outbox and hook.recorder is worker.recorder
        assert isinstance(worker.webhooks, WebhookDelivery) and worker.webhooks.notifier.url == "http://127.0.0.1:9/hook"
        path.write_text('[callbacks]\nwebhook_url = "file:///etc/passwd"\n', encoding="utf-8")
        with pytest.raises(ValidationFailed):
            build_satisfaction_callbacks(load_config(str(path)), engine=engine, workorders=service, ami=None,
                            reactor=reactor, pool=reactor.getThreadPool())
    finally:
        engine.dispose()
