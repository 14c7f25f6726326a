"""`callcenter bench wallboard` runs end to end at tiny sizes and reports both figures."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_reports_latency_and_render_time():
    """Five screens, three events: every event reaches every screen; /metrics render time is reported."""
    out = subprocess.run([sys.executable, "-m", "callcenter.cli", "bench", "wallboard", "--clients", "5",
                          "--events", "3", "--gap", "0.05", "--renders", "3"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    records = {r["bench"]: r for r in map(json.loads, [l for l in out.stdout.splitlines() if l.startswith("{")])}
    latency = records["wallboard.latency"]
    assert latency["events_reaching_all_screens"] == 3 and latency["samples"] == 15 and latency["p95_ms"] < 1000
    render = records["wallboard.metrics_render"]
    assert render["series"] > 100 and render["p95_ms"] > 0
