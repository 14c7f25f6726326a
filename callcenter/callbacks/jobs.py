"""Callback jobs in the database: one row per order and reply round.

Every transition is a guarded UPDATE (``WHERE state = …``), so a result
delivered twice, a worker restarted mid-call or two workers racing change a
job at most once.  A job is identified on the phone line by its
``callback_id`` (``<job id>-<attempt>``), the ``CALLBACK_ID`` channel variable
of the survey call.  States: scheduled → dialing → done, or back to
scheduled (retry), or unreachable; skipped when the citizen opted out.
``dialled_at`` is written just before an attempt's Originate is sent: a
``dialing`` job without it was claimed but never dialled (scheduled again,
not counted); with it, the call may have reached the citizen, so it is never
dialled again at once — adopted while its channel (``HOTLINE_CALLBACK``) is
up, else settled as ``interrupted`` by the policy
(:mod:`callcenter.failover.callbacks`).
Claiming locks rows with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite's
``BEGIN IMMEDIATE`` serialises claimers) and a partial unique index keeps one
number from being dialled twice at once.
"""
from __future__ import annotations

import copy
import logging
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Callable

from sqlalchemy import and_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from callcenter.callbacks.errors import CallbackConflict
from callcenter.callbacks.tables import callback_jobs, callback_optouts
from callcenter.db import claimable
from ticketing.callbacks.policy import SATISFACTION, CallbackPolicy, survey_result
from ticketing.domain.errors import IllegalTransition, NotFound, ValidationFailed
from ticketing.domain.sla import Deadline
from ticketing.persistence.repository import WorkOrderRepository
from ticketing.persistence.tables import work_orders

log = logging.getLogger(__name__)
ACTIVE = ("scheduled", "dialing")
STATES = ("scheduled", "dialing", "done", "unreachable", "skipped")
J = callback_jobs.c


def _insert(conn):
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(callback_jobs)


def _row(r) -> dict[str, Any]:
    return dict(r._mapping) if hasattr(r, "_mapping") else dict(r)


def schedule_replied(engine, now: datetime, policy: CallbackPolicy, calendar, limit: int = 500) -> list[dict]:
    """Create the job of every replied order that has none for its current round.

    Sweeping the table (rather than trusting an in-memory event) means a reply
    committed just before a crash is still called back."""
    q = (select(work_orders.c.number, work_orders.c.reopen_count, work_orders.c.caller_phone,
                work_orders.c.department, work_orders.c.category, work_orders.c.urgency,
                work_orders.c.updated_at, work_orders.c.deadlines)
         .select_from(work_orders.outerjoin(callback_jobs, and_(J.order_number == work_orders.c.number,
                                                                  J.round == work_orders.c.reopen_count)))
         .where(work_orders.c.status == "replied", J.id.is_(None))
         .order_by(work_orders.c.updated_at).limit(limit))
    created = []
    with engine.begin() as conn:
        rows = conn.execute(q).all()
        optouts = {r.phone for r in conn.execute(select(callback_optouts.c.phone).where(
            callback_optouts.c.phone.in_({r.caller_phone for r in rows if r.caller_phone})))}
        for r in rows:
            phone = (r.caller_phone or "").replace(" ", "").replace("-", "")
            state, note = "scheduled", None
            if not phone:
                state, note = "skipped", "无来电号码 / no caller number"
            elif r.caller_phone in optouts or phone in optouts:
                state, note = "skipped", "市民要求不回访 / caller asked not to be called back"
            due_by = None
            cb = (r.deadlines or {}).get("callback")
            if cb and cb.get("due_at"):
                due_by = Deadline.from_dict(cb).due_at
            due = policy.first_attempt(r.updated_at, r.urgency, calendar, due_by=due_by)
            values = dict(order_number=r.number, round=r.reopen_count, phone=phone or "-", department=r.department,
                          category=r.category, urgency=r.urgency, state=state, attempts=0, due_at=due, note=note,
                          created_at=now, updated_at=now)
            res = conn.execute(_insert(conn).values(**values).on_conflict_do_nothing(
                index_elements=["order_number", "round"]))
            if res.rowcount:
                created.append(values)
    return created


def claim_due(engine, now: datetime, worker: str, limit: int = 20) -> list[dict]:
    """Mark up to ``limit`` due jobs dialing (one per number, none whose number is already being
    dialled) and return them with their new ``callback_id``."""
    with engine.begin() as conn:
        candidates = conn.execute(claimable(conn, select(J.id, J.phone, J.attempts)
                                            .where(J.state == "scheduled", J.due_at <= now)
                                            .order_by(J.due_at, J.id).limit(limit * 3))).all()
        busy = {p for (p,) in conn.execute(select(J.phone).where(
            J.state == "dialing", J.phone.in_({c.phone for c in candidates})))}
        claimed = []
        for c in candidates:
            if c.phone in busy or len(claimed) >= limit:
                continue
            busy.add(c.phone)
            attempt = c.attempts + 1
            conn.execute(update(callback_jobs).where(J.id == c.id, J.state == "scheduled").values(
                state="dialing", attempts=attempt, callback_id=f"{c.id}-{attempt}", claimed_by=worker,
                claimed_at=now, dialled_at=None, updated_at=now))
            claimed.append(c.id)
        rows = conn.execute(select(callback_jobs).where(J.id.in_(claimed)).order_by(J.due_at, J.id)).all()
    return [_row(r) for r in rows]


def get_by_callback_id(engine, callback_id: str) -> dict | None:
    with engine.connect() as conn:
        r = conn.execute(select(callback_jobs).where(J.callback_id == callback_id)).first()
    return _row(r) if r else None


def attempt_failed(engine, callback_id: str, reason: int | None, now: datetime, policy: CallbackPolicy,
                   calendar) -> dict | None:
    """The call of ``callback_id`` did not reach the citizen: schedule the next attempt or give up.
    Returns the job after the change, or ``None`` when that attempt was already settled.  (The
    worker goes through :meth:`ResultRecorder.attempt_failed`, which also records an unreachable
    order in the same transaction.)"""
    with engine.begin() as conn:
        return _attempt_failed(conn, callback_id, reason, now, policy, calendar)


def _settle_attempt(conn, r, callback_id, decision, values: dict) -> dict | None:
    """Settle the dialling attempt of job row ``r`` by the policy's ``decision`` (retry at its time, or
    unreachable) with ``values``; ``None`` when another worker settled it first."""
    if decision.kind == "retry":
        values.update(state="scheduled", due_at=decision.at)
    else:
        values.update(state="unreachable", result="unreachable")
    res = conn.execute(update(callback_jobs).where(J.id == r.id, J.state == "dialing",
                                                     J.callback_id == callback_id).values(**values))
    if not res.rowcount:
        return None
    return {**_row(r), **values}


def _attempt_failed(conn, callback_id, reason, now, policy, calendar) -> dict | None:
    r = conn.execute(select(callback_jobs).where(J.callback_id == callback_id, J.state == "dialing")).first()
    if r is None:
        return None
    decision = policy.after_attempt(r.attempts, reason if reason is not None else 0, now, calendar)
    values = dict(last_reason=reason, updated_at=now, claimed_by=None)
    return _settle_attempt(conn, r, callback_id, decision, values)


def release(engine, callback_id: str, now: datetime) -> bool:
    """Undo a claim that was never dialled (the worker is stopping): scheduled again, attempt not counted."""
    with engine.begin() as conn:
        res = conn.execute(update(callback_jobs).where(J.callback_id == callback_id, J.state == "dialing").values(
            state="scheduled", attempts=J.attempts - 1, callback_id=None, claimed_by=None, claimed_at=None,
            dialled_at=None, updated_at=now))
        return bool(res.rowcount)


def requeue_unknown(engine, callback_id: str, now: datetime, due_at: datetime) -> bool:
    """A stale claim that was never dialled (the worker died between the claim and the Originate:
    ``dialled_at`` unset): scheduled again for ``due_at`` without using up one of the citizen's
    attempts, so restarts cannot make a citizen "unreachable".  False when the Originate went out
    (that attempt counts: :meth:`ResultRecorder.attempt_interrupted`) or the outcome is known."""
    with engine.begin() as conn:
        res = conn.execute(update(callback_jobs).where(
            J.callback_id == callback_id, J.state == "dialing", J.last_reason.is_(None),
            J.dialled_at.is_(None)).values(
            state="scheduled", attempts=J.attempts - 1, callback_id=None, claimed_by=None, claimed_at=None,
            due_at=due_at, updated_at=now))
        return bool(res.rowcount)


def mark_dialled(engine, callback_id: str, now: datetime) -> bool:
    """Written just before the Originate of ``callback_id`` is sent: from here the call may reach
    the citizen, so the attempt is never dialled again as if it had not happened.  False when the
    claim is no longer this attempt's (then nothing is dialled)."""
    with engine.begin() as conn:
        res = conn.execute(update(callback_jobs).where(J.callback_id == callback_id, J.state == "dialing")
                           .values(dialled_at=now, updated_at=now))
        return bool(res.rowcount)


def in_flight(engine) -> list[dict]:
    """Every job whose attempt is out (``dialing``): the claim is the durable record that its call
    was (or is about to be) placed, made before the Originate is sent."""
    with engine.connect() as conn:
        return [_row(r) for r in conn.execute(select(callback_jobs).where(J.state == "dialing"))]


def keep_in_progress(engine, callback_id: str, worker: str, now: datetime, answered: bool) -> bool:
    """A controller adopted the call of ``callback_id`` (its channel is still up): the job is held by
    ``worker`` with a fresh lease — so its expiry never dials the citizen again — and, once the
    citizen answered, marked answered (``last_reason`` 4)."""
    values = dict(claimed_by=worker, claimed_at=now, updated_at=now)
    if answered:
        values["last_reason"] = 4
    with engine.begin() as conn:
        res = conn.execute(update(callback_jobs).where(J.callback_id == callback_id, J.state == "dialing")
                           .values(**values))
        return bool(res.rowcount)


def _attempt_interrupted(conn, callback_id, now, policy, calendar) -> dict | None:
    r = conn.execute(select(callback_jobs).where(J.callback_id == callback_id, J.state == "dialing")).first()
    if r is None:
        return None
    decision = policy.after_interrupted(SATISFACTION, r.attempts, now, calendar)
    values = dict(updated_at=now, claimed_by=None,
                  note="通话被中断（控制器切换），本次计为一次回访 / interrupted: the controller was lost during the call")
    return _settle_attempt(conn, r, callback_id, decision, values)


def mark_answered(engine, callback_id: str, now: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(update(callback_jobs).where(J.callback_id == callback_id, J.state == "dialing")
                     .values(last_reason=4, updated_at=now))


def expire_stale(engine, now: datetime, lease: float) -> list[str]:
    """Callback ids dialing for longer than ``lease`` seconds (a worker died, or the citizen hung up
    before answering the survey): the caller settles them as failed attempts."""
    with engine.connect() as conn:
        return [cid for (cid,) in conn.execute(select(J.callback_id).where(
            J.state == "dialing", J.claimed_at <= now - timedelta(seconds=lease)))]


def finish(engine, job_id: int, *, expect: tuple[str, ...], result: str, by: str, now: datetime,
           note: str | None = None) -> bool:
    with engine.begin() as conn:
        return _finish(conn, job_id, expect=expect, result=result, by=by, now=now, note=note)


def _finish(conn, job_id, *, expect, result, by, now, note=None) -> bool:
    res = conn.execute(update(callback_jobs).where(J.id == job_id, J.state.in_(expect)).values(
        state="done", result=result, result_by=by, updated_at=now, note=note, claimed_by=None))
    return bool(res.rowcount)


def attach_comment(engine, callback_id: str, recording: str, now: datetime) -> bool:
    """Keep the citizen's recorded comment (after the answer) with the job it belongs to."""
    with engine.begin() as conn:
        res = conn.execute(update(callback_jobs).where(J.callback_id == callback_id, J.state == "done")
                           .values(comment_path=str(recording)[:500], updated_at=now))
        return bool(res.rowcount)


def list_jobs(engine, states: tuple[str, ...] = ("scheduled", "dialing", "unreachable"), limit: int = 200,
              department: str | None = None) -> list[dict]:
    q = select(callback_jobs).where(J.state.in_(states)).order_by(J.due_at, J.id).limit(limit)
    if department:
        q = q.where(J.department == department)
    with engine.connect() as conn:
        return [_row(r) for r in conn.execute(q)]


def get_job(engine, job_id: int) -> dict:
    with engine.connect() as conn:
        r = conn.execute(select(callback_jobs).where(J.id == job_id)).first()
    if r is None:
        raise NotFound("回访任务不存在 / no such callback", {"id": job_id})
    return _row(r)


def opt_out(engine, phone: str, note: str, now: datetime) -> None:
    """Remember that this number must not be called back (不回访); pending jobs for it are skipped."""
    if not isinstance(phone, str) or not phone.strip() or len(phone) > 32 or not isinstance(note, str) \
            or len(note) > 200 or any(c in phone + note for c in "\r\n\0"):
        raise ValidationFailed("无效的不回访登记 / invalid do-not-call entry", {"phone": "up to 32 chars", "note": "up to 200"})
    phone = phone.strip()
    with engine.begin() as conn:
        ins = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(callback_optouts)
        conn.execute(ins.values(phone=phone, note=note, created_at=now).on_conflict_do_update(
            index_elements=["phone"], set_={"note": note}))
        conn.execute(update(callback_jobs).where(J.phone == phone, J.state == "scheduled").values(
            state="skipped", note="市民要求不回访 / caller asked not to be called back", updated_at=now))


class _JoinedUnitOfWork:
    """The work-order service's unit of work inside a transaction the recorder owns: the order's
    change, the job's and the outbox row commit (or roll back) together."""

    def __init__(self, conn):
        self.connection = conn

    def __enter__(self):
        self.orders = WorkOrderRepository(self.connection)
        return self

    def __exit__(self, *exc) -> None:
        pass  # the recorder's ``engine.begin()`` commits or rolls back

    def commit(self) -> None:
        pass

    def rollback(self) -> None:
        raise RuntimeError("a joined unit of work is rolled back by its owner")


class _Tx:
    def __init__(self, conn, service):
        self.conn = conn
        self.service = service
        self.notes: list[tuple[str, dict]] = []

    def note(self, kind: str, data: dict) -> None:
        self.notes.append((kind, data))


class ResultRecorder:
    """Turns a survey answer (or an agent's manual result) into the order's ``callback-result``.

    Idempotent: only the job's current ``callback_id`` while dialing counts; the
    order's state machine refuses a second result for the same round.  A
    dissatisfied answer reopens the order (重办), re-dispatches it to the
    department ``choose_department(order)`` returns (the same one by default)
    and, from the second dissatisfaction on, raises 督办.

    Each result is one transaction: the job, the order (through the service on
    the same connection) and, with ``outbox`` on, the notifications
    (``reopened``, ``supervised``, ``unreachable``) in ``callback_webhooks`` —
    so a crash never leaves an order changed without its job, nor a change
    without its notification.  After the commit ``notify(kind, data)`` (an
    in-process hook, best effort) is called and the service's subscribers get
    the order's events."""

    def __init__(self, engine, service, actor, *, notify: Callable[[str, dict], Any] | None = None,
                 choose_department: Callable[[dict], str | None] | None = None, outbox: bool = False):
        self.engine = engine
        self.service = service
        self.actor = actor
        self.notify = notify or (lambda kind, data: None)
        self.choose_department = choose_department or (lambda order: order.get("department"))
        self.outbox = outbox

    @contextmanager
    def _transaction(self, now: datetime):
        published: list[dict] = []
        with self.engine.begin() as conn:
            # the same service (taxonomy, calendar, settings) on this transaction; its events are
            # collected and published by the real service only after the commit
            scoped = copy.copy(self.service)
            scoped.uow_factory = lambda: _JoinedUnitOfWork(conn)
            scoped._subscribers = [published.extend]
            tx = _Tx(conn, scoped)
            yield tx
            if self.outbox:
                from callcenter.callbacks import outbox

                for kind, data in tx.notes:
                    outbox.enqueue(conn, kind, data, now)
        # committed: now the in-process listeners may hear of it
        if published:
            self.service.publish(published)
        for kind, data in tx.notes:
            try:
                self.notify(kind, data)
            except Exception:  # a broken hook must not turn a recorded result into an error
                log.exception("callback notify hook failed (%s)", kind)

    def survey_answer(self, callback_id: str, answer: str, now: datetime) -> dict | None:
        """The survey flow's answer for ``CALLBACK_ID``; ``None`` when nothing was recorded."""
        job = get_by_callback_id(self.engine, callback_id) if isinstance(callback_id, str) else None
        if job is None or job["state"] != "dialing":
            log.info("callback %r: answer %r ignored (unknown or already settled)", callback_id, answer)
            return None
        mapped = survey_result(answer)
        if mapped is None:
            return None  # no key pressed: the lease expiry counts it as a failed attempt
        return self._apply(job, mapped, answer, ("dialing",), f"survey:{callback_id}", now)

    def manual(self, job_id: int, answer: str, actor, now: datetime, note: str = "") -> dict:
        """An agent called by hand (from the callback list) and records what the citizen said."""
        job = get_job(self.engine, job_id)
        mapped = survey_result(answer)
        if mapped is None and answer != "unreachable":
            raise ValidationFailed("无效的回访结果 / invalid callback result",
                                   {"answer": "satisfied, basic, dissatisfied or unreachable"})
        if job["state"] not in ("scheduled", "unreachable"):
            raise CallbackConflict("该回访正在进行或已完成 / this callback is in progress or finished",
                                   {"id": job_id, "state": job["state"]})
        if answer == "unreachable":
            with self._transaction(now) as tx:
                res = tx.conn.execute(update(callback_jobs).where(J.id == job_id, J.state == "scheduled").values(
                    state="unreachable", result="unreachable", result_by=actor.user_id, updated_at=now))
                if res.rowcount:
                    tx.service.perform(job["order_number"], "callback-result",
                                       {"outcome": "unreachable",
                                        "note": note or "人工回访未接通 / manual: unreachable"}, actor, now)
            return get_job(self.engine, job_id)
        done = self._apply(job, mapped, answer, ("scheduled", "unreachable"), f"manual:{actor.user_id}", now,
                           actor=actor, note=note)
        if done is None:
            raise CallbackConflict("该回访正在进行或已完成 / this callback is in progress or finished",
                                   {"id": job_id})
        return done

    def online(self, job_id: int, answer: str, actor, now: datetime, note: str = "") -> dict:
        """The citizen rated the reply on the web portal: this round's result, so the scheduled (or
        failed) call is not made; a citizen who asked not to be phoned (skipped) may still rate.
        Refused (CallbackConflict) while the survey call is in progress or once a result is in."""
        job = get_job(self.engine, job_id)
        mapped = survey_result(answer)
        if mapped is None:
            raise ValidationFailed("无效的评价 / invalid rating", {"answer": "satisfied, basic or dissatisfied"})
        done = self._apply(job, mapped, answer, ("scheduled", "unreachable", "skipped"), f"web:{actor.user_id}", now,
                           actor=actor, note=note)
        if done is None:
            raise CallbackConflict("该回访正在进行或已完成 / this callback is in progress or finished", {"id": job_id})
        return done

    def attempt_failed(self, callback_id: str, reason: int | None, now: datetime, policy: CallbackPolicy,
                       calendar) -> dict | None:
        """A failed attempt (see :func:`attempt_failed`); after the last one the order records it
        unreachable (回访未接通) and supervisors are told — in the same transaction."""
        with self._transaction(now) as tx:
            job = _attempt_failed(tx.conn, callback_id, reason, now, policy, calendar)
            if job is not None and job["state"] == "unreachable":
                self._unreachable(tx, job, now)
        return job

    def attempt_interrupted(self, callback_id: str, now: datetime, policy: CallbackPolicy, calendar) -> dict | None:
        """The attempt of ``callback_id`` was placed and its controller lost it, and no channel of it
        is left: it counts (outcome ``interrupted``) and the policy's
        :meth:`~ticketing.callbacks.policy.CallbackPolicy.after_interrupted` says when to try again —
        never at once; after the last attempt the order is unreachable, as after a failed one."""
        with self._transaction(now) as tx:
            job = _attempt_interrupted(tx.conn, callback_id, now, policy, calendar)
            if job is not None and job["state"] == "unreachable":
                self._unreachable(tx, job, now)
        return job

    def _unreachable(self, tx: _Tx, job: dict, now: datetime) -> None:
        try:
            tx.service.perform(job["order_number"], "callback-result",
                               {"outcome": "unreachable",
                                "note": f"{job['attempts']} 次回访未接通 / unreachable after {job['attempts']} attempts"},
                               self.actor, now)
        except IllegalTransition:
            log.info("order %s: unreachable not recorded (already settled)", job["order_number"])
        tx.note("unreachable", {"number": job["order_number"], "attempts": job["attempts"],
                                "department": job["department"], "last_reason": job.get("last_reason")})

    def _apply(self, job, mapped, answer, expect, by, now, *, actor=None, note="") -> dict | None:
        actor = actor or self.actor
        outcome, satisfaction = mapped
        number = job["order_number"]
        with self._transaction(now) as tx:
            # the guarded job update first: a second delivery of the answer stops here, unchanged
            if not _finish(tx.conn, job["id"], expect=expect, result=answer, by=by, now=now, note=note or None):
                return None
            try:
                order = tx.service.perform(number, "callback-result", {
                    "outcome": outcome, "satisfaction": satisfaction,
                    "note": (note or f"回访 / callback: {answer}")[:500]}, actor, now)
            except IllegalTransition:
                order = None  # the order was settled elsewhere: finish the job, change nothing else
            if order is not None and outcome == "dissatisfied":
                self._reopen(tx, order, now)
        return get_job(self.engine, job["id"])

    def _reopen(self, tx: _Tx, order: dict, now: datetime) -> None:
        number = order["number"]
        department = self.choose_department(order) or order.get("department")
        tx.service.perform(number, "dispatch", {
            "department": department, "note": "回访不满意，重办 / dissatisfied at callback: reopened"},
            self.actor, now)
        tx.note("reopened", {"number": number, "department": department, "count": order["reopen_count"]})
        if order["reopen_count"] >= 2:
            tx.service.perform(number, "supervise", {
                "reason": f"第{order['reopen_count']}次回访不满意 / dissatisfied {order['reopen_count']} times"},
                replace(self.actor, role="supervisor"), now)  # the 督办 rule acts with supervisor authority
            tx.note("supervised", {"number": number, "department": department, "count": order["reopen_count"]})
