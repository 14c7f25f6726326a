"""`callcenter sla deadline`: when is a work order due?

Counts working time on the configured calendar (chinese-calendar holidays and
adjusted working days, plus the database's ``calendar_overrides``)."""
from __future__ import annotations

import sys
from datetime import datetime


def register(sub) -> None:
    parser = sub.add_parser("sla", help="SLA deadlines on the working calendar / 工单时限计算")
    actions = parser.add_subparsers(dest="sla_action", metavar="ACTION")
    actions.required = True
    p = actions.add_parser("deadline", help="print the deadline (ISO 8601) of a duration from a start instant")
    p.add_argument("--start", required=True, help="ISO 8601 instant; without an offset it is calendar-local time")
    p.add_argument("--duration", required=True, help='"5 working days", "4 working hours", "2 days", "5个工作日"')
    p.add_argument("--url", help="database with calendar_overrides (default: database.url; unreadable → package data only)")
    p.set_defaults(func=_deadline)


def _database_exists(url: str) -> bool:
    """Never create an empty SQLite file just to look for overrides."""
    from pathlib import Path

    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return True
    return bool(parsed.database) and parsed.database != ":memory:" and Path(parsed.database).is_file()


def _fail(message: str) -> int:
    print(f"callcenter sla: {message}", file=sys.stderr)
    return 2


def _deadline(args) -> int:
    from callcenter.db import default_url, make_engine
    from ticketing.calendar_data import build_calendar, read_overrides
    from ticketing.domain.durations import parse_duration
    from ticketing.domain.errors import DomainError

    hours = args.cfg.section("calendar")
    try:
        duration = parse_duration(args.duration)
    except DomainError as exc:
        return _fail(exc.message)
    try:
        start = datetime.fromisoformat(args.start)
    except ValueError:
        return _fail(f"--start {args.start!r} is not an ISO 8601 date/time (e.g. 2026-09-30T09:00:00+08:00)")
    overrides = []
    url = args.url or default_url(args.cfg)
    if _database_exists(url):
        try:
            engine = make_engine(url)
            try:
                overrides = read_overrides(engine)
            finally:
                engine.dispose()
        except Exception as exc:  # not migrated yet: the package's data still answers
            print(f"callcenter sla: note: calendar overrides not read ({type(exc).__name__}); "
                  "using chinese-calendar data only", file=sys.stderr)
    try:
        calendar = build_calendar(hours, overrides)
        if start.tzinfo is None:
            start = start.replace(tzinfo=calendar.tz)
        due = duration.after(start, calendar)
    except DomainError as exc:
        return _fail(exc.message)
    print(due.astimezone(calendar.tz).isoformat())
    return 0
