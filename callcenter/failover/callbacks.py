"""Callbacks in flight across a controller's death or a lost AMI link: dialled once, never twice.

Both kinds of callback mark the call they place, as the IVR and the ACD mark theirs:

* the Originate of a satisfaction callback (:class:`~callcenter.callbacks.worker.SatisfactionCallbackWorker`)
  and of a queue callback (:mod:`callcenter.routing.queue_callbacks`) carries the channel variable
  ``HOTLINE_CALLBACK`` = ``<kind>|<job id>|<attempt>`` (kind ``survey`` or ``queue``), so any
  controller can tell which job a channel belongs to (AMI ``Getvar``);
* the job row says, durably and before the Originate is sent, that the attempt is out: a
  satisfaction job is ``dialing`` with its ``attempts`` and ``callback_id`` (the claim); a queue
  callback row has ``dialled_at``/``dialled_by`` and its counted ``attempts`` (the claim).

After every AMI login (a standby taking over, or the same process after a reconnect) and when an
attempt's lease runs out, :func:`decide` says what becomes of each attempt in flight — from the job
and whether a channel with its mark exists:

* a channel is there and **answered** → adopted: a survey job is marked answered and held by this
  controller (its survey goes on in the IVR adoption, at the caller's menu); a queue callback is
  done (the citizen is on the line: re-queued in place or left with their agent);
* a channel is there and **ringing** → adopted: the job is held (lease renewed), a queue callback's
  reserved agent stays reserved; when the call is answered or ends, the job follows (answered,
  or a failed attempt with the reason of its hang-up cause);
* **no channel** and the Originate was not sent by this process just now → ``interrupted``: never
  dialled again at once; :meth:`~ticketing.callbacks.policy.CallbackPolicy.after_interrupted` (the one
  retry policy) says when, or unreachable.

Only attempts placed for this PBX are settled without a channel (``scope``: the failover group, one
per Asterisk, or the AMI address), so a controller of another Asterisk on the same database never
settles a call it cannot see.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from twisted.internet import defer, task

from callcenter.clock import now_from
from ticketing.callbacks.policy import INTERRUPTED, QUEUE, REASONS, SATISFACTION, reason_of_hangup

log = logging.getLogger(__name__)

#: the channel variable of a callback's call: ``kind|job id|attempt``
CALLBACK_MARK = "HOTLINE_CALLBACK"

# what becomes of an attempt in flight (:func:`decide`)
NOTHING = "nothing"
WAIT = "wait"
ADOPT_RINGING = "adopt_ringing"
ADOPT_ANSWERED = "adopt_answered"
SETTLE_INTERRUPTED = "interrupted"
RELEASE = "release"          # claimed, never dialled: scheduled again, the attempt not counted


def callback_mark(kind: str, job_id: int, attempt: int) -> str:
    """``HOTLINE_CALLBACK``'s value for attempt ``attempt`` of job ``job_id``."""
    if kind not in (SATISFACTION, QUEUE):
        raise ValueError(f"unknown callback kind {kind!r}")
    return f"{kind}|{int(job_id)}|{int(attempt)}"


def parse_callback_mark(value: str | None) -> tuple[str, int, int] | None:
    """``(kind, job id, attempt)`` from ``HOTLINE_CALLBACK``, or None."""
    parts = (value or "").split("|")
    if len(parts) != 3 or parts[0] not in (SATISFACTION, QUEUE):
        return None
    try:
        return parts[0], int(parts[1]), int(parts[2])
    except ValueError:
        return None


def decide(*, in_flight: bool, dialled: bool = True, channel: str | None, pending_here: bool) -> str:
    """The pure rule.  ``in_flight``: the job says this attempt is out (claimed); ``dialled``: its
    Originate was recorded as sent (a satisfaction job's ``dialled_at``; a queue callback's claim
    is its dial mark); ``channel``: ``"up"`` (a channel with the job's mark is answered),
    ``"ringing"`` (one exists, none answered) or None (no channel carries the mark);
    ``pending_here``: this process claimed or sent it and the response may still come (then a
    missing channel is not yet news)."""
    if not in_flight:
        return NOTHING
    if channel == "up":
        return ADOPT_ANSWERED
    if channel is not None:
        return ADOPT_RINGING
    if pending_here:
        return WAIT
    if not dialled:
        return RELEASE
    return SETTLE_INTERRUPTED


def channel_stage(messages) -> str | None:
    """``"up"`` when a channel of the call is answered, ``"ringing"`` when it exists unanswered."""
    if not messages:
        return None
    return "up" if any((m.get("ChannelState") or "") == "6" for m in messages) else "ringing"


def pbx_scope(config) -> str:
    """Which Asterisk this controller drives: the failover group (one per Asterisk), else the
    AMI address.  Stored with each claim so that only controllers of the same PBX settle it."""
    if config.get("failover.enabled"):
        return f"g:{config.get('failover.group') or 'default'}"[:40]
    return f"a:{config.get('ami.host') or '127.0.0.1'}:{config.get('ami.port') or 5038}"[:40]


@defer.inlineCallbacks
def marked_channels(ami, channels: dict | None = None):
    """``{(kind, job id, attempt): [channel entries]}`` for the PBX's channels that carry
    ``HOTLINE_CALLBACK`` (``channels``: a ``CoreShowChannels`` listing by name, else one is asked)."""
    if channels is None:
        result = yield ami.send("CoreShowChannels")
        channels = {m.get("Channel"): m for m in result.events if m.get("Channel")}
    names = list(channels)

    def value(name):
        return ami.getvar(CALLBACK_MARK, channel=name).addErrback(lambda f: None)  # the channel left meanwhile

    values = yield defer.gatherResults([value(n) for n in names]) if names else defer.succeed([])
    marks: dict[tuple, list] = {}
    for name, raw in zip(names, values):
        key = parse_callback_mark(raw)
        if key is not None:
            marks.setdefault(key, []).append(channels[name])
    return marks


# -- blocking database work (run off the reactor thread) ----------------------------------------

def queue_rows_in_flight(engine) -> list[dict]:
    from sqlalchemy import select

    from callcenter.routing.store import CALLBACK_PENDING, queue_callbacks as q

    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(q).where(
            q.c.state == CALLBACK_PENDING, q.c.dialled_at.is_not(None)))]


def queue_rows(engine, ids) -> dict[int, dict]:
    from sqlalchemy import select

    from callcenter.routing.store import queue_callbacks as q

    if not ids:
        return {}
    with engine.connect() as conn:
        return {r.id: dict(r._mapping) for r in conn.execute(select(q).where(q.c.id.in_(list(ids))))}


def queue_keep(engine, row_id: int, attempts: int, scope: str, now, lease_until) -> bool:
    """Hold an adopted attempt: this controller's, its lease renewed (guarded by the attempt)."""
    from sqlalchemy import update

    from callcenter.routing.store import CALLBACK_PENDING, _as_utc, queue_callbacks as q

    with engine.begin() as conn:
        res = conn.execute(update(q).where(q.c.id == row_id, q.c.state == CALLBACK_PENDING,
                                           q.c.attempts == attempts, q.c.dialled_at.is_not(None))
                           .values(dialled_by=scope[:64], next_attempt_at=_as_utc(lease_until),
                                   updated_at=_as_utc(now)))
        return res.rowcount == 1


def queue_done(engine, row_id: int, attempts: int, now) -> bool:
    """The citizen answered the callback: done (guarded by the attempt)."""
    from sqlalchemy import update

    from callcenter.routing.store import CALLBACK_PENDING, _as_utc, queue_callbacks as q

    with engine.begin() as conn:
        res = conn.execute(update(q).where(q.c.id == row_id, q.c.state == CALLBACK_PENDING,
                                           q.c.attempts == attempts)
                           .values(state="done", dialled_at=None, dialled_by=None, updated_at=_as_utc(now)))
        return res.rowcount == 1


def queue_settle(engine, row_id: int, attempts: int, reason: str, now, retry_at) -> bool:
    """The attempt in flight ended without reaching the citizen's agent: pending again from
    ``retry_at`` (or unreachable when None), the attempt counted, the in-flight mark cleared."""
    from sqlalchemy import update

    from callcenter.routing.store import CALLBACK_PENDING, CALLBACK_UNREACHABLE, _as_utc, queue_callbacks as q

    values = {"last_reason": reason[:32], "updated_at": _as_utc(now), "next_attempt_at": _as_utc(retry_at),
              "dialled_at": None, "dialled_by": None}
    if retry_at is None:
        values["state"] = CALLBACK_UNREACHABLE
    with engine.begin() as conn:
        res = conn.execute(update(q).where(q.c.id == row_id, q.c.state == CALLBACK_PENDING,
                                           q.c.attempts == attempts, q.c.dialled_at.is_not(None)).values(**values))
        return res.rowcount == 1


def queue_release(engine, row_id: int, attempts: int, now) -> bool:
    """The Originate was never sent (no AMI link): the claim is undone, the attempt not counted."""
    from sqlalchemy import update

    from callcenter.routing.store import CALLBACK_PENDING, _as_utc, queue_callbacks as q

    with engine.begin() as conn:
        res = conn.execute(update(q).where(q.c.id == row_id, q.c.state == CALLBACK_PENDING,
                                           q.c.attempts == attempts, q.c.dialled_at.is_not(None))
                           .values(attempts=q.c.attempts - 1, next_attempt_at=_as_utc(now), dialled_at=None,
                                   dialled_by=None, updated_at=_as_utc(now)))
        return res.rowcount == 1


def _entry(row: dict):
    from callcenter.routing.store import CallbackEntry, _utc

    return CallbackEntry(row["id"], row["call_id"], row["number"], row["queue"], row["reason"], row["state"],
                         row["attempts"], _utc(row["created_at"]), _utc(row.get("next_attempt_at")),
                         row.get("last_reason"), row.get("priority") or 0, row.get("skill"))


class CallbackAdoption:
    """Adopts or settles the callbacks in flight after each AMI login, follows the adopted calls to
    their end, and settles queue callbacks whose lease ran out (satisfaction jobs' leases are the
    worker's: :meth:`SatisfactionCallbackWorker.tick`, with the same rule).

    ``worker``: the satisfaction callback worker (its recorder, policy, calendar and pending
    Originates); ``acd``: the queue controller (its reserved agents and retries)."""

    grace = 3.0            # seconds after an adopted call's last channel ended before settling it
    sweep_interval = 10.0  # seconds between looks for queue callbacks whose lease ran out
    lease = 180.0          # seconds an adopted ringing queue callback is held before the sweep looks again

    def __init__(self, engine, ami, *, clock, run_blocking, scope: str, worker=None, acd=None, policy=None,
                 calendar=None):
        self.engine = engine
        self.ami = ami
        self.clock = clock
        self.run_blocking = run_blocking
        self.scope = scope
        self.worker = worker
        self.acd = acd
        self.policy = policy or getattr(worker, "policy", None) or getattr(acd, "callback_policy", None)
        self._calendar = calendar
        self.watched: dict[str, tuple] = {}          # channel name -> key
        self.calls: dict[tuple, dict] = {}           # key -> {"stage", "channels", "row"/"job", "agent"}
        self._subscription = None
        self._loop = None
        self.settled: list[tuple] = []               # (key, outcome) for logs and tests
        self.queue_adoption = None                   # set by CallAdoption: restored agents not to make ready

    @property
    def calendar(self):
        if self._calendar is not None:
            return self._calendar
        if self.worker is not None:
            return self.worker.calendar
        return self.acd.calendar

    def start(self) -> None:
        self._subscription = self.ami.subscribe(self._on_event, names=("Hangup", "Newstate"))
        if self.acd is not None and self.sweep_interval:
            self._loop = task.LoopingCall(self._sweep)
            self._loop.clock = self.clock
            self._loop.start(self.sweep_interval, now=False)

    def stop(self) -> None:
        if self._subscription is not None:
            self._subscription.cancel()
            self._subscription = None
        if self._loop is not None and self._loop.running:
            self._loop.stop()

    def _now(self):
        return now_from(self.clock)

    # -- after a login ------------------------------------------------------------------------------
    @defer.inlineCallbacks
    def adopt(self, channels: dict):
        """One round after a login, given the ``CoreShowChannels`` listing: returns
        ``(summary, parked)`` where ``parked`` maps a queue callback's channel to
        ``(queue, skill, priority, joined_at)`` (its place, for re-queueing a parked caller)."""
        marks = yield marked_channels(self.ami, channels)
        summary = {"adopted": 0, "interrupted": 0}
        now = self._now()
        if self.worker is not None:
            jobs_ = yield self.run_blocking(_survey_in_flight, self.engine)
            pending = set(getattr(self.worker, "dialling", {}) or ())
            ticking = bool(getattr(self.worker, "_ticking", False))
            for job in jobs_:
                key = (SATISFACTION, job["id"], job["attempts"])
                stage = channel_stage(marks.get(key))
                ours = (job.get("claimed_by") or "").startswith(self.worker.scope_prefix)
                if stage is None and not ours:
                    continue  # another PBX's call: not ours to judge
                # a claim this worker's tick is making right now (not yet in ``dialling``) is its own
                mine_now = ticking and job.get("claimed_by") == self.worker.worker_id
                action = decide(in_flight=True, dialled=job.get("dialled_at") is not None, channel=stage,
                                pending_here=job["callback_id"] in pending or mine_now)
                done = yield self._survey_action(action, key, job, marks.get(key) or [], now)
                summary["adopted" if action.startswith("adopt") else "interrupted"] += int(bool(done))
        parked = {}
        if self.acd is not None:
            rows = yield self.run_blocking(queue_rows_in_flight, self.engine)
            in_flight = {(QUEUE, r["id"], r["attempts"]): r for r in rows}
            others = {k[1] for k in marks if k[0] == QUEUE and k not in in_flight}
            known = yield self.run_blocking(queue_rows, self.engine, others)
            for key, chans in marks.items():
                row = in_flight.get(key) or known.get(key[1]) if key[0] == QUEUE else None
                if row is None:
                    continue
                for m in chans:
                    parked[m.get("Channel")] = (row["queue"], row.get("skill"), row.get("priority") or 0,
                                                row["created_at"])
            pending = set(getattr(self.acd, "_callbacks_dialling", {}) or ())
            for key, row in in_flight.items():
                stage = channel_stage(marks.get(key))
                if stage is None and (row.get("dialled_by") or "") != self.scope:
                    continue
                action = decide(in_flight=True, channel=stage, pending_here=row["call_id"] in pending)
                done = yield self._queue_action(action, key, row, marks.get(key) or [], now)
                summary["adopted" if action.startswith("adopt") else "interrupted"] += int(bool(done))
        if summary["adopted"] or summary["interrupted"]:
            log.info("callbacks in flight adopted or settled", extra={"fields": summary})
        return summary, parked

    # -- satisfaction callbacks -----------------------------------------------------------------------
    @defer.inlineCallbacks
    def _survey_action(self, action, key, job, chans, now):
        from callcenter.callbacks import jobs

        worker = self.worker
        if action in (ADOPT_RINGING, ADOPT_ANSWERED):
            kept = yield self.run_blocking(jobs.keep_in_progress, self.engine, job["callback_id"], worker.worker_id,
                                           now, action == ADOPT_ANSWERED)
            if kept:
                self._watch(key, action, chans, job=job)
                log.info("satisfaction callback in flight adopted", extra={"fields": {
                    "callback": job["callback_id"], "stage": action}})
            return kept
        if action == RELEASE:
            retry_at = worker.policy.next_calling_time(now + timedelta(seconds=worker.policy.retry_spacing[0]),
                                                       worker.calendar)
            from callcenter.callbacks import jobs as jobs_

            released = yield self.run_blocking(jobs_.requeue_unknown, self.engine, job["callback_id"], now, retry_at)
            return released
        if action == SETTLE_INTERRUPTED and job.get("last_reason") == 4:
            done = yield self.run_blocking(worker.recorder.attempt_failed, job["callback_id"], None, now,
                                           worker.policy, worker.calendar)
            return done is not None
        if action == SETTLE_INTERRUPTED:
            done = yield self.run_blocking(worker.recorder.attempt_interrupted, job["callback_id"], now,
                                           worker.policy, worker.calendar)
            if done is not None:
                self.settled.append((key, INTERRUPTED))
                log.warning("satisfaction callback interrupted (no call left); not dialled again now",
                            extra={"fields": {"callback": job["callback_id"], "state": done["state"],
                                              "due_at": str(done.get("due_at"))}})
            return done is not None
        return False

    # -- queue callbacks ------------------------------------------------------------------------------
    @defer.inlineCallbacks
    def _queue_action(self, action, key, row, chans, now):
        if action == ADOPT_ANSWERED:
            done = yield self.run_blocking(queue_done, self.engine, row["id"], row["attempts"], now)
            if done:
                self.settled.append((key, "answered"))
                log.info("queue callback in flight adopted: answered", extra={"fields": {"callback": row["id"]}})
            return done
        if action == ADOPT_RINGING:
            kept = yield self.run_blocking(queue_keep, self.engine, row["id"], row["attempts"], self.scope, now,
                                           now + timedelta(seconds=self.lease))
            if kept:
                agent = yield self._reserve_agent(row, chans)
                self._watch(key, action, chans, row=row, agent=agent)
                log.info("queue callback in flight adopted: ringing", extra={"fields": {
                    "callback": row["id"], "agent": agent}})
            return kept
        if action == SETTLE_INTERRUPTED:
            return (yield self._queue_interrupted(key, row, now))
        return False

    @defer.inlineCallbacks
    def _queue_interrupted(self, key, row, now):
        interrupted_before = (row.get("last_reason") or "") == INTERRUPTED
        decision = self.policy.after_interrupted(QUEUE, row["attempts"], now, self.calendar,
                                                 interrupted_before=interrupted_before)
        retry_at = decision.at if decision.kind == "retry" else None
        done = yield self.run_blocking(queue_settle, self.engine, row["id"], row["attempts"], INTERRUPTED, now,
                                       retry_at)
        self._free_agent(row)
        if done:
            self.settled.append((key, INTERRUPTED))
            self._hand_back(row, retry_at)
            log.warning("queue callback interrupted (no call left); not dialled again now", extra={"fields": {
                "callback": row["id"], "next_attempt_at": str(retry_at) if retry_at else "unreachable"}})
        return done

    def _free_agent(self, row) -> None:
        """The agent held for a queue callback whose call is over is free again (not their miss)."""
        from callcenter.routing.queued import CallState

        acd = self.acd
        qc = acd.calls.get(row["call_id"]) if acd is not None else None
        if qc is not None and qc.state is CallState.CALLBACK_DIALING and qc.agent_id:
            acd._free_callback_agent(qc, acd.router.agent(qc.agent_id))

    def _hand_back(self, row, retry_at) -> None:
        """A settled queue callback with a retry goes back to this ACD's list of due callbacks."""
        from dataclasses import replace

        if retry_at is None or self.acd is None:
            return
        entry = replace(_entry(row), next_attempt_at=retry_at, last_reason=INTERRUPTED)
        live = self.acd.calls.get(entry.call_id)
        if live is None or live.state.value == "ended":
            self.acd._callback_retries[entry.call_id] = entry

    @defer.inlineCallbacks
    def _reserve_agent(self, row, chans):
        """The agent the dead controller reserved for this ringing callback stays reserved for it."""
        acd = self.acd
        device = None
        for m in chans:
            device = yield self.ami.getvar("AGENT_DEVICE", channel=m.get("Channel")).addErrback(lambda f: None)
            if device:
                break
        if not device:
            return None
        from callcenter.routing.agent import AgentState
        from callcenter.routing.queued import CallState, QueuedCall
        from callcenter.routing.skills import Caller

        held = acd.calls.get(row["call_id"])
        if held is not None and held.state is CallState.CALLBACK_DIALING and held.agent_id:
            return held.agent_id  # this process placed it and still holds its agent (an AMI cut)
        agent_id = next((a for a in acd.sessions if _device_of(acd, a) == device), None)
        if agent_id is None:
            return None
        session = acd.sessions[agent_id]
        if session.state in (AgentState.RINGING, AgentState.ON_CALL):
            return None
        now = acd._now()
        queue = row["queue"] if row["queue"] in acd.router.queue_names() else acd.default_queue
        caller = Caller(row["call_id"], queue, row.get("skill") or acd.router.queue(queue).skill,
                        row.get("priority") or 0, now, number=row["number"])
        caller.callback = True
        qc = QueuedCall(caller, None, state=CallState.CALLBACK_DIALING, callback_seen=row["attempts"])
        qc.agent_id = agent_id
        acd.calls[caller.call_id] = qc
        steps = []
        if session.state is AgentState.LOGGED_OUT:
            steps.append(session.login(now))
        if session.state in (AgentState.PAUSED, AgentState.WRAP_UP):
            steps.append(session.ready(now))
        steps.append(session.offer(now, caller.call_id))
        acd._db("record_state_changes", steps[:-1])
        acd._apply(steps[-1])
        queue_adoption = self.queue_adoption
        if queue_adoption is not None:
            queue_adoption._available.discard(agent_id)
        return agent_id

    # -- following adopted calls ----------------------------------------------------------------------
    def _watch(self, key, action, chans, **info) -> None:
        names = {m.get("Channel") for m in chans if m.get("Channel")}
        self.calls[key] = {"stage": "up" if action == ADOPT_ANSWERED else "ringing", "channels": names, **info}
        for name in names:
            self.watched[name] = key

    def _on_event(self, message) -> None:
        key = self.watched.get(message.get("Channel"))
        if key is None:
            return
        call = self.calls.get(key)
        if call is None:
            return
        if message.name == "Newstate":
            if (message.get("ChannelState") or "") == "6" and call["stage"] == "ringing":
                call["stage"] = "up"
                self._answered(key, call)
            return
        name = message.get("Channel")
        self.watched.pop(name, None)
        call["channels"].discard(name)
        call["cause"] = message.get("Cause")
        if not call["channels"]:
            self.calls.pop(key, None)
            self.clock.callLater(self.grace, self._ended, key, call)

    def _answered(self, key, call) -> None:
        from callcenter.callbacks import jobs

        now = self._now()
        if key[0] == SATISFACTION:
            d = self.run_blocking(jobs.keep_in_progress, self.engine, call["job"]["callback_id"],
                                  self.worker.worker_id, now, True)
        else:
            d = self.run_blocking(queue_done, self.engine, call["row"]["id"], call["row"]["attempts"], now)
        d.addErrback(lambda f: log.error("adopted callback's answer not stored", extra={"fields": {
            "key": "|".join(map(str, key)), "error": f.getErrorMessage()}}))

    def _ended(self, key, call) -> defer.Deferred:
        """An adopted call's last channel ended: its job follows (nothing if its answer was recorded)."""
        now = self._now()
        if key[0] == SATISFACTION:
            worker = self.worker
            reason = None if call["stage"] == "up" else reason_of_hangup(call.get("cause"))
            d = self.run_blocking(worker.recorder.attempt_failed, call["job"]["callback_id"], reason, now,
                                  worker.policy, worker.calendar)
            d.addCallback(lambda job: job is not None and self.settled.append((key, "ended")))
        else:
            d = self._queue_ended(key, call, now)
        return d.addErrback(lambda f: log.error("adopted callback not settled", extra={"fields": {
            "key": "|".join(map(str, key)), "error": f.getErrorMessage()}}))

    @defer.inlineCallbacks
    def _queue_ended(self, key, call, now):
        if call["stage"] == "up":
            return None  # done when answered; the ACD follows the caller from there
        row = call["row"]
        reason = reason_of_hangup(call.get("cause"))
        decision = self.policy.after_attempt(row["attempts"], reason, now, self.calendar)
        retry_at = decision.at if decision.kind == "retry" else None
        done = yield self.run_blocking(queue_settle, self.engine, row["id"], row["attempts"],
                                       REASONS.get(reason, str(reason)), now, retry_at)
        self._free_agent(row)
        if done:
            self.settled.append((key, "ended"))
            self._hand_back(row, retry_at)
        return done

    # -- leases ---------------------------------------------------------------------------------------
    @defer.inlineCallbacks
    def _sweep(self):
        """Queue callbacks in flight whose lease ran out: adopted if their call is up, else settled."""
        try:
            rows = yield self.run_blocking(queue_rows_in_flight, self.engine)
            now = self._now()
            from callcenter.routing.store import _utc

            due = [r for r in rows if (r.get("dialled_by") or "") == self.scope
                   and _utc(r["next_attempt_at"]) is not None and _utc(r["next_attempt_at"]) <= now
                   and (QUEUE, r["id"], r["attempts"]) not in self.calls]
            if not due:
                return
            marks = yield marked_channels(self.ami)
            pending = set(getattr(self.acd, "_callbacks_dialling", {}) or ())
            for row in due:
                key = (QUEUE, row["id"], row["attempts"])
                action = decide(in_flight=True, channel=channel_stage(marks.get(key)),
                                pending_here=row["call_id"] in pending)
                yield self._queue_action(action, key, row, marks.get(key) or [], now)
        except Exception as exc:  # noqa: BLE001 - no AMI link now: the next sweep looks again
            log.info("callback lease sweep skipped", extra={"fields": {"error": str(exc)}})


def _device_of(acd, agent_id):
    try:
        return acd.router.agent(agent_id).device
    except Exception:  # noqa: BLE001
        return None


def _survey_in_flight(engine) -> list[dict]:
    from callcenter.callbacks import jobs

    return jobs.in_flight(engine)


def build_callback_adoption(config, *, engine, ami, clock, reactor, worker=None, acd=None) -> CallbackAdoption:
    """The composition root's one call: the adoption of callbacks in flight for this PBX, with the
    ACD's claims scoped to it too."""
    from twisted.internet.threads import deferToThreadPool

    scope = pbx_scope(config)
    if acd is not None:
        acd.callback_scope = scope
    pool = reactor.getThreadPool()
    return CallbackAdoption(engine, ami, clock=clock, scope=scope, worker=worker, acd=acd,
                            run_blocking=lambda fn, *a, **kw: deferToThreadPool(reactor, pool, fn, *a, **kw))
