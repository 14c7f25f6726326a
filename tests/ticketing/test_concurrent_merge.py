"""Concurrent merges of the same pair of orders, with two real transactions.

Each merge runs in its own thread with its own unit of work (the service opens
one per call).  Threads are lined up with barriers on the SQL they execute, so
the interleaving that used to deadlock (each transaction holding one of the two
rows and waiting for the other) is forced, not hoped for.
"""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import event, select

from callcenter.db import make_engine
from ticketing.domain.errors import ConcurrentUpdate, DomainError, IllegalTransition
from ticketing.persistence import SqlAlchemyUnitOfWork
from ticketing.persistence.tables import work_order_history
from ticketing.service import Actor, WorkOrderService
from tests.ticketing.helpers import CALENDAR, TAXONOMY, cst, fields

NOW = cst(2026, 11, 23, 10, 0)
AGENT = Actor("agent-1", "agent")
DISPATCHER = Actor("disp-1", "dispatcher")
WAIT = 30  # seconds a barrier waits before failing the test instead of hanging it


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def _line_up_lockers(engine, *, hold_partial: bool = True) -> None:
    """Make two threads start locking together, and (``hold_partial``) hold any thread that
    has locked only one row of a pair until the other thread has locked too.

    With one-row-at-a-time locking (A then B against B then A) this puts each
    transaction on one row, waiting for the other's: a guaranteed deadlock.  With
    the pair locked in one statement a thread never holds just one row, and the
    second thread simply queues behind the first."""
    start, partial = threading.Barrier(2, timeout=WAIT), threading.Barrier(2, timeout=WAIT)
    seen = threading.local()

    @event.listens_for(engine, "before_cursor_execute")
    def before(conn, cursor, statement, parameters, context, executemany):
        if "FOR UPDATE" in statement and not getattr(seen, "started", False):
            seen.started = True
            start.wait()

    @event.listens_for(engine, "after_cursor_execute")
    def after(conn, cursor, statement, parameters, context, executemany):
        if hold_partial and "FOR UPDATE" in statement and cursor.rowcount == 1 and not getattr(seen, "paused", False):
            seen.paused = True
            partial.wait()


def _run_both(calls) -> list:
    """Run the calls in two threads at once; each result is the returned value or the exception."""
    results: list = [None, None]

    def run(i, fn):
        try:
            results[i] = fn()
        except Exception as exc:  # noqa: BLE001 - the test inspects what each side got
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT * 2)
        assert not t.is_alive(), "a merge hung"
    return results


def _merges_in_history(engine) -> list[tuple[int, str]]:
    with engine.connect() as conn:
        return conn.execute(select(work_order_history.c.order_id, work_order_history.c.action)
                            .where(work_order_history.c.action.in_(("merge", "merged-from")))
                            .order_by(work_order_history.c.id)).all()


def test_opposite_merges_at_once_one_wins_the_other_is_refused(engine):
    """A→B and B→A together: no deadlock and no 500; exactly one merge is stored, the
    other is refused by the domain (its target is already merged) with a 409."""
    service = WorkOrderService(engine, TAXONOMY, CALENDAR)
    a = service.create(fields(call_ids=["ca"]), AGENT, NOW)["number"]
    b = service.create(fields(summary="同一事件", call_ids=["cb"]), AGENT, NOW)["number"]
    _line_up_lockers(engine)
    results = _run_both([lambda: service.perform(a, "merge", {"into": b}, DISPATCHER, NOW),
                         lambda: service.perform(b, "merge", {"into": a}, DISPATCHER, NOW)])
    won = [r for r in results if isinstance(r, dict)]
    lost = [r for r in results if isinstance(r, Exception)]
    assert len(won) == 1 and len(lost) == 1, results
    assert isinstance(lost[0], IllegalTransition), repr(lost[0])
    assert lost[0].http_status == 409 and lost[0].details["status"] == "merged"
    winner, into = won[0]["number"], won[0]["merged_into"]
    assert {winner, into} == {a, b}
    assert service.get(winner, DISPATCHER)["status"] == "merged"
    survivor = service.get(into, DISPATCHER)
    assert survivor["status"] == "registered" and sorted(survivor["call_ids"]) == ["ca", "cb"]
    assert [action for _, action in _merges_in_history(engine)] == ["merged-from", "merge"]


def test_the_same_merge_twice_at_once_is_stored_once(engine):
    """Two requests merging A into B at the same moment: one merges, the other finds A
    already merged and is refused; B absorbs A's calls once."""
    service = WorkOrderService(engine, TAXONOMY, CALENDAR)
    a = service.create(fields(call_ids=["ca"]), AGENT, NOW)["number"]
    b = service.create(fields(call_ids=["cb"]), AGENT, NOW)["number"]
    _line_up_lockers(engine, hold_partial=False)  # same lock order on both sides: nothing to interleave
    results = _run_both([lambda: service.perform(a, "merge", {"into": b}, DISPATCHER, NOW)] * 2)
    assert sum(isinstance(r, dict) for r in results) == 1, results
    [refused] = [r for r in results if isinstance(r, Exception)]
    assert isinstance(refused, IllegalTransition) and refused.details["status"] == "merged"
    assert service.get(b, DISPATCHER)["call_ids"] == ["cb", "ca"]
    assert len(_merges_in_history(engine)) == 2  # one "merge" on A, one "merged-from" on B


@pytest.mark.postgres
def test_a_deadlock_the_database_breaks_becomes_a_409(pg_url):
    """Should two transactions still deadlock (here: locking two orders one at a time in
    opposite order), the victim gets ConcurrentUpdate (409, error_id concurrent_update)
    naming the reason, not a raw database error, and the other one commits."""
    engine = make_engine(pg_url)
    try:
        service = WorkOrderService(engine, TAXONOMY, CALENDAR)
        a = service.create(fields(), AGENT, NOW)["number"]
        b = service.create(fields(), AGENT, NOW)["number"]
        both_hold_one = threading.Barrier(2, timeout=WAIT)

        def lock(first, second):
            with SqlAlchemyUnitOfWork(engine) as uow:
                order = uow.orders.get(first, for_update=True)
                both_hold_one.wait()
                uow.orders.get(second, for_update=True)
                order.perform("supervise", {}, actor="sup", role="supervisor", now=NOW,
                              sla=service.sla_context(order))
                uow.orders.save(order)
                uow.commit()
            return first

        results = _run_both([lambda: lock(a, b), lambda: lock(b, a)])
        errors = [r for r in results if isinstance(r, Exception)]
        assert len(errors) == 1, results
        assert isinstance(errors[0], ConcurrentUpdate) and isinstance(errors[0], DomainError)
        assert errors[0].error_id == "workorder.concurrent_update" and errors[0].http_status == 409
        assert errors[0].details == {"reason": "deadlock_detected"}
        [committed] = [r for r in results if isinstance(r, str)]
        assert service.get(committed, DISPATCHER)["supervised"] is True
    finally:
        engine.dispose()
