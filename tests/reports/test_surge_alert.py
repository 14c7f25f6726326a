"""突增预警 as an alert: the monitor turns the hot-topic surges of the day into gauges (series removed when a
surge ends), /metrics shows them, and promtool proves the shipped rule fires on such a series."""
from __future__ import annotations

import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet import task
from twisted.python.threadpool import ThreadPool

from callcenter.db import make_engine
from callcenter.metrics import REGISTRY
from callcenter.reports.hottopics import Thresholds
from callcenter.reports.surge import SurgeMonitor
from ticketing.service import Actor, WorkOrderService
from tests.ticketing.helpers import CALENDAR, TAXONOMY, fields

RULES = Path(__file__).resolve().parents[2] / "dashboards" / "prometheus" / "hotline-alerts.yml"
CST = timezone(timedelta(hours=8))
AGENT = Actor("agent-1", "agent")


def gauge(dimension: str, key: str):
    return REGISTRY.get_sample_value("hotline_hot_topic_surge", {"dimension": dimension, "key": key})


@pytest_twisted.ensureDeferred
async def test_monitor_sets_a_series_per_surging_category_and_clears_it(db_url):
    from twisted.internet import reactor

    engine = make_engine(db_url)
    service = WorkOrderService(engine, TAXONOMY, CALENDAR)
    today = datetime(2026, 11, 23, 10, 0, tzinfo=CST)
    for day in range(1, 8):  # one burst-pipe order a day for a week
        service.create(fields(category="water-outage"), AGENT, today - timedelta(days=day))
    service.create_many([fields(category="water-outage", summary=f"停水 {i}") for i in range(12)], AGENT, today)
    service.create(fields(), AGENT, today)
    clock = task.Clock()
    clock.advance(today.timestamp())
    pool = ThreadPool(1, 1, name="surge-test")
    pool.start()
    try:
        monitor = SurgeMonitor(engine, clock, pool, Thresholds(), reactor=reactor)
        found = await monitor.check()
        # the category surges, and so does the subdistrict all these orders came from
        assert {(t.dimension, t.key, t.today) for t in found} == {("category", "water-outage", 12),
                                                                   ("place", "nanmen", 13)}
        assert gauge("category", "water-outage") == 12 and gauge("place", "nanmen") == 13
        assert REGISTRY.get_sample_value("hotline_hot_topic_surges") == 2
        assert gauge("category", "street-vending") is None
        clock.advance(timedelta(days=8).total_seconds())  # a quiet day: the surge is over
        assert await monitor.check() == []
        assert gauge("category", "water-outage") is None and gauge("place", "nanmen") is None
        assert REGISTRY.get_sample_value("hotline_hot_topic_surges") == 0
    finally:
        pool.stop()
        engine.dispose()


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian package prometheus) not installed")
def test_promtool_fires_the_surge_alert_on_a_surging_series_and_not_otherwise(tmp_path):
    (tmp_path / "surge.test.yml").write_text(f"""
rule_files:
  - {RULES}
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'hotline_hot_topic_surge{{dimension="category", key="water-outage", instance="hotline:8080"}}'
        values: '_ _ 12 12'
      - series: 'hotline_ami_connected'
        values: '1 1 1 1'
    alert_rule_test:
      - eval_time: 1m
        alertname: HotlineHotTopicSurge
        exp_alerts: []
      - eval_time: 3m
        alertname: HotlineHotTopicSurge
        exp_alerts:
          - exp_labels: {{severity: warning, dimension: category, key: water-outage}}
            exp_annotations:
              summary: "热点突增 / work orders about water-outage (category) are surging today"
              description: "12 work orders today, far above the usual daily count ([reports] surge_* thresholds)."
""", encoding="utf-8")
    result = subprocess.run(["promtool", "test", "rules", str(tmp_path / "surge.test.yml")], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
