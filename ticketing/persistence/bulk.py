"""Set-based bulk loading of open orders with due SLA timers, for the SLA
benchmark and the worker concurrency test.  One INSERT … SELECT per table
(``generate_series`` on PostgreSQL, a recursive CTE on SQLite), so a million
orders load in seconds without a Python loop."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, text

from ticketing.persistence.repository import WorkOrderRepository
from ticketing.persistence.tables import UtcDateTime

_SERIES = {
    "postgresql": "SELECT g AS i FROM generate_series(1, :n) AS g",
    "sqlite": "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < :n) SELECT i FROM s",
}
_NUMBER = {
    "postgresql": "CAST(:day AS TEXT) || lpad(CAST(:first + i - 1 AS TEXT), greatest(5, length(CAST(:first + i - 1 AS TEXT))), '0')",
    "sqlite": "printf('%s%05d', :day, :first + i - 1)",
}


def load_due_orders(engine, count: int, now: datetime, *, tz, batch: int = 200_000) -> list[str]:
    """Insert ``count`` dispatched orders, each with one due timer (alternately a
    warning and a breach) and one future resolve breach; returns the number range."""
    day = now.astimezone(tz).strftime("%Y%m%d")
    due = now - timedelta(minutes=1)
    later = now + timedelta(days=30)
    first_last = []
    done = 0
    while done < count:
        n = min(batch, count - done)
        with engine.begin() as conn:
            dialect = conn.dialect.name
            numbers = WorkOrderRepository(conn).allocate_numbers(day, n)
            before = conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM work_orders")).scalar_one()
            first = int(numbers[0][8:])
            series = _SERIES[dialect]
            stamp = lambda name: bindparam(name, type_=UtcDateTime())  # noqa: E731
            conn.execute(text(f"""
                INSERT INTO work_orders (number, type, category, district, urgency, channel, summary, call_ids,
                    department, co_departments, status, supervised, reminders, reopen_count, pending, deadlines,
                    next_due_at, created_at, updated_at, version)
                SELECT {_NUMBER[dialect]}, 'complaint', 'street-vending', 'haishu', 'normal', 'phone',
                    'bench order', '[]', 'urban-management', '[]', 'dispatched', FALSE, 0, 0, '{{}}', '{{}}',
                    :due, :now, :now, 1
                FROM ({series}) AS s
            """).bindparams(stamp("due"), stamp("now")), {"n": n, "day": day, "first": first, "due": due, "now": now})
            conn.execute(text("""
                INSERT INTO sla_timers (order_id, kind, phase, due_at)
                SELECT id, 'acknowledge', CASE WHEN id % 2 = 0 THEN 'warning' ELSE 'breach' END, :due
                FROM work_orders WHERE id > :before
            """).bindparams(stamp("due")), {"due": due, "before": before})
            conn.execute(text("""
                INSERT INTO sla_timers (order_id, kind, phase, due_at)
                SELECT id, 'resolve', 'breach', :later
                FROM work_orders WHERE id > :before
            """).bindparams(stamp("later")), {"later": later, "before": before})
        first_last.append((numbers[0], numbers[-1]))
        done += n
    return [first_last[0][0], first_last[-1][1]] if first_last else []
