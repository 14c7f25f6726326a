"""The surge alert (突增预警) as Prometheus series: every ``interval`` seconds the hot topics of the
hotline's day are read again and ``hotline_hot_topic_surge{dimension, key}`` holds today's count of
each surging category or place (a series disappears when its surge ends); the alert rule
``HotlineHotTopicSurge`` (dashboards/prometheus) fires on it.  The thresholds are the hot-topics
page's (``[reports] surge_*``), so the page and the alert always agree.
"""
from __future__ import annotations

import logging

from twisted.internet import defer
from twisted.internet.task import LoopingCall
from twisted.internet.threads import deferToThreadPool

from callcenter.clock import now_from
from callcenter.metrics import HOT_TOPIC_SURGE, HOT_TOPIC_SURGES
from callcenter.reports.hottopics import Thresholds, surges
from callcenter.reports.queries import CST, daily_series

log = logging.getLogger(__name__)


class SurgeMonitor:
    """Keeps the surge gauges current; ``clock`` gives "today" and drives the loop, ``pool`` runs the query."""

    interval = 60.0

    def __init__(self, engine, clock, pool, thresholds: Thresholds, *, reactor=None, interval: float | None = None):
        self.engine = engine
        self.clock = clock
        self.pool = pool
        self.reactor = reactor if reactor is not None else clock
        self.thresholds = thresholds
        if interval is not None:
            self.interval = float(interval)
        self.shown: set[tuple[str, str]] = set()
        self._loop: LoopingCall | None = None

    @classmethod
    def from_config(cls, config, engine, clock, pool, *, reactor=None) -> "SurgeMonitor":
        return cls(engine, clock, pool, Thresholds.from_config(config), reactor=reactor,
                   interval=config.number("reports.surge_check_seconds", 5, 3600, default=cls.interval))

    def read(self, today) -> list:
        days = self.thresholds.baseline_days + 1
        _, series = daily_series(self.engine, today, days)
        return surges(series, self.thresholds)

    def apply(self, found) -> None:
        """Set the gauges to exactly these surges (stale series removed)."""
        now = {(t.dimension, t.key): t.today for t in found}
        for gone in self.shown - set(now):
            HOT_TOPIC_SURGE.remove(*gone)
        for labels, count in now.items():
            HOT_TOPIC_SURGE.labels(*labels).set(count)
        HOT_TOPIC_SURGES.set(len(now))
        self.shown = set(now)

    @defer.inlineCallbacks
    def check(self):
        today = now_from(self.clock).astimezone(CST).date()
        try:
            found = yield deferToThreadPool(self.reactor, self.pool, self.read, today)
        except Exception:  # noqa: BLE001 - a failed read keeps the last figures; the next tick retries
            log.exception("surge check failed")
            return None
        self.apply(found)
        return found

    def start(self):
        self._loop = LoopingCall(self.check)
        self._loop.clock = self.clock
        self._loop.start(self.interval, now=True).addErrback(lambda f: log.error("surge loop died: %s", f))

    def stop(self):
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self.apply([])
