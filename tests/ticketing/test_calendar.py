"""The working calendar: chinese-calendar holidays and 调休 days, hours, overrides."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import chinese_calendar
import pytest

from ticketing.calendar_data import build_calendar, load_calendar, read_overrides, set_override
from ticketing.domain.calendar import WorkingCalendar
from ticketing.domain.durations import parse_duration
from ticketing.domain.errors import ValidationFailed
from tests.ticketing.helpers import CALENDAR, CST, cst

UTC = timezone.utc


def test_national_day_2026_per_package():
    """2026 National Day: Oct 1-7 off; the Sunday Sep 20 and Saturday Oct 10 are worked, as chinese_calendar says."""
    for day in range(1, 8):
        d = date(2026, 10, day)
        assert chinese_calendar.is_holiday(d) and not CALENDAR.is_workday(d), d
    assert CALENDAR.is_workday(date(2026, 10, 8))  # the package ends the holiday on the 7th
    for adjusted in (date(2026, 9, 20), date(2026, 10, 10)):
        assert adjusted.weekday() >= 5 and chinese_calendar.is_workday(adjusted)
        assert CALENDAR.is_workday(adjusted), adjusted
    assert not CALENDAR.is_workday(date(2026, 10, 11))  # an ordinary Sunday


def test_spring_festival_2026_per_package():
    """Spring Festival 2026: Feb 15-23 off, Saturdays Feb 14 and Feb 28 worked."""
    for offset in range(9):
        d = date(2026, 2, 15) + timedelta(days=offset)
        assert not CALENDAR.is_workday(d), d
    for adjusted in (date(2026, 2, 14), date(2026, 2, 28)):
        assert adjusted.weekday() == 5 and CALENDAR.is_workday(adjusted)
    assert CALENDAR.is_workday(date(2026, 2, 24))


def test_deadline_spans_national_day():
    """Two working days from Wed Sep 30 09:00 skip the whole holiday: Sep 30 + Oct 8 → end of Oct 8."""
    due = parse_duration("2 working days").after(cst(2026, 9, 30, 9, 0), CALENDAR)
    assert due.astimezone(CST) == cst(2026, 10, 8, 17, 30)
    due = parse_duration("3 working days").after(cst(2026, 9, 30, 9, 0), CALENDAR)
    assert due.astimezone(CST) == cst(2026, 10, 9, 17, 30)


def test_deadline_counts_adjusted_saturday():
    """From Fri Oct 9 17:00, 4 working hours run 0.5 h on Friday and continue on the worked Saturday Oct 10."""
    due = CALENDAR.add_working_time(cst(2026, 10, 9, 17, 0), timedelta(hours=4))
    assert due.astimezone(CST) == cst(2026, 10, 10, 14, 0)  # 09:00-12:00, then 13:30-14:00


def test_spring_festival_deadline():
    """One working day from Fri Feb 13 12:00: 4 h that Friday, 3 h on Saturday Feb 14 (worked) → Feb 14 12:00."""
    due = parse_duration("1 working days").after(cst(2026, 2, 13, 12, 0), CALENDAR)
    assert due.astimezone(CST) == cst(2026, 2, 14, 12, 0)
    # and the next 7 working hours after that jump the whole holiday to Feb 24
    due2 = CALENDAR.add_working_time(cst(2026, 2, 14, 17, 30), timedelta(hours=7))
    assert due2.astimezone(CST) == cst(2026, 2, 24, 17, 30)


def test_lunch_break_and_evenings_are_not_counted():
    """Working seconds exclude 12:00-13:30 and the night; starting at night begins next morning."""
    assert CALENDAR.working_seconds_between(cst(2026, 11, 23, 11, 0), cst(2026, 11, 23, 14, 0)) == 1.5 * 3600
    assert CALENDAR.add_working_time(cst(2026, 11, 23, 22, 0), timedelta(hours=1)) == cst(2026, 11, 24, 10, 0)
    assert CALENDAR.working_seconds_between(cst(2026, 11, 27, 17, 0), cst(2026, 11, 30, 9, 30)) == 3600
    assert CALENDAR.working_seconds_between(cst(2026, 11, 30, 9, 30), cst(2026, 11, 27, 17, 0)) == -3600


def test_unknown_year_is_provisional_and_reported(caplog):
    """2027 is beyond the package: counted Mon–Fri, flagged by touches_unknown, warned once per year."""
    calendar = WorkingCalendar(tz=CST, periods=CALENDAR.periods, holidays=CALENDAR.holidays,
                               workdays=CALENDAR.workdays, known_years=CALENDAR.known_years)
    with caplog.at_level("WARNING", logger="ticketing.domain.calendar"):
        due = calendar.add_working_time(cst(2026, 12, 31, 9, 0), timedelta(hours=30))
        calendar.add_working_time(cst(2027, 3, 1, 9, 0), timedelta(hours=30))
    # 7 h a day: Thu 31 Dec, Fri 1 Jan (元旦 unknown, counted), Mon 4, Tue 5 = 28 h, then 2 h on Wed 6
    assert due.astimezone(CST) == cst(2027, 1, 6, 11, 0)
    assert calendar.touches_unknown(cst(2026, 12, 31, 9, 0), due)
    assert not calendar.touches_unknown(cst(2026, 11, 2, 9, 0), cst(2026, 12, 30, 9, 0))
    assert [r.message.count("2027") > 0 for r in caplog.records] == [True]
    assert not calendar.is_workday(date(2027, 1, 2))


def test_provisional_deadline_round_trips():
    """A Deadline into 2027 is marked provisional and keeps the mark through to_dict/from_dict and pause."""
    from ticketing.domain.durations import parse_duration
    from ticketing.domain.sla import Deadline, SlaContext, SlaTargets

    targets = SlaTargets.parse({"acknowledge": "1 working day", "resolve": "5 working days",
                                "callback": "2 working days"})
    ctx = SlaContext(calendar=CALENDAR, targets=targets)
    d = Deadline.start("resolve", parse_duration("5 working days"), cst(2026, 12, 30, 9, 0), ctx)
    assert d.provisional and Deadline.from_dict(d.to_dict()) == d
    early = Deadline.start("resolve", parse_duration("5 working days"), cst(2026, 11, 2, 9, 0), ctx)
    assert not early.provisional and d.to_dict()["provisional"] is True
    assert d.pause(cst(2026, 12, 31, 9, 0), CALENDAR).resume(cst(2026, 12, 31, 10, 0), CALENDAR).provisional


def test_overrides_extend_and_adjust(sqlite_url):
    """DB overrides add a year the package lacks and move a local day (typhoon closure)."""
    from callcenter.db import make_engine

    engine = make_engine(sqlite_url)
    set_override(engine, date(2027, 1, 1), False, "元旦 New Year 2027")
    set_override(engine, date(2026, 11, 24), False, "台风停工 typhoon closure")
    set_override(engine, date(2026, 11, 24), False, "台风停工 typhoon closure (confirmed)")
    calendar = load_calendar(engine)
    assert len(read_overrides(engine)) == 2
    assert not calendar.is_workday(date(2027, 1, 1))
    assert calendar.is_workday(date(2027, 1, 4))  # 2027 is now a known year
    assert not calendar.is_workday(date(2026, 11, 24))
    assert calendar.add_working_time(cst(2026, 11, 23, 17, 0), timedelta(hours=1)) == cst(2026, 11, 25, 9, 30)
    with pytest.raises(ValidationFailed):
        set_override(engine, "2027-01-02", True, "not a date object")
    engine.dispose()


def test_calendar_rejects_bad_configuration():
    """Overlapping hours, naive datetimes, negative durations and a day both off and on are refused."""
    with pytest.raises(ValidationFailed):
        WorkingCalendar(tz=CST, periods=[(time(9), time(12)), (time(11), time(17))], known_years=[2026])
    with pytest.raises(ValidationFailed):
        WorkingCalendar(tz=CST, periods=[(time(9), time(17))], holidays=[date(2026, 1, 1)],
                        workdays=[date(2026, 1, 1)], known_years=[2026])
    with pytest.raises(ValidationFailed):
        CALENDAR.add_working_time(datetime(2026, 11, 23, 9), timedelta(hours=1))
    with pytest.raises(ValidationFailed):
        CALENDAR.add_working_time(cst(2026, 11, 23, 9), timedelta(hours=-1))
    with pytest.raises(ValidationFailed):
        build_calendar({"work_start": "nine"})


@pytest.mark.parametrize("text,expected", [
    ("5 working days", (5, "days", True)), ("4 working hours", (4, "hours", True)), ("2 days", (2, "days", False)),
    ("30 minutes", (30, "minutes", False)), ("5个工作日", (5, "days", True)), ("2 工作小时", (2, "hours", True)),
])
def test_parse_duration(text, expected):
    """The documented duration spellings parse to amount, unit, working."""
    d = parse_duration(text)
    assert (d.amount, d.unit, d.working) == expected


@pytest.mark.parametrize("text", ["", "5", "five days", "-1 days", "0 working days", "5 weeks", "x" * 100, None])
def test_parse_duration_rejects(text):
    """Anything else is a ValidationFailed naming the accepted forms."""
    with pytest.raises(ValidationFailed):
        parse_duration(text)
