"""`callcenter sla deadline`: when is a work order due?

Counts working time on the configured calendar (chinese-calendar holidays and
adjusted working days, plus the database's ``calendar_overrides``)."""
from __future__ import annotations

import sys
from contextlib import contextmanager
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

    o = actions.add_parser("override", help="calendar overrides in the database / 节假日调整 (calendar_overrides)")
    o.add_argument("--url", help="database URL (default: database.url)")
    ops = o.add_subparsers(dest="override_action", metavar="OP")
    ops.required = True
    ls = ops.add_parser("list", help="print the override days")
    ls.set_defaults(func=_override_list)
    st = ops.add_parser("set", help="mark a day as holiday or working day (replaces an existing entry)")
    st.add_argument("day", help="YYYY-MM-DD")
    kind = st.add_mutually_exclusive_group(required=True)
    kind.add_argument("--holiday", action="store_true", help="a day off (放假)")
    kind.add_argument("--workday", action="store_true", help="a working day (调休上班)")
    st.add_argument("--note", required=True, help="why, e.g. 元旦 New Year's Day")
    st.set_defaults(func=_override_set)
    rm = ops.add_parser("delete", help="remove an override day")
    rm.add_argument("day", help="YYYY-MM-DD")
    rm.set_defaults(func=_override_delete)


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
    if duration.working and calendar.touches_unknown(start, due):
        unknown = sorted({y for y in range(start.year, due.year + 1) if y not in calendar.known_years})
        print(f"callcenter sla: note: provisional 临时结果 — no holiday data for {', '.join(map(str, unknown))}; "
              "counted Monday–Friday plus calendar_overrides (add the year's holidays with `sla override set`)",
              file=sys.stderr)
    return 0


@contextmanager
def _override_engine(args):
    """The database of ``--url`` (or the configuration) for one command, closed after it."""
    from callcenter.commands._database import migrated_engine
    from callcenter.db import default_url

    engine = migrated_engine(args.url or default_url(args.cfg))
    try:
        yield engine
    finally:
        engine.dispose()


def _day(text: str):
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _override_list(args) -> int:
    from ticketing.calendar_data import read_overrides

    with _override_engine(args) as engine:
        for row in read_overrides(engine):
            kind = "workday 上班" if row["is_workday"] else "holiday 放假"
            print(f"{row['day'].isoformat()}\t{kind}\t{row['note']}")
    return 0


def _override_set(args) -> int:
    from ticketing.calendar_data import set_override
    from ticketing.domain.errors import DomainError

    day = _day(args.day)
    if day is None:
        return _fail(f"{args.day!r} is not a date (YYYY-MM-DD)")
    with _override_engine(args) as engine:
        try:
            set_override(engine, day, bool(args.workday), args.note)
        except DomainError as exc:
            return _fail(f"{exc.message} {exc.details}")
    print(f"{day.isoformat()} {'workday' if args.workday else 'holiday'}: {args.note}")
    return 0


def _override_delete(args) -> int:
    from ticketing.calendar_data import delete_override

    day = _day(args.day)
    if day is None:
        return _fail(f"{args.day!r} is not a date (YYYY-MM-DD)")
    with _override_engine(args) as engine:
        delete_override(engine, day)
    return 0
