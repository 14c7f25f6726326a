"""Work orders: batched intake (created + dispatched/s through the service) and
SLA timer claims/s with 1 and 2 workers, on SQLite and PostgreSQL.

Each measurement runs in its own scratch database (a temporary SQLite file; a
``bench_tickets_*`` database created and dropped on the PostgreSQL server from
``--pg-url`` or CALLCENTER_TEST_PG).  The SLA part bulk-loads N open orders
(default 100,000; ``--orders 1000000`` for the README figure), each with one
due timer (half warnings, half breaches that raise 督办) and one future timer,
then workers drain the due ones with ``claim_due`` in parallel threads — the
same call the SlaWorker service makes from its thread pool.
"""
from __future__ import annotations

import os
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)  # Monday 10:00 in Ningbo


def add_arguments(parser) -> None:
    parser.add_argument("--intake", type=int, default=5000, help="orders created+dispatched per database (default 5000)")
    parser.add_argument("--batch", type=int, default=500, help="orders per create_many call (default 500)")
    parser.add_argument("--single", type=int, default=300, help="orders created then dispatched one call at a time")
    parser.add_argument("--orders", type=int, default=100_000, help="open orders for the SLA claim run (default 100000)")
    parser.add_argument("--claim-batch", type=int, default=1000, help="timers per claim transaction (default 1000)")
    parser.add_argument("--workers", default="1,2", help="worker counts to measure (default 1,2)")
    parser.add_argument("--db", choices=("both", "sqlite", "postgresql"), default="both")
    parser.add_argument("--part", choices=("all", "intake", "sla"), default="all")
    parser.add_argument("--pg-url", default=os.environ.get("CALLCENTER_TEST_PG", DEFAULT_PG),
                        help="PostgreSQL server URL (a scratch database is created there)")


@contextmanager
def scratch_database(kind: str, pg_url: str):
    """A migrated, empty database URL that is removed afterwards."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from callcenter.db import make_engine, upgrade

    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="bench-tickets-") as tmp:
            url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
            upgrade(url)
            yield url
        return
    name = f"bench_tickets_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = make_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _order_fields(i: int, taxonomy) -> dict:
    categories = sorted(taxonomy.categories)
    districts = sorted(taxonomy.districts)
    district = districts[i % len(districts)]
    return {"type": "complaint", "category": categories[i % len(categories)], "district": district,
            "summary": f"压测工单 bench order {i}", "description": "夜间施工噪声扰民。" * 4,
            "caller_name": "李女士", "caller_phone": f"139{i % 100_000_000:08d}", "address": "中山东路 100 号"}


def _intake(kind: str, args):
    from callcenter.db import make_engine
    from ticketing.calendar_data import build_calendar
    from ticketing.service import Actor, WorkOrderService
    from ticketing.taxonomy import load_taxonomy

    taxonomy, calendar = load_taxonomy(), build_calendar({})
    actor = Actor("bench", "dispatcher")
    with scratch_database(kind, args.pg_url) as url:
        engine = make_engine(url)
        service = WorkOrderService(engine, taxonomy, calendar)
        batch = [_order_fields(i, taxonomy) for i in range(args.intake)]
        started = time.perf_counter()
        for lo in range(0, len(batch), args.batch):
            service.create_many(batch[lo:lo + args.batch], actor, NOW, dispatch=True)
        elapsed = time.perf_counter() - started
        yield {"bench": "tickets", "part": "intake", "db": kind, "mode": "batched", "orders": args.intake,
               "batch": args.batch, "seconds": round(elapsed, 3),
               "orders_per_s": round(args.intake / elapsed, 1)}
        started = time.perf_counter()
        for i in range(args.single):
            number = service.create(batch[i], actor, NOW)["number"]
            service.perform(number, "dispatch", {}, actor, NOW)
        elapsed = time.perf_counter() - started
        yield {"bench": "tickets", "part": "intake", "db": kind, "mode": "single", "orders": args.single,
               "batch": 1, "seconds": round(elapsed, 3), "orders_per_s": round(args.single / elapsed, 1)}
        engine.dispose()


def _claims(kind: str, workers: int, args):
    from sqlalchemy import text

    from callcenter.db import make_engine
    from ticketing.calendar_data import build_calendar
    from ticketing.persistence.bulk import load_due_orders
    from ticketing.sla_worker import claim_due

    tz = build_calendar({}).tz
    with scratch_database(kind, args.pg_url) as url:
        engine = make_engine(url, **({} if kind == "sqlite" else {"pool_size": workers + 1}))
        started = time.perf_counter()
        load_due_orders(engine, args.orders, NOW, tz=tz)
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        load_s = time.perf_counter() - started
        counts = [0] * workers
        barrier = threading.Barrier(workers + 1)

        def run(slot: int) -> None:
            barrier.wait()
            while True:
                fired = claim_due(engine, NOW, args.claim_batch, worker=f"bench-{slot}")
                if not fired:
                    return
                counts[slot] += len(fired)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
        for t in threads:
            t.start()
        barrier.wait()
        started = time.perf_counter()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        with engine.connect() as conn:
            events = conn.execute(text("SELECT count(*), count(DISTINCT timer_id) FROM sla_events")).one()
        engine.dispose()
    yield {"bench": "tickets", "part": "sla_claims", "db": kind, "workers": workers, "open_orders": args.orders,
           "claimed": sum(counts), "per_worker": counts, "claim_batch": args.claim_batch,
           "duplicates": events[0] - events[1], "missed": args.orders - events[1],
           "load_seconds": round(load_s, 1), "seconds": round(elapsed, 3),
           "claims_per_s": round(sum(counts) / elapsed, 1)}


def run(args):
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    workers = [int(w) for w in str(args.workers).split(",") if w.strip()]
    for kind in kinds:
        if args.part in ("all", "intake"):
            yield from _intake(kind, args)
        if args.part in ("all", "sla"):
            for n in workers:
                yield from _claims(kind, n, args)
