"""The webhook outbox on SQLite and PostgreSQL against a real local HTTP receiver: notifications are
written in the transaction of the change, delivered with exponential backoff on an injected clock,
dead after the last attempt, and a worker that dies mid-delivery costs the receiver no second event."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
import pytest_twisted
from sqlalchemy import select
from twisted.internet import defer, task, threads
from twisted.python.threadpool import ThreadPool
from twisted.web import resource, server

from callcenter.callbacks import jobs, outbox
from callcenter.callbacks.jobs import ResultRecorder
from callcenter.callbacks.metrics import refresh
from callcenter.callbacks.notify import WebhookDelivery, WebhookNotifier
from callcenter.callbacks.tables import callback_webhooks
from callcenter.clock import now_from
from callcenter.metrics import REGISTRY
from tests.callbacks.helpers import CALENDAR, DISPATCHER, MONDAY, SYSTEM, replied_order, world
from ticketing.callbacks.policy import CallbackPolicy
from ticketing.domain.errors import UnknownDepartment

TUESDAY_9 = MONDAY + timedelta(days=1, hours=-1)
POLICY = CallbackPolicy()


class FlakyReceiver(resource.Resource):
    """A webhook receiver that answers ``fail_status`` to the first ``failures`` requests and, when
    ``hold`` is set, keeps the next request open until the test releases it.  It counts deliveries
    the way an idempotent receiver does: by Idempotency-Key."""

    isLeaf = True

    def __init__(self, failures=0, fail_status=500, hold=False):
        super().__init__()
        self.failures = failures
        self.fail_status = fail_status
        self.hold = hold
        self.requests: list[tuple[bytes, dict]] = []
        self.accepted: dict[bytes, dict] = {}
        self.held: list = []
        self.arrived = defer.Deferred()

    def render_POST(self, request):
        key = request.getHeader(b"idempotency-key")
        body = json.loads(request.content.read())
        self.requests.append((key, body))
        if not self.arrived.called:
            self.arrived.callback(None)
        if len(self.requests) <= self.failures:
            request.setResponseCode(self.fail_status)
            return b"{}"
        self.accepted.setdefault(key, body)          # a replayed key is the same event
        if self.hold:
            self.hold = False
            self.held.append(request)
            return server.NOT_DONE_YET
        return b"{}"

    def release(self):
        for request in self.held:
            request.write(b"{}")
            request.finish()


@pytest.fixture
def rig(db_url):
    engine, service, _, notes = world(db_url)
    recorder = ResultRecorder(engine, service, SYSTEM, notify=notes, outbox=True)
    yield engine, service, recorder, notes
    engine.dispose()


def rows(engine):
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(callback_webhooks).order_by(callback_webhooks.c.id))]


def dissatisfied(engine, service, recorder, now=TUESDAY_9):
    """A replied order whose citizen presses 3: reopened → one 'reopened' notification."""
    number = replied_order(service)
    jobs.schedule_replied(engine, MONDAY, POLICY, CALENDAR)
    (job,) = jobs.claim_due(engine, now, "w1")
    assert recorder.survey_answer(job["callback_id"], "dissatisfied", now)["state"] == "done"
    return number


def delivery(engine, url, clock, reactor, pool=None, **attrs):
    worker = WebhookDelivery(engine, WebhookNotifier(url, reactor=reactor), clock=clock, reactor=reactor,
                             pool=pool or reactor.getThreadPool())
    for key, value in attrs.items():
        setattr(worker, key, value)
    return worker


def clock_at(instant):
    clock = task.Clock()
    clock.advance(instant.timestamp())
    return clock


def test_notification_is_written_with_the_change(rig):
    """A dissatisfied answer stores its 'reopened' notification (event id, payload) with the order's
    change; when the change fails halfway (re-dispatch to an unknown department) nothing is kept —
    neither the job's result, nor the order's, nor the notification."""
    engine, service, recorder, notes = rig
    number = dissatisfied(engine, service, recorder)
    (row,) = rows(engine)
    assert row["kind"] == "reopened" and row["state"] == "pending" and row["attempts"] == 0
    assert row["payload"] == {"event": "callback.reopened", "event_id": row["event_id"], "number": number,
                              "department": "urban-management", "count": 1}
    assert [k for k, _ in notes.sent] == ["reopened"]            # the in-process hook, after the commit

    broken = ResultRecorder(engine, service, SYSTEM, outbox=True, choose_department=lambda order: "no-such-dept")
    other = replied_order(service, caller_phone="13900000005")
    jobs.schedule_replied(engine, MONDAY, POLICY, CALENDAR)
    (job,) = jobs.claim_due(engine, TUESDAY_9, "w1")
    with pytest.raises(UnknownDepartment):
        broken.survey_answer(job["callback_id"], "dissatisfied", TUESDAY_9)
    assert jobs.get_job(engine, job["id"])["state"] == "dialing"
    order = service.get(other, DISPATCHER)
    assert order["status"] == "replied" and order["satisfaction"] is None
    assert len(rows(engine)) == 1
    # the answer can still be recorded once the cause is fixed
    assert recorder.survey_answer(job["callback_id"], "dissatisfied", TUESDAY_9)["state"] == "done"
    assert [r["payload"]["number"] for r in rows(engine)] == [number, other]


def test_unreachable_records_order_and_notification_together(rig):
    """The last failed attempt marks the job unreachable, records 回访未接通 on the order and stores
    the 'unreachable' notification in one step; a repeat of the same failure changes nothing."""
    engine, service, recorder, notes = rig
    policy = CallbackPolicy(max_attempts=1)
    number = replied_order(service)
    jobs.schedule_replied(engine, MONDAY, policy, CALENDAR)
    (job,) = jobs.claim_due(engine, TUESDAY_9, "w1")
    assert recorder.attempt_failed(job["callback_id"], 3, TUESDAY_9, policy, CALENDAR)["state"] == "unreachable"
    assert recorder.attempt_failed(job["callback_id"], 3, TUESDAY_9, policy, CALENDAR) is None
    assert service.get(number, DISPATCHER)["status"] == "callback_pending"
    (row,) = rows(engine)
    assert row["kind"] == "unreachable" and row["payload"]["attempts"] == 1 and row["payload"]["last_reason"] == 3


@pytest_twisted.inlineCallbacks
def test_failing_receiver_gets_the_event_exactly_once_after_backoff(rig):
    """The receiver fails twice (HTTP 500): the row is retried after base, then 2×base seconds of the
    injected clock (not before), delivered on the third attempt, and never posted again."""
    from twisted.internet import reactor

    engine, service, recorder, notes = rig
    yield threads.deferToThread(dissatisfied, engine, service, recorder)
    receiver = FlakyReceiver(failures=2)
    port = reactor.listenTCP(0, server.Site(receiver), interface="127.0.0.1")
    try:
        clock = clock_at(TUESDAY_9)
        worker = delivery(engine, f"http://127.0.0.1:{port.getHost().port}/hook", clock, reactor, base=30.0)
        yield worker.tick()
        (row,) = yield threads.deferToThread(rows, engine)
        assert (row["state"], row["attempts"], row["last_error"]) == ("pending", 1, "HTTP 500")
        assert row["next_at"] == TUESDAY_9 + timedelta(seconds=30)
        clock.advance(29)
        yield worker.tick()                                   # not due yet: nothing posted
        assert len(receiver.requests) == 1
        clock.advance(1)
        yield worker.tick()
        (row,) = yield threads.deferToThread(rows, engine)
        assert row["attempts"] == 2 and row["next_at"] == TUESDAY_9 + timedelta(seconds=30 + 60)
        clock.advance(60)
        yield worker.tick()
        clock.advance(3600)
        yield worker.tick()
        (row,) = yield threads.deferToThread(rows, engine)
        assert (row["state"], row["attempts"], row["last_error"]) == ("delivered", 3, None)
        assert len(receiver.requests) == 3 and len({k for k, _ in receiver.requests}) == 1
        assert list(receiver.accepted) == [row["event_id"].encode()]
        assert receiver.accepted[row["event_id"].encode()]["event"] == "callback.reopened"
        # a delivered row is forgotten once keep_delivered has passed, at the next prune
        worker.prune_every = 1
        clock.advance(worker.keep_delivered - 3600 - 1)
        yield worker.tick()
        assert len((yield threads.deferToThread(rows, engine))) == 1
        clock.advance(2)
        yield worker.tick()
        assert (yield threads.deferToThread(rows, engine)) == []
    finally:
        yield port.stopListening()


@pytest_twisted.inlineCallbacks
def test_dead_after_the_last_attempt_then_sent_again(rig):
    """A receiver that keeps failing: after max_attempts the row is dead, hotline_webhook_dead_total
    goes up by one and the outbox gauge shows it; a supervisor's requeue delivers it (same event id)
    once the receiver works again.  A 4xx answer is dead at once."""
    from twisted.internet import reactor

    engine, service, recorder, notes = rig
    yield threads.deferToThread(dissatisfied, engine, service, recorder)
    receiver = FlakyReceiver(failures=3, fail_status=503)
    port = reactor.listenTCP(0, server.Site(receiver), interface="127.0.0.1")
    try:
        clock = clock_at(TUESDAY_9)
        worker = delivery(engine, f"http://127.0.0.1:{port.getHost().port}/hook", clock, reactor,
                          base=10.0, max_attempts=3)
        dead_before = REGISTRY.get_sample_value("hotline_webhook_dead_total") or 0.0
        for _ in range(5):
            yield worker.tick()
            clock.advance(3600)
        (row,) = yield threads.deferToThread(rows, engine)
        assert (row["state"], row["attempts"], row["last_error"]) == ("dead", 3, "HTTP 503")
        assert len(receiver.requests) == 3
        assert REGISTRY.get_sample_value("hotline_webhook_dead_total") == dead_before + 1
        yield threads.deferToThread(refresh, engine)
        assert REGISTRY.get_sample_value("hotline_webhook_outbox", {"state": "dead"}) == 1
        again = yield threads.deferToThread(outbox.requeue, engine, row["id"], now_from(clock))
        assert again["state"] == "pending" and again["attempts"] == 0
        with pytest.raises(jobs.CallbackConflict):
            yield threads.deferToThread(outbox.requeue, engine, row["id"], TUESDAY_9)
        yield worker.tick()
        (row,) = yield threads.deferToThread(rows, engine)
        assert row["state"] == "delivered" and list(receiver.accepted) == [row["event_id"].encode()]
    finally:
        yield port.stopListening()
    gone = FlakyReceiver(failures=1, fail_status=404)
    port = reactor.listenTCP(0, server.Site(gone), interface="127.0.0.1")
    try:
        yield threads.deferToThread(dissatisfied, engine, service, recorder)
        worker = delivery(engine, f"http://127.0.0.1:{port.getHost().port}/hook", clock, reactor)
        yield worker.tick()
        states = [(r["state"], r["attempts"]) for r in (yield threads.deferToThread(rows, engine))]
        assert states == [("delivered", 1), ("dead", 1)] and len(gone.requests) == 1
        assert REGISTRY.get_sample_value("hotline_webhook_dead_total") == dead_before + 2
    finally:
        yield port.stopListening()


@pytest_twisted.inlineCallbacks
def test_worker_dropped_mid_delivery_fresh_worker_delivers_once(rig):
    """A worker posts, the receiver takes the event, and the worker dies before it can record that
    (its thread pool is gone, as when the process is killed).  A fresh worker leaves the row alone
    while the first one's lease runs, then posts it again with the same Idempotency-Key: the
    receiver counts exactly one delivery and the row ends delivered."""
    from twisted.internet import reactor

    engine, service, recorder, notes = rig
    yield threads.deferToThread(dissatisfied, engine, service, recorder)
    receiver = FlakyReceiver(hold=True)
    port = reactor.listenTCP(0, server.Site(receiver), interface="127.0.0.1")
    doomed_pool = ThreadPool(1, 1, name="doomed-webhooks")
    doomed_pool.start()
    try:
        url = f"http://127.0.0.1:{port.getHost().port}/hook"
        clock = clock_at(TUESDAY_9)
        first = delivery(engine, url, clock, reactor, pool=doomed_pool, worker_id="first")
        first.tick()
        yield receiver.arrived
        doomed_pool.stop()                                     # the first worker can no longer write
        receiver.release()                                     # …so the 200 it gets is never recorded
        fresh = delivery(engine, url, clock, reactor, worker_id="fresh")
        clock.advance(fresh.lease - 1)
        yield fresh.tick()                                     # the first may still be posting: wait
        (row,) = yield threads.deferToThread(rows, engine)
        assert (row["state"], row["claimed_by"]) == ("sending", "first") and len(receiver.requests) == 1
        clock.advance(1)
        yield fresh.tick()
        (row,) = yield threads.deferToThread(rows, engine)
        assert (row["state"], row["attempts"]) == ("delivered", 2)
        assert len(receiver.requests) == 2 and len(receiver.accepted) == 1
        assert list(receiver.accepted) == [row["event_id"].encode()]
        clock.advance(3600)
        yield fresh.tick()
        assert len(receiver.requests) == 2
    finally:
        yield port.stopListening()


def test_postgresql_outbox_claim_skips_locked_rows(pg_url):
    """PostgreSQL: while another delivery worker holds one row locked, a claim takes the other at once
    (the feature's one SKIP LOCKED helper) instead of waiting or posting the same row twice."""
    engine, service, _, notes = world(pg_url)
    try:
        with engine.begin() as conn:
            ids = [outbox.enqueue(conn, "unreachable", {"number": n}, MONDAY) for n in ("A", "B")]
        with engine.connect() as other:
            tx = other.begin()
            other.execute(select(callback_webhooks.c.id).where(callback_webhooks.c.event_id == ids[0])
                          .with_for_update())
            claimed, dead = outbox.claim_due(engine, MONDAY, "w2", limit=10, lease=120, max_attempts=3)
            tx.rollback()
        assert [r["event_id"] for r in claimed] == [ids[1]] and dead == 0
        claimed, _ = outbox.claim_due(engine, MONDAY, "w1", limit=10, lease=120, max_attempts=3)
        assert [r["event_id"] for r in claimed] == [ids[0]]
    finally:
        engine.dispose()
