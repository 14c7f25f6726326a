"""`callcenter bench capacity` runs end to end (a tiny step; the figures themselves are in the README)."""
from __future__ import annotations

import json
import subprocess

from tests.deploy.processes import CLI


def test_capacity_bench_runs_and_reports_every_figure(tmp_path):
    """One short step with 20 agents: the controller answers calls through IVR and ACD, files their orders,
    and the record carries calls/hour, CPU per call, core share, memory, decision latency, reactor lag with
    what each stall was, and no SQL ran on the reactor thread."""
    done = subprocess.run(CLI + ["bench", "capacity", "--rates", "7200", "--seconds", "15", "--agents", "20",
                                 "--talk", "2", "--dir", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    records = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    step, summary = records[0], records[-1]
    assert "error" not in step, step
    assert step["agents_ready_at_start"] == 20 and step["answered"] > 0 and step["orders_filed"] > 0
    for key in ("answered_per_hour", "cpu_ms_per_call", "core_share", "rss_mb_peak", "reactor_thread_cpu_ms_per_call"):
        assert step[key] is not None and step[key] > 0, key
    assert step["decision_ms"]["n"] > 0 and step["reactor_lag_ms"]["max"] is not None
    # the step's callers are followed to an agent, and the lag is split into ours and the OS's
    assert step["offered"] > 0 and 0 < step["reached_agent"] <= step["offered"]
    assert step["reactor_lag_ms"]["max_in_process"] <= step["reactor_lag_ms"]["max"]
    assert {"over_limit", "over_limit_in_process", "causes_over_limit", "worst"} <= set(step["stalls"])
    assert step["sql_on_reactor_thread"] == {}, "the reactor thread ran SQL during calls"
    assert summary["summary"] is True and summary["gc_threshold"][0] >= 100
