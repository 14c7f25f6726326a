"""Report figures read from the database, on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import date

import pytest

from callcenter.db import make_engine
from callcenter.reports.hottopics import Thresholds
from callcenter.reports.queries import Period, ReportError, hot_topics, report
from callcenter.reports.ratings import RatingError, record_rating
from tests.reports.seed import DAY, seed_calls, seed_orders
from tests.ticketing.helpers import cst


@pytest.fixture
def engine(db_url):
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


def test_daily_queue_and_agent_reports(engine):
    """Per queue and per agent: the seeded figures, only calls of that Beijing day, ratings counted once."""
    seed_calls(engine)
    by_queue = {r["key"]: r for r in report(engine, Period.parse("day", "2026-11-23"), "queue").as_rows()}
    general = by_queue["general"]
    assert (general["offered"], general["answered"], general["abandoned"]) == (4, 3, 1)
    assert general["service_level"] == 0.5 and general["asa_seconds"] == 15.0
    assert general["call_satisfaction"] == 0.5
    assert by_queue["urgent"]["answer_rate"] == 1.0
    agents = {r["key"]: r for r in report(engine, Period.parse("day", "2026-11-23"), "agent").as_rows()}
    assert agents["a1"]["aht_seconds"] == 90.0 and agents["a1"]["answered"] == 2
    assert report(engine, Period.parse("day", "2026-11-22"), "queue").as_rows()[0]["offered"] == 1


def test_monthly_department_and_category_reports(engine):
    """Per category/department for the month: on-time, FCR, reopen and callback satisfaction."""
    seed_orders(engine)
    (row,) = report(engine, Period.parse("month", "2026-11"), "category").as_rows()
    assert row["key"] == "street-vending" and row["orders"] == 4 and row["closed"] == 3
    assert row["on_time_rate"] == pytest.approx(2 / 3)
    assert (row["fcr_rate"], row["reopen_rate"], row["callback_satisfaction"]) == (0.25, 0.25, 0.5)
    assert report(engine, Period.parse("month", "2026-10"), "department").as_rows() == []
    assert len(report(engine, Period.parse("month", "2026-11"), "department").as_rows()) == 1


def test_hot_topics_find_the_water_outage(engine):
    """Twelve water-outage orders in Wangchun today surge by category and by place."""
    seed_orders(engine, day=cst(2026, 11, 20, 9, 0))
    seed_orders(engine, extra_water=12)
    labels, series, trends = hot_topics(engine, date(2026, 11, 23), Thresholds())
    assert labels[-1] == date(2026, 11, 23) and len(labels) == 14
    surging = {(t.dimension, t.key) for t in trends if t.surge}
    assert surging == {("category", "water-outage"), ("place", "wangchun")}


@pytest.mark.parametrize("kind,value,error_id", [("day", "2026-13-01", "reports.bad_date"),
                                                 ("month", "2026", "reports.bad_date"),
                                                 ("week", "2026-11-23", "reports.bad_period")])
def test_bad_periods(kind, value, error_id):
    """Bad periods and dates get stable error ids."""
    with pytest.raises(ReportError) as caught:
        Period.parse(kind, value)
    assert caught.value.error_id == error_id


def test_bad_rating_digit_changes_nothing(engine):
    """Only 1/2/3 are ratings; anything else is refused and nothing is stored."""
    with pytest.raises(RatingError):
        record_rating(engine, "c9", "9", DAY)
    assert report(engine, Period.parse("day", "2026-11-23"), "queue").as_rows() == []
