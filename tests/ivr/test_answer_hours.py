"""ivr.answer_hours: a hotline answers in its own periods (through the departments' lunch break, into the
evening) on the calendar's working days; without them the calendar's working hours apply."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ivr.services import answer_periods, working_hours

CST = timezone(timedelta(hours=8))


@pytest.fixture(scope="module")
def calendar():
    from ticketing.calendar_data import build_calendar

    return build_calendar({})


@pytest.mark.parametrize("when,expected", [
    (datetime(2026, 11, 23, 12, 30, tzinfo=CST), True),   # Monday lunch break: still answering
    (datetime(2026, 11, 23, 19, 59, tzinfo=CST), True),   # evening, before 20:00
    (datetime(2026, 11, 23, 20, 0, tzinfo=CST), False),   # the period's end is closed
    (datetime(2026, 11, 23, 7, 59, tzinfo=CST), False),
    (datetime(2026, 11, 28, 12, 0, tzinfo=CST), False),   # Saturday: not a working day
])
def test_answer_hours_replace_the_calendars_periods_on_working_days(calendar, when, expected):
    assert working_hours(calendar, answer_periods(["08:00-20:00"]))(when) is expected


def test_without_answer_hours_the_lunch_break_is_closed(calendar):
    assert working_hours(calendar, answer_periods([]))(datetime(2026, 11, 23, 12, 30, tzinfo=CST)) is False


@pytest.mark.parametrize("bad", ["8-20", "20:00-08:00", "08:00"])
def test_a_malformed_period_is_refused_naming_the_setting(bad):
    with pytest.raises(ValueError, match="ivr.answer_hours"):
        answer_periods([bad])
