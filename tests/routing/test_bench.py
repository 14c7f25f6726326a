"""`callcenter bench routing` runs and reports latency figures."""
from __future__ import annotations

import argparse

import pytest_twisted

from callcenter.bench import routing


def test_bench_routing_small_reports_percentiles():
    """A small run yields one record per decision kind with p50 <= p99 and matches made."""
    parser = argparse.ArgumentParser()
    routing.add_arguments(parser)
    args = parser.parse_args(["--part", "decisions", "--waiting", "50", "--agents", "20", "--skills", "4", "--decisions", "200"])
    records = list(routing.run(args))
    assert [r["decision"] for r in records] == ["agent_ready", "caller_arrival", "caller_arrival_agents_free"]
    for r in records:
        assert 0 < r["p50_us"] <= r["p99_us"] <= r["max_us"]
    assert records[0]["matched"] > 0 and records[2]["matched"] == 200


@pytest_twisted.inlineCallbacks
def test_busy_hour_simulation_accounts_for_every_call():
    """A short accelerated busy hour through the simulator reports every offered call as answered
    or abandoned, with service levels, ASA and the controller's CPU."""
    from twisted.internet import reactor

    from callcenter.routing.busyhour import busy_hour

    result = yield busy_hour(reactor, calls_per_hour=3600, agents=4, hours=0.01, speed=30, talk_mean=20,
                             wrap_up=2, patience_mean=30, seed=3)
    assert result["offered"] > 15
    assert result["answered"] + result["abandoned"] == result["offered"]
    assert 0 <= result["service_level_15s"] <= result["service_level_20s"] <= 1
    assert result["asa_s"] >= 0 and result["controller_cpu_s"] > 0
