"""`callcenter bench routing` runs and reports latency figures."""
from __future__ import annotations

import argparse

from callcenter.bench import routing


def test_bench_routing_small_reports_percentiles():
    """A small run yields one record per decision kind with p50 <= p99 and matches made."""
    parser = argparse.ArgumentParser()
    routing.add_arguments(parser)
    args = parser.parse_args(["--waiting", "50", "--agents", "20", "--skills", "4", "--decisions", "200"])
    records = list(routing.run(args))
    assert [r["decision"] for r in records] == ["agent_ready", "caller_arrival", "caller_arrival_agents_free"]
    for r in records:
        assert 0 < r["p50_us"] <= r["p99_us"] <= r["max_us"]
    assert records[0]["matched"] > 0 and records[2]["matched"] == 200
