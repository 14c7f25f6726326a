"""Two of each background worker on one PostgreSQL never do one job twice and leave none undone.

Each "process" has its own engine (its own connection pool, its own database sessions), as two
``serve`` processes have; the two race in threads through the production claim functions: the SLA
worker's ``claim_due``, the callback worker's ``claim_due``, the transcription queue's ``claim`` and
the search service's feed-and-drain round.
"""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from callcenter.db import make_engine
from tests.ticketing.helpers import CST, cst

pytestmark = pytest.mark.postgres

NOW = cst(2026, 11, 23, 10, 0)


@pytest.fixture
def two_processes(pg_url):
    engines = [make_engine(pg_url, pool_size=2), make_engine(pg_url, pool_size=2)]
    yield engines
    for engine in engines:
        engine.dispose()


def race(engines, claim_batch) -> list[list]:
    """Each engine's worker claims (``claim_batch(engine, worker) -> list``) until nothing is left;
    both start together.  Returns what each claimed."""
    barrier = threading.Barrier(len(engines))
    claimed: list[list] = [[] for _ in engines]
    errors: list[BaseException] = []

    def run(slot: int) -> None:
        try:
            barrier.wait()
            while True:
                got = claim_batch(engines[slot], f"process-{slot}")
                if not got:
                    return
                claimed[slot].extend(got)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(engines))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    return claimed


def assert_each_once(claimed: list[list], expected: set) -> None:
    everything = [x for part in claimed for x in part]
    assert len(everything) == len(set(everything)), "a job was done twice"
    assert set(everything) == expected, "a job was left undone"


def test_two_sla_workers_fire_each_due_timer_once(two_processes):
    from ticketing.persistence.bulk import load_due_orders
    from ticketing.persistence.tables import sla_events, sla_timers
    from ticketing.sla_worker import claim_due

    load_due_orders(two_processes[0], 400, NOW, tz=CST)
    with two_processes[0].connect() as conn:
        due = {r for (r,) in conn.execute(select(sla_timers.c.id).where(sla_timers.c.due_at <= NOW))}
    claimed = race(two_processes, lambda e, w: [f["timer_id"] for f in claim_due(e, NOW, limit=20, worker=w)])
    assert_each_once(claimed, due)
    with two_processes[1].connect() as conn:
        assert conn.execute(select(func.count()).select_from(sla_events)).scalar_one() == len(due)


def test_two_callback_workers_dial_each_due_callback_once(two_processes):
    from callcenter.callbacks import jobs
    from callcenter.callbacks.tables import callback_jobs

    rows = [{"order_number": f"20261123{i:06d}", "round": 0, "phone": f"1380000{i:04d}", "category": "noise",
             "urgency": "normal", "state": "scheduled", "attempts": 0, "due_at": NOW - timedelta(minutes=5),
             "created_at": NOW, "updated_at": NOW} for i in range(300)]
    with two_processes[0].begin() as conn:
        conn.execute(insert(callback_jobs), rows)
        ids = {r for (r,) in conn.execute(select(callback_jobs.c.id))}
    claimed = race(two_processes, lambda e, w: [j["id"] for j in jobs.claim_due(e, NOW, w, limit=10)])
    assert_each_once(claimed, ids)
    with two_processes[0].connect() as conn:
        states = dict(conn.execute(select(callback_jobs.c.state, func.count()).group_by(callback_jobs.c.state)).all())
    assert states == {"dialing": len(ids)}


def test_two_transcription_workers_take_each_recording_once(two_processes):
    from callcenter.asr.jobs import TranscriptionQueue

    queues = {id(e): TranscriptionQueue(e) for e in two_processes}
    ids = {queues[id(two_processes[0])].enqueue(f"/rec/{i}.wav", NOW, call_id=f"c-{i}") for i in range(150)}

    def claim(engine, worker):
        job = queues[id(engine)].claim(worker, NOW)
        return [job.id] if job is not None else []

    assert_each_once(race(two_processes, claim), ids)


def test_two_search_services_queue_and_index_each_order_once(two_processes, tmp_path):
    """The search outbox is fed and drained by one process at a time (an advisory lock): while one
    holds the round the other skips it, and racing rounds put every order into the index once."""
    from sqlalchemy import text

    from callcenter.search.embedded import EmbeddedIndex
    from callcenter.search.outbox import exclusive_round, search_outbox
    from callcenter.search.service import SearchService
    from ticketing.persistence.bulk import load_due_orders

    numbers = load_due_orders(two_processes[0], 300, NOW, tz=CST)
    assert numbers
    index = EmbeddedIndex(tmp_path / "index.sqlite3")  # one index both write to, as with Elasticsearch
    services = {id(e): SearchService(e, index, refresh_seconds=0) for e in two_processes}
    try:
        with exclusive_round(two_processes[0]) as mine:
            assert mine
            assert services[id(two_processes[1])].refresh(NOW, force=True) == 0  # skipped, not waited
        applied = race(two_processes, lambda e, w: [n for n in [services[id(e)].refresh(NOW, force=True)] if n])
        assert sum(n for part in applied for n in part) == 300, applied
        with two_processes[0].connect() as conn:
            assert conn.execute(select(func.count()).select_from(search_outbox)).scalar_one() == 0
            assert conn.execute(text("SELECT count(*) FROM work_orders")).scalar_one() == 300
        assert sum(1 for _ in index._conn.execute("SELECT * FROM fts_workorder")) == 300
    finally:
        index.close()
