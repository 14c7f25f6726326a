"""Pure parts: figure definitions, the surge detector, CSV safety and SVG charts."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import pytest

from callcenter.reports.charts import bar_chart, line_chart
from callcenter.reports.csvexport import to_csv
from callcenter.reports.figures import Figures, add_order, add_queue_call, handle_times
from callcenter.reports.hottopics import ThresholdError, Thresholds, rising, surges, trend

T = Thresholds(baseline_days=7, min_count=10, ratio=3.0, min_increase=8)


def test_call_figures_follow_the_definitions():
    """Answer rate, 15 s service level (boundary included), ASA and abandonment over offered calls."""
    fig = Figures("q")
    for outcome, wait in (("answered", 5), ("answered", 15), ("answered", 15.5), ("abandoned", 40), ("callback", 60)):
        add_queue_call(fig, outcome, wait)
    d = fig.as_dict()
    assert (d["offered"], d["answered"], d["abandoned"]) == (5, 3, 1)
    assert d["answer_rate"] == pytest.approx(0.6) and d["service_level"] == pytest.approx(0.4)
    assert d["asa_seconds"] == pytest.approx(35.5 / 3) and d["abandon_rate"] == pytest.approx(0.2)


def test_rates_with_nothing_to_divide_are_none():
    """No calls or orders means "no figure", never 0 % or 100 %."""
    d = Figures("empty").as_dict()
    assert all(d[k] is None for k in ("answer_rate", "service_level", "asa_seconds", "aht_seconds", "on_time_rate",
                                      "fcr_rate", "reopen_rate", "call_satisfaction", "callback_satisfaction"))


def test_handle_time_counts_talk_and_wrap_up_until_the_next_change():
    """AHT input: on_call and wrap_up last until the next change; unordered rows are sorted; an open state is not counted."""
    t0 = datetime(2026, 11, 23, tzinfo=timezone.utc)
    rows = [("a", "ready", t0 + timedelta(seconds=120)), ("a", "on_call", t0), ("a", "wrap_up", t0 + timedelta(seconds=90)),
            ("a", "on_call", t0 + timedelta(seconds=300))]
    assert handle_times(rows) == {"a": (2, 120.0)}


def test_order_figures():
    """On-time completion excludes breached closes; FCR and reopen over registered; callback satisfied is 4-5."""
    fig = Figures("dept")
    add_order(fig, "resolved_on_call", 0, None, False)
    add_order(fig, "closed", 0, 5, False)
    add_order(fig, "closed", 1, 2, True)
    add_order(fig, "in_progress", 0, None, True)
    d = fig.as_dict()
    assert d["on_time_rate"] == pytest.approx(2 / 3) and d["fcr_rate"] == 0.25 and d["reopen_rate"] == 0.25
    assert d["callback_satisfaction"] == 0.5


def test_water_outage_surges_but_noise_does_not():
    """Forty calls in a street that usually has two is a surge; three instead of one, or a steady high level, is not."""
    series = {("place", "wangchun"): [2, 1, 3, 2, 2, 1, 3, 40], ("category", "noise"): [1, 0, 1, 1, 0, 1, 1, 3],
              ("category", "vending"): [20, 22, 19, 21, 20, 23, 21, 24]}
    found = surges(series, T)
    assert [(s.dimension, s.key) for s in found] == [("place", "wangchun")]
    assert rising(series, T, top=2)[0].key == "wangchun"


@pytest.mark.parametrize("daily,expected", [
    ([0] * 7 + [10], True),   # from nothing to min_count
    ([0] * 7 + [9], False),   # below min_count
    ([4] * 7 + [12], True),   # exactly 3x and +8
    ([4] * 7 + [11], False),  # under 3x
    ([5] * 7 + [15], True),
    ([], False),
])
def test_surge_thresholds_at_their_boundaries(daily, expected):
    """Each threshold is inclusive and each one alone can veto a surge."""
    assert trend("category", "k", daily, T).surge is expected


def test_bad_thresholds_are_refused():
    """Nonsense thresholds from config are a clear error."""
    with pytest.raises(ThresholdError) as caught:
        Thresholds(baseline_days=0)
    assert caught.value.error_id == "reports.bad_thresholds"


def test_csv_defuses_formulas_and_keeps_numbers():
    """Cells starting with = + - @ TAB CR become text; numbers stay numbers; Chinese survives with a BOM."""
    data = to_csv(["名称", "n"], [["=HYPERLINK(\"http://x\")", 3], ["+1", -2.5], ["@SUM(A1)", None], ["海曙区", 0.12345]])
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[1] == ["'=HYPERLINK(\"http://x\")", "3"]
    assert rows[2] == ["'+1", "-2.5"]
    assert rows[3] == ["'@SUM(A1)", ""]
    assert rows[4] == ["海曙区", "0.1235"]


def test_charts_are_escaped_svg_with_bars_and_lines():
    """Labels are escaped; one bar per value (none for a missing value); a polyline per series."""
    svg = bar_chart("接通率 <b>", [("<script>", 0.5), ("q2", None), ("q3", 1.0)], percent=True)
    assert svg.startswith("<svg") and "<script>" not in svg and "&lt;script&gt;" in svg
    assert svg.count('class="bar"') == 2 and "50.0%" in svg and "—" in svg
    line = line_chart("走势", ["11-22", "11-23"], {"a": [1, 5], "b": [0, 0]})
    assert line.count("<polyline") == 2
