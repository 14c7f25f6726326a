"""Callback jobs on SQLite and PostgreSQL: scheduling once per reply round, do-not-call, one call per
number at a time, guarded result recording, manual results and the second dissatisfaction (督办)."""
from __future__ import annotations

from datetime import timedelta

import pytest
import pytest_twisted
from sqlalchemy import update
from twisted.internet import threads

from callcenter.callbacks import jobs
from callcenter.callbacks.tables import callback_jobs
from tests.callbacks.helpers import AGENT, CALENDAR, DISPATCHER, MONDAY, URBAN, replied_order, world
from ticketing.callbacks.policy import CallbackPolicy
from ticketing.domain.errors import ValidationFailed

POLICY = CallbackPolicy()
TUESDAY_9 = MONDAY + timedelta(days=1, hours=-1)


@pytest.fixture
def rig(db_url):
    engine, service, recorder, notes = world(db_url)
    yield engine, service, recorder, notes
    engine.dispose()


def test_one_job_per_reply_round_and_do_not_call(rig):
    """Sweeping twice creates one job per replied order; an opted-out number is skipped, never claimed."""
    engine, service, recorder, notes = rig
    a = replied_order(service)
    b = replied_order(service, caller_phone="13900000002")
    jobs.opt_out(engine, "13900000002", "市民要求不回访 / asked not to be called", MONDAY)
    made = jobs.schedule_replied(engine, MONDAY + timedelta(hours=1), POLICY, CALENDAR)
    assert sorted(j["order_number"] for j in made) == [a, b]
    assert jobs.schedule_replied(engine, MONDAY + timedelta(hours=1), POLICY, CALENDAR) == []
    states = {j["order_number"]: j["state"] for j in jobs.list_jobs(engine, states=jobs.STATES)}
    assert states == {a: "scheduled", b: "skipped"}
    assert jobs.claim_due(engine, MONDAY + timedelta(hours=2), "w1") == []       # not before tomorrow 08:00
    claimed = jobs.claim_due(engine, TUESDAY_9, "w1")
    assert [j["order_number"] for j in claimed] == [a] and claimed[0]["callback_id"].endswith("-1")
    with pytest.raises(ValidationFailed):
        jobs.opt_out(engine, "139\r\n", "x", MONDAY)


def test_never_two_callbacks_to_one_number_at_once(rig):
    """Two orders of one caller: only one is dialled at a time; the other waits for the first to finish."""
    engine, service, recorder, notes = rig
    a, b = replied_order(service), replied_order(service)
    jobs.schedule_replied(engine, MONDAY, POLICY, CALENDAR)
    first = jobs.claim_due(engine, TUESDAY_9, "w1")
    assert len(first) == 1 and jobs.claim_due(engine, TUESDAY_9, "w2") == []
    assert recorder.survey_answer(first[0]["callback_id"], "satisfied", TUESDAY_9)["state"] == "done"
    second = jobs.claim_due(engine, TUESDAY_9, "w2")
    assert {first[0]["order_number"], second[0]["order_number"]} == {a, b}


def test_results_are_recorded_once(rig):
    """The current callback id records once; a stale id (earlier attempt) and a repeat are ignored."""
    engine, service, recorder, notes = rig
    n = replied_order(service)
    jobs.schedule_replied(engine, MONDAY, POLICY, CALENDAR)
    (job,) = jobs.claim_due(engine, TUESDAY_9, "w1")
    assert jobs.attempt_failed(engine, job["callback_id"], 5, TUESDAY_9, POLICY, CALENDAR)["state"] == "scheduled"
    assert jobs.attempt_failed(engine, job["callback_id"], 5, TUESDAY_9, POLICY, CALENDAR) is None
    (job2,) = jobs.claim_due(engine, TUESDAY_9 + timedelta(hours=1), "w1")
    assert job2["callback_id"].endswith("-2")
    assert recorder.survey_answer(job["callback_id"], "dissatisfied", TUESDAY_9) is None
    assert recorder.survey_answer(job2["callback_id"], "basic", TUESDAY_9)["result"] == "basic"
    assert recorder.survey_answer(job2["callback_id"], "basic", TUESDAY_9) is None
    order = service.get(n, DISPATCHER)
    assert order["status"] == "closed" and order["satisfaction"] == 4
    assert [h["action"] for h in service.history(n, DISPATCHER)].count("callback-result") == 1


def test_second_dissatisfaction_escalates_to_supervision(rig):
    """Dissatisfied twice: reopened and re-dispatched each time; the second raises 督办 and notifies."""
    engine, service, recorder, notes = rig
    n = replied_order(service)
    now = TUESDAY_9
    for round_ in (0, 1):
        jobs.schedule_replied(engine, now, POLICY, CALENDAR)
        (job,) = jobs.claim_due(engine, now + timedelta(days=3), "w1")
        assert job["round"] == round_
        recorder.survey_answer(job["callback_id"], "dissatisfied", now)
        if round_ == 0:
            service.perform(n, "acknowledge", {}, URBAN, now + timedelta(hours=1))
            service.perform(n, "reply", {"reply": "再次处理 / handled again"}, URBAN, now + timedelta(hours=2))
            now += timedelta(days=3)
    order = service.get(n, DISPATCHER)
    assert order["reopen_count"] == 2 and order["supervised"] and order["status"] == "dispatched"
    assert [k for k, _ in notes.sent] == ["reopened", "reopened", "supervised"]


def test_manual_callback_by_an_agent(rig):
    """An agent records a result from the callback list; a job being dialled cannot be recorded by hand."""
    engine, service, recorder, notes = rig
    a, b = replied_order(service), replied_order(service, caller_phone="13900000003")
    jobs.schedule_replied(engine, MONDAY, POLICY, CALENDAR)
    ja, jb = sorted(jobs.list_jobs(engine), key=lambda j: j["order_number"])
    done = recorder.manual(ja["id"], "satisfied", AGENT, MONDAY + timedelta(hours=3), note="电话回访 / phoned")
    assert done["state"] == "done" and done["result_by"] == "manual:agent-1"
    assert service.get(a, DISPATCHER)["status"] == "closed"
    with pytest.raises(jobs.CallbackConflict):
        recorder.manual(ja["id"], "dissatisfied", AGENT, MONDAY + timedelta(hours=3))
    with pytest.raises(ValidationFailed):
        recorder.manual(jb["id"], "maybe", AGENT, MONDAY)
    with engine.begin() as conn:
        conn.execute(update(callback_jobs).where(callback_jobs.c.id == jb["id"]).values(state="dialing"))
    with pytest.raises(jobs.CallbackConflict) as info:
        recorder.manual(jb["id"], "satisfied", AGENT, MONDAY)
    assert info.value.error_id == "callbacks.conflict"
    assert service.get(b, DISPATCHER)["status"] == "replied"


def test_stale_dialing_is_found_after_the_lease(rig):
    """A job left dialing by a dead worker is reported once its lease has passed, not before."""
    engine, service, recorder, notes = rig
    replied_order(service)
    jobs.schedule_replied(engine, MONDAY, POLICY, CALENDAR)
    (job,) = jobs.claim_due(engine, TUESDAY_9, "w1")
    assert jobs.expire_stale(engine, TUESDAY_9 + timedelta(minutes=5), 900) == []
    assert jobs.expire_stale(engine, TUESDAY_9 + timedelta(minutes=16), 900) == [job["callback_id"]]


@pytest_twisted.inlineCallbacks
def test_survey_comment_is_kept_and_queued_for_transcription(rig):
    """The survey hook records the answer, then the citizen's recorded comment is attached to the job and
    queued as a transcription job under call id callback:<CALLBACK_ID>; a comment for an unknown id is not."""
    from twisted.internet import reactor

    from callcenter.asr.jobs import TranscriptionQueue
    from callcenter.callbacks.worker import SurveyHook

    engine, service, recorder, notes = rig
    yield threads.deferToThread(replied_order, service)
    yield threads.deferToThread(jobs.schedule_replied, engine, MONDAY, POLICY, CALENDAR)
    (job,) = yield threads.deferToThread(jobs.claim_due, engine, TUESDAY_9, "w1")
    queue = TranscriptionQueue(engine)
    hook = SurveyHook(recorder, reactor=reactor, pool=reactor.getThreadPool(), now=lambda: TUESDAY_9,
                      transcriptions=queue)
    call = CallVars({"CALLBACK_ID": job["callback_id"], "WORKORDER": job["order_number"]})
    yield hook.on_outcome(call, "survey", "basic")
    yield hook.on_outcome(call, "survey_comment", "/var/spool/comment-1.wav")
    yield hook.on_outcome(CallVars({"CALLBACK_ID": "999-1"}), "survey_comment", "/var/spool/other.wav")
    assert hook.on_outcome(call, "menu", "x") is None
    got = yield threads.deferToThread(jobs.get_job, engine, job["id"])
    assert got["state"] == "done" and got["comment_path"] == "/var/spool/comment-1.wav"
    assert (yield threads.deferToThread(queue.counts)).get("queued") == 1


class CallVars:
    """What the IVR runner hands its hooks: a call with channel variables."""

    def __init__(self, vars_):
        self.vars = vars_


def test_release_hands_an_undialled_claim_back(rig):
    """A claim never dialled (worker stopping) returns to scheduled without using up an attempt."""
    engine, service, recorder, notes = rig
    replied_order(service)
    jobs.schedule_replied(engine, MONDAY, POLICY, CALENDAR)
    (job,) = jobs.claim_due(engine, TUESDAY_9, "w1")
    assert jobs.release(engine, job["callback_id"], TUESDAY_9)
    assert not jobs.release(engine, job["callback_id"], TUESDAY_9)
    (again,) = jobs.claim_due(engine, TUESDAY_9, "w2")
    assert again["attempts"] == 1 and again["callback_id"] == job["callback_id"]


def test_postgresql_claim_skips_locked_jobs(pg_url):
    """PostgreSQL: while another worker holds one due job locked, a claim takes the other at once
    (SKIP LOCKED) instead of waiting or taking the same one."""
    from sqlalchemy import select as sa_select

    engine, service, recorder, notes = world(pg_url)
    try:
        a = replied_order(service, caller_phone="13800000021")
        b = replied_order(service, caller_phone="13800000022")
        jobs.schedule_replied(engine, MONDAY, POLICY, CALENDAR)
        with engine.connect() as other:
            tx = other.begin()
            other.execute(sa_select(callback_jobs.c.id).where(callback_jobs.c.order_number == a)
                          .with_for_update())
            claimed = jobs.claim_due(engine, TUESDAY_9, "w2")
            tx.rollback()
        assert [j["order_number"] for j in claimed] == [b]
        assert [j["order_number"] for j in jobs.claim_due(engine, TUESDAY_9, "w1")] == [a]
    finally:
        engine.dispose()
