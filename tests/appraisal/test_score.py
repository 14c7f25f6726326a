"""The pure appraisal: each figure is credited to the department holding the order at the time, the score is
the weighted mean of the components that have data, and the weights are checked."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ticketing.domain.appraisal import DEFAULT_WEIGHTS, Breach, Entry, appraise, check_weights, tally

CST = timezone(timedelta(hours=8))
START, END = datetime(2026, 11, 1, tzinfo=CST), datetime(2026, 12, 1, tzinfo=CST)


def at(day, hour=10):
    return datetime(2026, 11, day, hour, tzinfo=CST)


def test_figures_follow_the_order_from_department_to_department():
    entries = [
        Entry(1, at(2), "create", {}),
        Entry(1, at(2, 11), "dispatch", {"department": "transport"}),
        Entry(1, at(3), "return", {"reason_code": "not_our_duty", "department": "transport"}),
        Entry(1, at(3, 12), "review-return", {"approved": True, "department": "housing"}),
        Entry(1, at(4), "acknowledge", {}),
        Entry(1, at(6), "reply", {}),
        Entry(1, at(8), "callback-result", {"outcome": "dissatisfied", "satisfaction": 2}),
        Entry(2, datetime(2026, 10, 30, tzinfo=CST), "dispatch", {"department": "housing"}),  # assigned last month
        Entry(2, at(5), "supervise", {}),
        Entry(2, at(9), "reply", {}),
        Entry(2, at(10), "callback-result", {"outcome": "satisfied", "satisfaction": 5}),
        Entry(3, at(20), "dispatch", {"department": "transport"}),
        Entry(3, at(21), "return", {"reason_code": "other", "department": "transport"}),
        Entry(3, at(22), "review-return", {"approved": False, "department": "transport"}),
        Entry(4, at(30, 9), "dispatch", {"department": "water"}),
        Entry(4, datetime(2026, 12, 1, 9, tzinfo=CST), "reply", {}),  # next month: not counted
    ]
    breaches = [Breach(2, "resolve", at(8)), Breach(3, "acknowledge", at(20, 16)),
                Breach(4, "acknowledge", datetime(2026, 12, 1, 8, tzinfo=CST))]
    got = tally(entries, breaches, START, END)
    t, h, w = got["transport"], got["housing"], got["water"]
    assert (t.assigned, t.returns, t.returns_accepted, t.returns_rejected, t.ack_breaches) == (2, 2, 1, 1, 1)
    assert (h.assigned, h.replies, h.replies_on_time, h.reopens, h.rated, h.satisfied, h.supervised) == \
        (1, 2, 1, 1, 2, 1, 1)
    assert (w.assigned, w.replies, w.ack_breaches) == (1, 0, 0)

    ranked = appraise(got)
    assert [f.department for f in ranked] == ["water", "housing", "transport"]
    assert w.score == 100.0  # only ack, returns and supervision apply, all perfect
    assert h.components == {"ack_on_time": 1.0, "resolved_on_time": 0.5, "returns": 1.0, "reopen": 0.5,
                            "satisfaction": 0.5, "supervision": 0.0}
    expected = 100 * (0.15 * 1 + 0.30 * 0.5 + 0.10 * 1 + 0.15 * 0.5 + 0.25 * 0.5 + 0.05 * 0) / 1.0
    assert h.score == 60.0 and abs(h.score - expected) < 0.05
    assert t.components["ack_on_time"] == 0.5 and t.components["returns"] == 0.5
    assert [f.rank for f in ranked] == [1, 2, 3]


def test_weights_are_checked_and_change_the_ranking():
    with pytest.raises(ValueError):
        check_weights({"speed": 1})
    with pytest.raises(ValueError):
        check_weights({"satisfaction": -1})
    with pytest.raises(ValueError):
        check_weights({k: 0 for k in DEFAULT_WEIGHTS})
    entries = [Entry(1, at(2), "dispatch", {"department": "a"}), Entry(1, at(3), "reply", {}),
               Entry(2, at(2), "dispatch", {"department": "b"}), Entry(2, at(3), "reply", {}),
               Entry(2, at(4), "callback-result", {"outcome": "satisfied", "satisfaction": 5})]
    breaches = [Breach(2, "resolve", at(2, 20))]
    only_speed = {k: 0 for k in DEFAULT_WEIGHTS} | {"resolved_on_time": 1}
    assert [f.department for f in appraise(tally(entries, breaches, START, END), only_speed)] == ["a", "b"]
    only_mood = {k: 0 for k in DEFAULT_WEIGHTS} | {"satisfaction": 1}
    ranked = appraise(tally(entries, breaches, START, END), only_mood)
    assert [(f.department, f.score, f.rank) for f in ranked] == [("b", 100.0, 1), ("a", None, None)]
