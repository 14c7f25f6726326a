"""Hot topics and surge alerts (pure): which categories and places are rising, and which jumped.

Counts are per day, oldest first, the last element being the day looked at.
A surge is a day whose count is at least ``min_count``, at least ``ratio`` times
the mean of the previous ``baseline_days`` (a baseline under 1 counts as 1) and
at least ``min_increase`` above it — so forty calls about one water outage in
a street that usually has two is an alert; three instead of one is not.
"""
from __future__ import annotations

from dataclasses import dataclass

from callcenter.errors import HotlineError


class ThresholdError(HotlineError, ValueError):
    error_id = "reports.bad_thresholds"


@dataclass(frozen=True)
class Thresholds:
    baseline_days: int = 7
    min_count: int = 10
    ratio: float = 3.0
    min_increase: int = 8

    def __post_init__(self):
        if not (1 <= self.baseline_days <= 90 and self.min_count >= 1 and self.ratio >= 1 and self.min_increase >= 0):
            raise ThresholdError("热点阈值无效 / invalid hot-topic thresholds", baseline_days=self.baseline_days,
                                 min_count=self.min_count, ratio=self.ratio, min_increase=self.min_increase)

    @classmethod
    def from_config(cls, config) -> "Thresholds":
        return cls(baseline_days=int(config.get("reports.surge_baseline_days", 7)),
                   min_count=int(config.get("reports.surge_min_count", 10)),
                   ratio=float(config.get("reports.surge_ratio", 3.0)),
                   min_increase=int(config.get("reports.surge_min_increase", 8)))


@dataclass(frozen=True)
class Trend:
    dimension: str  # "category" | "place"
    key: str
    today: int
    baseline: float
    surge: bool

    @property
    def increase(self) -> float:
        return self.today - self.baseline

    @property
    def ratio(self) -> float:
        return self.today / max(self.baseline, 1.0)


def trend(dimension: str, key: str, daily: list[int], thresholds: Thresholds) -> Trend:
    if not daily:
        return Trend(dimension, key, 0, 0.0, False)
    today, before = daily[-1], daily[:-1][-thresholds.baseline_days:]
    baseline = sum(before) / thresholds.baseline_days
    surge = (today >= thresholds.min_count and today >= thresholds.ratio * max(baseline, 1.0)
             and today - baseline >= thresholds.min_increase)
    return Trend(dimension, key, today, baseline, surge)


def rising(series: dict[tuple[str, str], list[int]], thresholds: Thresholds, top: int = 10) -> list[Trend]:
    """The ``top`` biggest risers (increase over baseline, then count), surges first among equals."""
    trends = [trend(dim, key, daily, thresholds) for (dim, key), daily in series.items()]
    trends = [t for t in trends if t.today > 0]
    trends.sort(key=lambda t: (-t.surge, -t.increase, -t.today, t.dimension, t.key))
    return trends[:top]


def surges(series: dict[tuple[str, str], list[int]], thresholds: Thresholds) -> list[Trend]:
    return [t for t in rising(series, thresholds, top=len(series) or 1) if t.surge]
