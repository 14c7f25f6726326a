"""End to end over TCP: the PBX simulator runs the hotline dialplan, the callback worker dials the
citizen over its own AMI connection, the IVR runner (another AMI connection) plays the survey flow,
and the answer lands on the real work order in the migrated database."""
from __future__ import annotations

from datetime import timedelta

import pytest
import pytest_twisted
from twisted.internet import defer, threads

from callcenter.ami.client import AMIClient
from callcenter.callbacks import jobs
from callcenter.callbacks.worker import SatisfactionCallbackWorker, SurveyHook
from callcenter.pbxsim.simulator import PBXSimulator
from ivr.library import FlowLibrary
from ivr.runner import IvrRunner
from ivr.services import WorkOrderDesk
from ivr.tts import TextToSpeech
from tests.callbacks.helpers import CALENDAR, DISPATCHER, MONDAY, replied_order, world
from ticketing.callbacks.policy import CallbackPolicy

TUESDAY_9 = MONDAY + timedelta(days=1, hours=-1)  # 09:00 next working day: normal orders are due


class FakeNow:
    def __init__(self, at):
        self.at = at

    def __call__(self):
        return self.at


@pytest.fixture(autouse=True)
def _sounds(pbx_sounds):
    """The hotline's sounds where the simulator's Asterisk looks (tmp_path/asterisk-sounds/hotline)."""
    return pbx_sounds


class Rig:
    """Simulator + IVR runner + callback worker wired as the service does."""

    @classmethod
    @defer.inlineCallbacks
    def create(cls, tmp_path, db_url, *, policy=None):
        from twisted.internet import reactor

        self = cls()
        self.reactor = reactor
        self.pool = reactor.getThreadPool()
        self.engine, self.service, self.recorder, self.notes = world(db_url)
        self.now = FakeNow(TUESDAY_9)
        self.policy = policy or CallbackPolicy()
        self.sim = PBXSimulator(reactor, speed=2.5, spool_dir=tmp_path / "spool",
                                sounds_dir=tmp_path / "asterisk-sounds")
        self.port = yield self.sim.listen(0)
        self.ivr_ami = yield self.connect()
        self.finished = []
        desk = WorkOrderDesk(self.service, reactor, run_blocking=lambda fn, *a: threads.deferToThread(fn, *a),
                             message_category="community-service", message_district="haishu")
        self.hook = SurveyHook(self.recorder, reactor=reactor, pool=self.pool, now=self.now)
        self.runner = IvrRunner(
            self.ivr_ami, FlowLibrary(), clock=reactor, sounds_dir=tmp_path / "asterisk-sounds" / "hotline",
            recordings_dir=tmp_path / "recordings", is_open=lambda now: True, lookup=desk.lookup,
            on_outcome=self.hook.on_outcome, on_finished=self.finished.append, tts=TextToSpeech(),
            run_blocking=lambda fn, *a: threads.deferToThread(fn, *a))
        self.runner.start()
        self.worker_ami = yield self.connect()
        self.worker = self.new_worker(self.worker_ami)
        return self

    @defer.inlineCallbacks
    def connect(self):
        from twisted.internet.endpoints import TCP4ClientEndpoint

        endpoint = TCP4ClientEndpoint(self.reactor, "127.0.0.1", self.port.getHost().port)
        client = AMIClient(endpoint, "hotline", "hotline-secret", clock=self.reactor, resync=False,
                           ping_interval=None)
        client.start()
        yield client.when_connected()
        return client

    def new_worker(self, ami):
        worker = SatisfactionCallbackWorker(self.engine, ami, self.recorder, CALENDAR, reactor=self.reactor,
                                            pool=self.pool, policy=self.policy, now=self.now)
        worker.ring_timeout = 2.0
        return worker

    def calls_to(self, number):
        """Originated calls to ``number`` (a Local channel pair counts once, by its ;1 half)."""
        return [c for c in self.sim.created_channels
                if c.startswith(f"Local/{number}@hotline-pstn") and c.endswith(";1")]

    def job(self, number):
        return [j for j in jobs.list_jobs(self.engine, states=jobs.STATES) if j["order_number"] == number]

    @defer.inlineCallbacks
    def until(self, predicate, timeout=30.0):
        """Poll the database off the reactor thread until ``predicate()`` holds."""
        for _ in range(int(timeout / 0.1)):
            if (yield threads.deferToThread(predicate)):
                return
            yield task_sleep(self.reactor, 0.1)
        raise AssertionError("condition not reached in time")

    @defer.inlineCallbacks
    def close(self):
        self.runner.stop()
        for ch in list(self.sim.channels.values()):
            if not ch.hungup:
                self.sim.hangup(ch, 16)
        for client in (self.ivr_ami, self.worker_ami):
            yield client.stop()
        yield self.port.stopListening()
        self.engine.dispose()


def task_sleep(reactor, seconds):
    from twisted.internet import task

    return task.deferLater(reactor, seconds, lambda: None)


@pytest_twisted.inlineCallbacks
def test_reply_callback_dissatisfied_reopens_and_redispatches(tmp_path, db_url):
    """Reply → job scheduled for the next working morning → Originate into hotline-survey → the citizen
    presses 3 → the order is reopened (重办), re-dispatched to its department and supervisors are told."""
    rig = yield Rig.create(tmp_path, db_url)
    try:
        number = yield threads.deferToThread(replied_order, rig.service)
        rig.sim.add_pstn("13800000001", "answer", answer_after=0.5, digits="3", digit_after=5.0)
        rig.now.at = MONDAY + timedelta(hours=2)          # same afternoon: a normal order is not called yet
        yield rig.worker.tick()
        (job,) = rig.job(number)
        assert job["state"] == "scheduled" and job["due_at"] == TUESDAY_9 - timedelta(hours=1)
        assert rig.calls_to("13800000001") == []
        rig.now.at = TUESDAY_9
        yield rig.worker.tick()
        yield rig.until(lambda: rig.job(number)[0]["state"] == "done")
        order = yield threads.deferToThread(rig.service.get, number, DISPATCHER)
        assert order["status"] == "dispatched" and order["reopen_count"] == 1 and order["satisfaction"] == 1
        assert order["department"] == "urban-management"
        actions = [h["action"] for h in (yield threads.deferToThread(rig.service.history, number, DISPATCHER))]
        assert actions[-2:] == ["callback-result", "dispatch"] and actions.count("callback-result") == 1
        assert len(rig.calls_to("13800000001")) == 1
        assert [k for k, _ in rig.notes.sent] == ["reopened"]
        assert rig.job(number)[0]["result"] == "dissatisfied"
    finally:
        yield rig.close()


@pytest_twisted.inlineCallbacks
def test_no_answer_retries_then_unreachable(tmp_path, db_url):
    """A phone that never answers (reason 3) is tried max_attempts times at spaced times inside calling
    hours; after the last the order records 'unreachable' (回访未接通) and the hook is notified."""
    rig = yield Rig.create(tmp_path, db_url, policy=CallbackPolicy(max_attempts=3, retry_spacing=(1800.0,)))
    try:
        number = yield threads.deferToThread(replied_order, rig.service)
        rig.sim.add_pstn("13800000001", "noanswer")
        reasons = []
        for attempt in (1, 2, 3):
            yield rig.worker.tick()
            yield rig.until(lambda: rig.job(number)[0]["state"] != "dialing")
            job = rig.job(number)[0]
            reasons.append(job["last_reason"])
            assert job["attempts"] == attempt
            if attempt < 3:
                assert job["state"] == "scheduled" and job["due_at"] == rig.now.at + timedelta(minutes=30)
                yield rig.worker.tick()                     # not due yet: nothing dialled
                assert len(rig.calls_to("13800000001")) == attempt
                rig.now.at = job["due_at"]
        assert reasons == [3, 3, 3] and job["state"] == "unreachable"
        order = yield threads.deferToThread(rig.service.get, number, DISPATCHER)
        assert order["status"] == "callback_pending"
        assert [k for k, _ in rig.notes.sent] == ["unreachable"] and rig.notes.sent[0][1]["attempts"] == 3
        yield rig.worker.tick()
        assert len(rig.calls_to("13800000001")) == 3
    finally:
        yield rig.close()


@pytest_twisted.inlineCallbacks
def test_worker_killed_between_originate_and_result(tmp_path, db_url):
    """The worker's AMI connection drops right after the Originate is answered; a fresh worker on the
    same database ticks while the survey runs and after it: exactly one call, one recorded result."""
    rig = yield Rig.create(tmp_path, db_url)
    try:
        number = yield threads.deferToThread(replied_order, rig.service)
        rig.sim.add_pstn("13800000001", "answer", answer_after=0.5, digits="1", digit_after=5.0)
        yield rig.worker.tick()
        assert len(rig.calls_to("13800000001")) == 1
        yield rig.worker_ami.stop()                          # the first worker is gone mid-call
        rig.worker_ami = yield rig.connect()
        fresh = rig.new_worker(rig.worker_ami)
        yield fresh.tick()                                   # the call is still on: nothing redialled
        assert rig.job(number)[0]["state"] == "dialing"
        yield rig.until(lambda: rig.job(number)[0]["state"] == "done")
        rig.now.at += timedelta(hours=1)                     # well past any lease
        yield fresh.tick()
        assert len(rig.calls_to("13800000001")) == 1
        order = yield threads.deferToThread(rig.service.get, number, DISPATCHER)
        assert order["status"] == "closed" and order["satisfaction"] == 5
        actions = [h["action"] for h in (yield threads.deferToThread(rig.service.history, number, DISPATCHER))]
        assert actions.count("callback-result") == 1
        # the same answer delivered again (a replayed AGI event) changes nothing
        assert (yield threads.deferToThread(rig.recorder.survey_answer, f"{rig.job(number)[0]['id']}-1",
                                            "dissatisfied", rig.now())) is None
        assert (yield threads.deferToThread(rig.service.get, number, DISPATCHER))["status"] == "closed"
    finally:
        yield rig.close()


@pytest_twisted.inlineCallbacks
def test_running_service_dials_and_stops_cleanly(tmp_path, db_url):
    """Started as a Twisted service, the worker's own loop schedules, dials and records (press 1 →
    closed); stopService waits for its work and leaves nothing dialing."""
    rig = yield Rig.create(tmp_path, db_url)
    try:
        number = yield threads.deferToThread(replied_order, rig.service)
        rig.sim.add_pstn("13800000001", "answer", answer_after=0.5, digits="1", digit_after=5.0)
        rig.worker.interval = 0.2
        rig.worker.startService()
        yield rig.until(lambda: bool(rig.job(number)) and rig.job(number)[0]["state"] == "done")
        yield rig.worker.stopService()
        order = yield threads.deferToThread(rig.service.get, number, DISPATCHER)
        assert order["status"] == "closed" and len(rig.calls_to("13800000001")) == 1
    finally:
        if rig.worker.running:
            yield rig.worker.stopService()
        yield rig.close()


@pytest_twisted.inlineCallbacks
def test_crashes_before_any_result_never_use_up_the_citizens_attempts(tmp_path, db_url):
    """Three workers in a row die after claiming the job and before any result is known (nothing was
    recorded): each time a fresh worker finds the stale claim after the lease and schedules it again
    without counting an attempt, so the citizen is not made "unreachable" by restarts; the fourth
    worker's call is answered and recorded as attempt 1."""
    rig = yield Rig.create(tmp_path, db_url)
    try:
        number = yield threads.deferToThread(replied_order, rig.service)
        yield threads.deferToThread(jobs.schedule_replied, rig.engine, rig.now(), rig.policy, CALENDAR)
        for crash in range(3):
            claimed = yield threads.deferToThread(jobs.claim_due, rig.engine, rig.now(), f"dead-{crash}")
            assert [j["order_number"] for j in claimed] == [number]   # the worker dies right here
            rig.now.at += timedelta(hours=2)                          # past the lease
            yield rig.worker.tick()                                   # a live worker settles the stale claim
            (job,) = rig.job(number)
            assert job["state"] == "scheduled" and job["attempts"] == 0, job
            assert job["due_at"] > rig.now()                           # not re-rung at once
            rig.now.at = job["due_at"]
        assert len(rig.calls_to("13800000001")) == 0
        rig.sim.add_pstn("13800000001", "answer", answer_after=0.5, digits="1", digit_after=1.0)
        yield rig.worker.tick()
        yield rig.until(lambda: rig.job(number)[0]["state"] == "done")
        assert rig.job(number)[0]["attempts"] == 1
    finally:
        yield rig.close()
