"""The callback worker: a Twisted service that dials due callbacks.

Each tick (off the reactor thread) it creates jobs for newly replied orders,
settles attempts whose lease ran out, and claims due jobs; for each claimed
job it sends an async ``Originate`` of the citizen's number into
``hotline-survey`` with ``WORKORDER``, ``CALLBACK_ID`` and the mark
``HOTLINE_CALLBACK`` = ``survey|<job id>|<attempt>`` (the claim, committed
before the Originate, is the durable record that the attempt is out).  An
attempt whose lease ran out is never simply dialled again: if a channel with
its mark is still up it is kept (adopted), else it counts as ``interrupted``
and the policy schedules the next try (:mod:`callcenter.failover.callbacks`).  The
``OriginateResponse`` reason decides: answered → the survey flow runs and its
answer arrives through :meth:`SurveyHook.on_outcome`; otherwise the attempt
failed and the policy retries or gives up (unreachable).  Nothing lives only
in memory: a fresh worker on the same database continues where one died.
"""
from __future__ import annotations

import logging
import re
import uuid
from datetime import timedelta
from typing import Callable

from twisted.application.service import Service
from twisted.internet import defer, task
from twisted.internet.threads import deferToThreadPool

from callcenter.ami.errors import AMINotConnected
from callcenter.callbacks import jobs
from callcenter.clock import now_from
from callcenter.failover.callbacks import (
    ADOPT_ANSWERED, ADOPT_RINGING, RELEASE, SETTLE_INTERRUPTED, callback_mark, channel_stage, decide, marked_channels,
)
from ticketing.callbacks.policy import SATISFACTION, CallbackPolicy

log = logging.getLogger(__name__)
_DIALLABLE = re.compile(r"^\+?[0-9]{3,20}$")


def request_language(engine, order_number: str, phone: str) -> str:
    """The language the citizen made the request in: of the latest main-flow IVR visit among the order's
    calls, else of the latest visit from ``phone``; "zh" when neither is known (web, SMS, Open311)."""
    from sqlalchemy import select

    from ivr.store import ivr_visits as v
    from ticketing.persistence.tables import work_orders as w

    with engine.connect() as conn:
        call_ids = conn.execute(select(w.c.call_ids).where(w.c.number == order_number)).scalar() or []
        for where in ([v.c.call_id.in_(list(call_ids))] if call_ids else []) + ([v.c.caller == phone] if phone else []):
            lang = conn.execute(select(v.c.lang).where(where, v.c.flow == "hotline")
                                .order_by(v.c.ended_at.desc()).limit(1)).scalar()
            if lang:
                return lang
    return "zh"


class SatisfactionCallbackWorker(Service):
    """Claims and dials callbacks; ``recorder`` is a :class:`~callcenter.callbacks.jobs.ResultRecorder`."""

    interval = 5.0          # seconds between ticks
    lease = 900.0           # a call dialing longer than this without an answer counts as failed
    ring_timeout = 30.0
    batch = 10
    metrics_every = 6       # ticks between refreshes of the Prometheus figures
    dial_string = "Local/{number}@hotline-pstn"
    context = "hotline-survey"
    caller_id = "12345"

    def __init__(self, engine, ami, recorder: jobs.ResultRecorder, calendar, *, reactor, pool,
                 policy: CallbackPolicy | None = None, now: Callable | None = None, worker_id: str | None = None,
                 dial_string: str | None = None, scope: str = ""):
        self.engine = engine
        self.ami = ami
        self.recorder = recorder
        self.calendar = calendar
        self.reactor = reactor
        self.pool = pool
        self.policy = policy or CallbackPolicy()
        self.now = now or (lambda: now_from(reactor))
        #: claims of this PBX's workers start with this (``scope``: :func:`callcenter.failover.callbacks.pbx_scope`)
        self.scope_prefix = f"callbacks-{scope}-" if scope else "callbacks-"
        self.worker_id = worker_id or f"{self.scope_prefix}{uuid.uuid4().hex[:8]}"
        #: callback id -> the Deferred of its Originate, while its response may still come
        self.dialling: dict[str, defer.Deferred] = {}
        if dial_string:
            self.dial_string = dial_string
        self._loop: task.LoopingCall | None = None
        self._ticking = False
        self._tick_d: defer.Deferred | None = None
        self._ticks = 0
        self.in_flight: set[defer.Deferred] = set()
        #: the webhook outbox's delivery service (:class:`~callcenter.callbacks.notify.WebhookDelivery`),
        #: started and stopped with this worker when set (``build_satisfaction_callbacks`` does, given a webhook URL)
        self.webhooks = None

    def blocking(self, fn, *args, **kw) -> defer.Deferred:
        return deferToThreadPool(self.reactor, self.pool, fn, *args, **kw)

    # -- service -------------------------------------------------------------
    def startService(self):
        super().startService()
        self._loop = task.LoopingCall(self.tick)
        self._loop.clock = self.reactor
        self._loop.start(self.interval, now=True).addErrback(lambda f: log.error("callback loop died: %s", f))
        if self.webhooks is not None:
            self.webhooks.startService()

    def stopService(self):
        super().stopService()
        stopping = []
        if self.webhooks is not None and self.webhooks.running:
            stopping.append(defer.maybeDeferred(self.webhooks.stopService))
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        pending = list(self.in_flight)
        for d in pending:
            d.cancel()
        if self._tick_d is not None:
            pending.append(self._tick_d)
        return defer.DeferredList(pending + stopping, consumeErrors=True)

    # -- one tick --------------------------------------------------------------
    def tick(self) -> defer.Deferred | None:
        if self._ticking:
            return None
        self._ticking = True
        d = self._settle_leases(self.now())
        d.addCallback(lambda _: self.blocking(self._prepare, self.now()))
        d.addCallback(self._dial_all)
        d.addErrback(lambda f: log.error("callback tick failed: %s", f.getTraceback()))

        def done(result):
            self._ticking = False
            self._tick_d = None
            return result
        self._tick_d = d
        return d.addBoth(done)

    @defer.inlineCallbacks
    def _settle_leases(self, now):
        """Attempts dialing longer than ``lease``: each is looked up on the PBX (its
        ``HOTLINE_CALLBACK`` mark) and kept if its call is still up, else settled by the policy —
        never dialled again as if it had not happened.  Without an AMI link nothing is decided."""
        stale = yield self.blocking(jobs.expire_stale, self.engine, now, self.lease)
        if not stale:
            return None
        try:
            marks = yield marked_channels(self.ami)
        except Exception as exc:  # noqa: BLE001 - no AMI link: decide on a later tick, when the PBX can be asked
            log.info("callback leases not settled: the PBX cannot be asked now (%s)", exc)
            return None
        yield self.blocking(self._settle_stale, stale, marks, now)

    def _settle_stale(self, stale: list[str], marks: dict, now) -> None:
        for callback_id in stale:
            job = jobs.get_by_callback_id(self.engine, callback_id)
            if job is None or job["state"] != "dialing":
                continue
            key = (SATISFACTION, job["id"], job["attempts"])
            action = decide(in_flight=True, dialled=job.get("dialled_at") is not None,
                            channel=channel_stage(marks.get(key)), pending_here=callback_id in self.dialling)
            if action in (ADOPT_RINGING, ADOPT_ANSWERED):
                jobs.keep_in_progress(self.engine, callback_id, self.worker_id, now, action == ADOPT_ANSWERED)
                log.info("callback %s: lease ran out while its call is still up; kept", callback_id)
            elif action == RELEASE:
                retry_at = self.policy.next_calling_time(now + timedelta(seconds=self.policy.retry_spacing[0]),
                                                         self.calendar)
                if jobs.requeue_unknown(self.engine, callback_id, now, retry_at):
                    log.warning("callback %s: claimed but never dialled (worker lost); scheduled again without "
                                "counting the attempt", callback_id)
            elif action == SETTLE_INTERRUPTED and job.get("last_reason") == 4:
                self._failed_sync(callback_id, None, now)  # answered, then no answer to the survey
            elif action == SETTLE_INTERRUPTED:
                settled = self.recorder.attempt_interrupted(callback_id, now, self.policy, self.calendar)
                if settled is not None:
                    log.warning("callback %s: interrupted (no call left, outcome never known); counted, %s",
                                callback_id, settled["state"])

    def _prepare(self, now) -> list[dict]:
        """Blocking: schedule new jobs and claim due ones (and now and then refresh the metrics)."""
        if self._ticks % self.metrics_every == 0:
            from callcenter.callbacks.metrics import refresh

            refresh(self.engine)
        self._ticks += 1
        jobs.schedule_replied(self.engine, now, self.policy, self.calendar)
        claimed = jobs.claim_due(self.engine, now, self.worker_id, self.batch)
        for job in claimed:   # the survey speaks the language the request was made in
            job["lang"] = request_language(self.engine, job["order_number"], job["phone"])
        return claimed

    def _dial_all(self, claimed: list[dict]) -> defer.Deferred:
        if self._loop is not None and not self.running:  # stopped while claiming: hand the jobs back
            return defer.DeferredList([self.blocking(jobs.release, self.engine, job["callback_id"], self.now())
                                       for job in claimed], consumeErrors=True)
        return defer.DeferredList([self._dial(job) for job in claimed], consumeErrors=True)

    def _dial(self, job: dict) -> defer.Deferred:
        number = job["phone"]
        if not _DIALLABLE.match(number):  # never let a malformed number reach AMI
            return self.blocking(self._failed_sync, job["callback_id"], 0, self.now())
        callback_id = job["callback_id"]
        # from the claim to the Originate's response this process may still place or hear of the call
        self.dialling[callback_id] = None
        marked = self.blocking(jobs.mark_dialled, self.engine, callback_id, self.now())

        def send(ok):
            if not ok:  # the claim was settled meanwhile (by an adoption): not dialled
                self.dialling.pop(callback_id, None)
                return None
            return self._originate(job)

        def not_marked(failure):
            self.dialling.pop(callback_id, None)
            log.error("callback %s: not dialled, its attempt could not be recorded (%s)", callback_id,
                      failure.getErrorMessage())
        return marked.addCallbacks(send, not_marked)

    def _originate(self, job: dict) -> defer.Deferred:
        callback_id = job["callback_id"]
        d = self.ami.originate(self.dial_string.format(number=job["phone"]), context=self.context, exten="s",
                               caller_id=self.caller_id, timeout=self.ring_timeout,
                               variables={"WORKORDER": job["order_number"], "CALLBACK_ID": callback_id,
                                          "HOTLINE_LANG": job.get("lang") or "zh",
                                          "HOTLINE_CALLBACK": callback_mark(SATISFACTION, job["id"], job["attempts"])})
        self.in_flight.add(d)
        self.dialling[callback_id] = d

        def recorded(result):
            # pending until the outcome is stored: an adoption meanwhile must not judge the job
            self.dialling.pop(callback_id, None)
            return result

        def placed(response):
            self.in_flight.discard(d)
            if getattr(response, "answered", False):
                return self.blocking(jobs.mark_answered, self.engine, callback_id, self.now()).addBoth(recorded)
            return self.blocking(self._failed_sync, callback_id, getattr(response, "reason", 0),
                                 self.now()).addBoth(recorded)

        def lost(failure):
            # AMI gone or the worker stopped: whether the call was placed is unknown, so the job
            # stays dialing and its lease (or the next adoption) decides from the PBX's channels —
            # never a second call while the first may ring
            self.in_flight.discard(d)
            if failure.check(AMINotConnected):
                # never sent (no logged-in link): the claim is undone, the attempt not counted
                log.info("callback %s: not dialled, no AMI link; released", callback_id)
                return self.blocking(jobs.release, self.engine, callback_id, self.now()).addBoth(recorded)
            self.dialling.pop(callback_id, None)
            log.warning("callback %s: originate outcome unknown (%s)", callback_id, failure.getErrorMessage())
        return d.addCallbacks(placed, lost)

    def _failed_sync(self, callback_id: str, reason, now) -> None:
        self.recorder.attempt_failed(callback_id, reason, now, self.policy, self.calendar)


class SurveyHook:
    """The IVR runner's ``on_outcome`` for the survey flow: hands the citizen's answer, with the
    channel's ``CALLBACK_ID``, to the recorder off the reactor thread; a recorded comment
    (``survey_comment``) is kept on the job and, given a ``transcriptions`` queue
    (:class:`callcenter.asr.jobs.TranscriptionQueue`), queued for transcription under the call id
    ``callback:<CALLBACK_ID>``."""

    def __init__(self, recorder: jobs.ResultRecorder, *, reactor, pool, now: Callable | None = None,
                 transcriptions=None):
        self.recorder = recorder
        self.reactor = reactor
        self.pool = pool
        self.now = now or (lambda: now_from(reactor))
        self.transcriptions = transcriptions

    def _comment(self, callback_id: str, recording: str, now) -> None:
        if jobs.attach_comment(self.recorder.engine, callback_id, recording, now) and self.transcriptions:
            self.transcriptions.enqueue(recording, now, call_id=f"callback:{callback_id}")

    def on_outcome(self, call, name: str, value) -> defer.Deferred | None:
        if name not in ("survey", "survey_comment"):
            return None
        callback_id = (getattr(call, "vars", None) or {}).get("CALLBACK_ID")
        if not callback_id or not value:
            return None
        fn = self.recorder.survey_answer if name == "survey" else self._comment
        d = deferToThreadPool(self.reactor, self.pool, fn, callback_id, str(value), self.now())
        d.addErrback(lambda f: log.error("survey answer %s not recorded: %s", callback_id, f.getTraceback()))
        return d
