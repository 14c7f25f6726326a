"""The restricted-callers list: number keys (pure), the store on SQLite and PostgreSQL, and the IVR's
in-memory screen refreshed on a task.Clock."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from twisted.internet import defer
from twisted.internet.task import Clock

from callcenter.screening.service import CallerScreen, RestrictionList, ScreeningError, caller_key

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("typed, key", [
    ("13812345678", "13812345678"), ("+86 138-1234-5678", "13812345678"), ("008613812345678", "13812345678"),
    ("8613812345678", "13812345678"), ("013812345678", "13812345678"), ("0574-87654321", "057487654321"),
    ("86574876", "86574876"), ("", ""), (None, ""),
])
def test_caller_key_makes_one_caller_of_the_ways_a_number_is_written(typed, key):
    """Country code, trunk 0 and punctuation go from mobile numbers; a landline keeps its area code,
    and a short number starting 86 is not mistaken for a country code."""
    assert caller_key(typed) == key


@pytest.fixture
def restrictions(db_url):
    from callcenter.db import make_engine

    engine = make_engine(db_url)
    yield RestrictionList(engine)
    engine.dispose()


def test_a_restriction_is_in_force_until_it_ends_or_is_lifted(restrictions):
    """Added for 7 days it is in force (by its normalised number) until the 7th day; lifted early it is
    not, and both stay listed with who did what."""
    first = restrictions.add("+86 139 0000 9999", "反复辱骂坐席", 7, "sup1", T0)
    assert first.number == "13900009999" and first.until == T0 + timedelta(days=7)
    assert restrictions.in_force(T0 + timedelta(days=6)) == {"13900009999": T0 + timedelta(days=7)}
    assert restrictions.in_force(T0 + timedelta(days=7)) == {}
    second = restrictions.add("0574-87654321", "每日数十次无声来电", 30, "sup2", T0 + timedelta(hours=1))
    restrictions.lift(second.id, "sup1", T0 + timedelta(hours=2))
    assert restrictions.in_force(T0 + timedelta(hours=3)) == {"13900009999": T0 + timedelta(days=7)}
    listed = restrictions.listing(T0 + timedelta(hours=3))
    assert [(r.id, r.active(T0 + timedelta(hours=3))) for r in listed] == [(first.id, True), (second.id, False)]
    assert (listed[1].lifted_by, listed[1].lifted_at) == ("sup1", T0 + timedelta(hours=2))


@pytest.mark.parametrize("number, reason, days, error_id", [
    ("12", "nuisance", 7, "screening.bad_number"),
    ("13900009999", "   ", 7, "screening.bad_reason"),
    ("13900009999", "x" * 201, 7, "screening.bad_reason"),
    ("13900009999", "line\nbreak", 7, "screening.bad_reason"),
    ("13900009999", "nuisance", 0, "screening.bad_days"),
    ("13900009999", "nuisance", 91, "screening.bad_days"),
])
def test_bad_restrictions_are_refused_and_store_nothing(restrictions, number, reason, days, error_id):
    """A number too short, an empty, overlong or multi-line reason, or a length outside 1-90 days is
    refused with a stable error id; the list stays empty."""
    with pytest.raises(ScreeningError) as refused:
        restrictions.add(number, reason, days, "sup1", T0)
    assert refused.value.error_id == error_id
    assert restrictions.listing(T0) == []


def test_a_number_in_force_is_not_restricted_twice_and_only_live_restrictions_are_lifted(restrictions):
    """A second restriction of the same caller (another spelling) is refused while the first is in force
    and allowed after it ends; lifting an ended, lifted or unknown one is not_found (404)."""
    first = restrictions.add("13900009999", "nuisance", 1, "sup1", T0)
    with pytest.raises(ScreeningError) as twice:
        restrictions.add("+8613900009999", "again", 7, "sup2", T0 + timedelta(hours=1))
    assert twice.value.error_id == "screening.already_restricted" and twice.value.details["id"] == first.id
    later = restrictions.add("13900009999", "again", 7, "sup2", T0 + timedelta(days=2))
    for gone in (first.id, 9999):
        with pytest.raises(ScreeningError) as missing:
            restrictions.lift(gone, "sup1", T0 + timedelta(days=2))
        assert missing.value.error_id == "screening.not_found" and missing.value.http_status == 404
    restrictions.lift(later.id, "sup1", T0 + timedelta(days=3))
    with pytest.raises(ScreeningError):
        restrictions.lift(later.id, "sup1", T0 + timedelta(days=3))


def _synchronously(fn, *args):
    return defer.maybeDeferred(fn, *args)


def test_the_screen_loads_at_start_follows_changes_on_its_interval_and_keeps_its_list_on_failure(sqlite_url):
    """The IVR's screen answers from memory: loaded when started, a new restriction shows after the next
    refresh interval on the clock, an ended one stops matching at its end, and a database failure keeps
    the last list (logged) rather than letting restricted callers through or stopping calls."""
    from callcenter.db import make_engine

    engine = make_engine(sqlite_url)
    clock = Clock()
    clock.advance(T0.timestamp())
    restrictions = RestrictionList(engine)
    restrictions.add("13900009999", "nuisance", 1, "sup1", T0)
    screen = CallerScreen(restrictions, clock, _synchronously)
    screen.start()
    try:
        assert screen.is_restricted("+86 139 0000 9999", T0)
        restrictions.add("13700007777", "nuisance", 7, "sup1", T0)
        assert not screen.is_restricted("13700007777", T0)
        clock.advance(screen.refresh_seconds)
        assert screen.is_restricted("013700007777", T0)
        assert not screen.is_restricted("13900009999", T0 + timedelta(days=1))  # its end, without a refresh
        engine.dispose()
        restrictions.engine = make_engine(sqlite_url.replace(".sqlite3", "-missing/x.sqlite3"))
        clock.advance(screen.refresh_seconds)
        assert screen.is_restricted("13700007777", T0)
    finally:
        screen.stop()
    assert not clock.getDelayedCalls()
