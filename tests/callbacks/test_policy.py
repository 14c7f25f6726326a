"""The pure callback policy: calling hours on the working calendar, same-day urgent calls,
retry spacing and the end of attempts — all with explicit instants (a fake clock)."""
from __future__ import annotations

from datetime import time

import pytest

from tests.callbacks.helpers import CALENDAR, cst
from ticketing.callbacks.policy import CallbackPolicy, survey_result
from ticketing.domain.errors import ValidationFailed

POLICY = CallbackPolicy()
UTC_OF = lambda d: d.astimezone(cst(2026, 1, 1).tzinfo)  # noqa: E731


def test_normal_order_is_called_from_the_next_working_morning():
    """A Friday-afternoon reply is called on Monday 08:00, not on the weekend."""
    assert UTC_OF(POLICY.first_attempt(cst(2026, 11, 27, 15, 0), "normal", CALENDAR)) == cst(2026, 11, 30, 8, 0)


def test_urgent_order_same_day_inside_hours_else_next_opening():
    """Urgent: right away at 15:00; at 21:00 (after 20:00) the next working day's 08:00; 07:00 waits to 08:00."""
    assert UTC_OF(POLICY.first_attempt(cst(2026, 11, 27, 15, 0), "urgent", CALENDAR)) == cst(2026, 11, 27, 15, 0)
    assert UTC_OF(POLICY.first_attempt(cst(2026, 11, 27, 21, 0), "urgent", CALENDAR)) == cst(2026, 11, 30, 8, 0)
    assert UTC_OF(POLICY.first_attempt(cst(2026, 11, 25, 7, 0), "urgent", CALENDAR)) == cst(2026, 11, 25, 8, 0)


def test_national_day_holiday_is_skipped():
    """A reply on 30 Sep 2026 is called back after the 国庆 holiday (1–7 Oct), on 8 Oct."""
    assert UTC_OF(POLICY.first_attempt(cst(2026, 9, 30, 10, 0), "normal", CALENDAR)) == cst(2026, 10, 8, 8, 0)
    assert not POLICY.may_call(cst(2026, 10, 3, 10, 0), CALENDAR)
    assert POLICY.may_call(cst(2026, 10, 8, 19, 59), CALENDAR) and not POLICY.may_call(cst(2026, 10, 8, 20, 0), CALENDAR)


def test_callback_deadline_pulls_the_first_call_forward():
    """When the next morning would miss the category's callback deadline, call the same day."""
    at = POLICY.first_attempt(cst(2026, 11, 23, 10, 0), "normal", CALENDAR, due_by=cst(2026, 11, 23, 18, 0))
    assert UTC_OF(at) == cst(2026, 11, 23, 10, 0)


def test_retries_are_spaced_inside_calling_hours_then_unreachable():
    """No answer at 19:50: +30 min is after 20:00, so the retry is next morning; the 3rd failure ends it."""
    d = POLICY.after_attempt(1, 3, cst(2026, 11, 23, 19, 50), CALENDAR)
    assert d.kind == "retry" and UTC_OF(d.at) == cst(2026, 11, 24, 8, 0)
    d = POLICY.after_attempt(2, 5, cst(2026, 11, 24, 9, 0), CALENDAR)
    assert d.kind == "retry" and UTC_OF(d.at) == cst(2026, 11, 24, 11, 0)
    assert POLICY.after_attempt(3, 8, cst(2026, 11, 24, 11, 0), CALENDAR).kind == "unreachable"
    with pytest.raises(ValidationFailed):
        POLICY.after_attempt(1, 4, cst(2026, 11, 24, 11, 0), CALENDAR)


def test_unknown_year_uses_the_provisional_weekdays():
    """2027 has no holiday data: Friday 1 Jan 2027 counts as a (provisional) working day, not an error."""
    assert UTC_OF(POLICY.first_attempt(cst(2026, 12, 31, 21, 0), "urgent", CALENDAR)) == cst(2027, 1, 1, 8, 0)


def test_configuration_is_validated():
    """[callbacks] settings are parsed; impossible hours or attempts are refused with an error id."""
    p = CallbackPolicy.from_config({"calling_start": "09:00", "calling_end": "18:30", "max_attempts": 2,
                                    "retry_minutes": [10, 60]})
    assert (p.calling_start, p.calling_end, p.max_attempts, p.retry_spacing) == (time(9), time(18, 30), 2, (600.0, 3600.0))
    for bad in ({"calling_start": "20:00", "calling_end": "08:00"}, {"max_attempts": 0},
                {"calling_start": "8 o'clock"}, {"retry_minutes": [-5]}):
        with pytest.raises(ValidationFailed) as info:
            CallbackPolicy.from_config(bad)
        assert info.value.error_id == "workorder.validation_failed"


def test_next_day_setting_decides_when_normal_orders_are_first_called():
    """[callbacks] next_day: true (the default) waits for the next working morning; false calls a
    normal order as soon as calling hours allow — the same afternoon, or the next opening after 20:00;
    a value that is not a boolean is refused."""
    friday_afternoon, friday_night = cst(2026, 11, 27, 15, 0), cst(2026, 11, 27, 21, 0)
    default = CallbackPolicy.from_config({"next_day": True})
    assert default.next_day and CallbackPolicy.from_config({}).next_day
    assert UTC_OF(default.first_attempt(friday_afternoon, "normal", CALENDAR)) == cst(2026, 11, 30, 8, 0)
    same_day = CallbackPolicy.from_config({"next_day": False})
    assert not same_day.next_day
    assert UTC_OF(same_day.first_attempt(friday_afternoon, "normal", CALENDAR)) == friday_afternoon
    assert UTC_OF(same_day.first_attempt(friday_night, "normal", CALENDAR)) == cst(2026, 11, 30, 8, 0)
    with pytest.raises(ValidationFailed):
        CallbackPolicy.from_config({"next_day": "no"})


def test_survey_answers_map_to_outcomes():
    """Keys 1/2/3 of the survey (satisfied / basic / dissatisfied) map to closed or reopened; silence to none."""
    assert survey_result("satisfied") == ("satisfied", 5)
    assert survey_result("basic") == ("satisfied", 4)
    assert survey_result("dissatisfied") == ("dissatisfied", 1)
    assert survey_result("no_answer") is None
