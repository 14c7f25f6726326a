"""The demo is the integration test: `callcenter demo` in a subprocess, every stage checked.

One run of ``callcenter demo --minutes 2 --speed 60`` (two hours of hotline
time) must leave traces of every stage in its SQLite database — calls in
every disposition, orders through the lifecycle including closed and
reopened, satisfaction callbacks with results, SLA breaches — while the web
UI serves wallboard numbers and /metrics over HTTP.
"""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import ROOT

RUN_MINUTES = 2
SPEED = 60


def _start(tmp_path, *extra):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("CALLCENTER_DATABASE_URL", None)
    cmd = [sys.executable, "-m", "callcenter.cli", "demo", "--port", "0", "--speed", str(SPEED),
           "--dir", str(tmp_path / "demo"), *extra]
    with open(tmp_path / "demo.log", "w") as log:   # warnings, kept for the failure message
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log, text=True)


def _until_started(proc, lines: list[str], limit: float = 90.0) -> str:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError("demo exited before starting: " + "".join(lines[-20:]))
        lines.append(line)
        if line.startswith('{"event": "started"'):
            return json.loads(line)["web"]
    raise AssertionError("demo did not start in time")


def _get(url: str, token: str | None = None):
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(req, timeout=20) as resp:
        return resp.status, resp.read().decode("utf-8")


def _token(web: str, user: str) -> str:
    req = urllib.request.Request(f"{web}/api/v1/tokens", method="POST",
                                 data=json.dumps({"username": user, "password": "hotline-demo"}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=20) as resp:
        return json.loads(resp.read())["token"]


def _summary(lines: list[str]) -> dict:
    found = [json.loads(line) for line in lines if line.startswith("{") and '"event": "summary"' in line]
    assert found, "no summary printed: " + "".join(lines[-20:])
    return found[-1]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """One full demo run; yields (summary, database path, HTTP observations, stdout lines)."""
    tmp_path = tmp_path_factory.mktemp("demo-run")
    # 5 agents (3 simulated + agent1/agent2) for ~6 erlangs at the curve's peak: queues build, so some callers
    # (whose patience now runs from joining the queue) give up — every disposition is reached
    proc = _start(tmp_path, "--minutes", str(RUN_MINUTES), "--agents", "3", "--rate", "240")
    lines: list[str] = []
    seen = {}
    try:
        web = _until_started(proc, lines)
        seen["healthz"] = _get(f"{web}/healthz")
        token = _token(web, "supervisor")
        # wait until calls have flowed (progress lines), then read the live figures
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if line.startswith("[") and " calls " in line and " calls 0 " not in line and "orders 0 " not in line:
                break
        seen["wallboard"] = json.loads(_get(f"{web}/api/v1/wallboard", token)[1])
        seen["metrics"] = _get(f"{web}/metrics")[1]
        seen["orders"] = json.loads(_get(f"{web}/api/v1/workorders?limit=5", token)[1])
        seen["search"] = json.loads(_get(f"{web}/api/v1/search?q=%E6%8A%95%E8%AF%89&kind=workorder", token)[1])
        out, _ = proc.communicate(timeout=RUN_MINUTES * 60 + 120)
        lines.extend(out.splitlines(keepends=True))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, "".join(lines[-30:])
    yield _summary(lines), tmp_path / "demo" / "demo.sqlite3", seen, lines


def _counts(db, sql):
    with sqlite3.connect(db) as conn:
        return dict(conn.execute(sql).fetchall())


def test_start_banner_lists_urls_and_every_demo_account(demo_run):
    """The banner names the web pages and one account per role, with the shared demo password."""
    _, _, _, lines = demo_run
    banner = "".join(lines[:15])
    for page in ("/agent", "/dept", "/wallboard", "/supervisor", "/metrics", "/api/v1/workorders"):
        assert page in banner
    for account in ("agent1 (agent)", "dispatcher (dispatcher)", "water (department)", "supervisor (supervisor)",
                    "admin (admin)"):
        assert account in banner
    assert "hotline-demo" in banner


def test_calls_reach_every_disposition(demo_run):
    """Callers were answered, abandoned in the queue, served by the IVR alone and hung up in the IVR —
    in the summary and in the stored queue calls and IVR visits."""
    summary, db, _, _ = demo_run
    calls = summary["calls"]
    assert calls["offered"] >= 100 and calls["answered"] >= 50 and calls["abandoned"] >= 1
    assert {"transfer", "hangup", "caller_hangup"} <= set(calls["ivr_outcomes"])
    assert 0 < summary["service_level"] <= 1 and summary["average_answer_seconds"] is not None
    queue = _counts(db, "SELECT outcome, COUNT(*) FROM queue_calls GROUP BY outcome")
    assert queue.get("answered", 0) >= 50 and queue.get("abandoned", 0) >= 1
    visits = _counts(db, "SELECT outcome, COUNT(*) FROM ivr_visits GROUP BY outcome")
    assert {"transfer", "hangup", "caller_hangup"} <= set(visits)
    assert _counts(db, "SELECT 1, COUNT(*) FROM agent_state_log")[1] > 0


def test_orders_pass_through_the_lifecycle(demo_run):
    """Agents filed orders from calls; departments acknowledged, returned and replied; callbacks
    closed some and reopened others — every one of those left its history rows."""
    summary, db, _, _ = demo_run
    orders = summary["orders"]
    assert orders["created"] >= 50 and orders["closed"] >= 5 and orders["reopened"] >= 1
    statuses = _counts(db, "SELECT status, COUNT(*) FROM work_orders GROUP BY status")
    assert statuses == orders["by_status"]
    assert {"closed", "resolved_on_call", "dispatched", "in_progress"} <= set(statuses)
    actions = _counts(db, "SELECT action, COUNT(*) FROM work_order_history GROUP BY action")
    for action in ("create", "dispatch", "acknowledge", "return", "review-return", "start", "reply",
                   "callback-result", "resolve-on-call"):
        assert actions.get(action, 0) >= 1, action
    reopened = _counts(db, "SELECT to_status, COUNT(*) FROM work_order_history WHERE to_status = 'reopened'")
    assert reopened.get("reopened", 0) >= 1
    with sqlite3.connect(db) as conn:
        phones = [r[0] for r in conn.execute("SELECT caller_phone FROM work_orders WHERE channel = 'phone' LIMIT 20")]
    assert all(p and p.startswith("139") for p in phones)


def test_sla_and_satisfaction_callbacks_have_results(demo_run):
    """Late departments breached SLAs (sla_events); citizens answered satisfaction calls with
    satisfied and dissatisfied, and some could not be reached."""
    summary, db, _, _ = demo_run
    assert summary["sla_breaches"] >= 1
    assert _counts(db, "SELECT phase, COUNT(*) FROM sla_events GROUP BY phase").get("breach", 0) >= 1
    cb = summary["callbacks"]
    assert cb["satisfied"] >= 1 and cb["dissatisfied"] >= 1 and cb["unreachable"] >= 1
    assert 0 < summary["satisfaction"] < 1
    scores = _counts(db, "SELECT satisfaction, COUNT(*) FROM work_orders WHERE satisfaction IS NOT NULL "
                         "GROUP BY satisfaction")
    assert scores and set(scores) <= {1, 4, 5}   # survey: dissatisfied, basic, satisfied
    log = (db.parent.parent / "demo.log").read_text(errors="replace")
    assert summary["errors"] == 0, (summary["error_kinds"], [line for line in log.splitlines() if "refused" in line
                                                             or "failed" in line][-5:])


def test_web_served_wallboard_numbers_and_metrics_while_running(demo_run):
    """During the run the wallboard API showed calls and orders, /metrics exported the ACD's
    figures, and the work-order API listed filed orders with phone numbers visible to staff only."""
    _, _, seen, _ = demo_run
    assert seen["healthz"][0] == 200
    totals = seen["wallboard"]["totals"]
    assert totals["offered"] >= 1 and totals["answered"] >= 1
    metrics = seen["metrics"]
    assert "hotline_http_requests_total" in metrics
    assert "hotline_acd" in metrics or "hotline_queue" in metrics
    assert seen["orders"]["total"] >= 1
    assert seen["search"]["engine"] and isinstance(seen["search"]["items"], list)


def test_ctrl_c_stops_cleanly_and_loses_nothing(tmp_path):
    """SIGINT mid-run: the demo finishes in-flight work, prints its summary and exits 0; the
    stored orders are exactly those the summary counts."""
    proc = _start(tmp_path, "--rate", "300")
    lines: list[str] = []
    try:
        _until_started(proc, lines)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if line.startswith("[") and "orders 0 " not in line:
                break
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
        lines.extend(out.splitlines(keepends=True))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, "".join(lines[-20:])
    summary = _summary(lines)
    stored = _counts(tmp_path / "demo" / "demo.sqlite3", "SELECT 1, COUNT(*) FROM work_orders")[1]
    assert stored == summary["orders"]["created"] == \
        summary["orders"]["filed_by_agents"] + summary["citizens_web"]["reports"]  # by phone and on the portal
    assert summary["orders"]["filed_by_agents"] >= 1


def _speech_model_installed() -> bool:
    try:
        from callcenter.asr.models import resolve

        resolve(None, None)
        return True
    except Exception:
        return False


@pytest.mark.skipif(not _speech_model_installed(), reason="no Vosk model installed")
def test_speech_runs_through_the_real_asr_path(tmp_path):
    """With --speech, callers speak espeak-ng voices that the simulator streams over AudioSocket to
    the installed Vosk model: the banner names the model and finished streams are stored as
    transcripts tied to call ids."""
    proc = _start(tmp_path, "--minutes", "0.5", "--rate", "90", "--agents", "3", "--speech")
    try:
        out, _ = proc.communicate(timeout=150)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines = out.splitlines(keepends=True)
    assert proc.returncode == 0, out[-2000:]
    banner = [line for line in lines if line.strip().startswith("speech:")]
    assert banner and "AudioSocket" in banner[0], banner
    assert len(list((tmp_path / "demo" / "voices").glob("*.wav"))) >= 5
    with sqlite3.connect(tmp_path / "demo" / "demo.sqlite3") as conn:
        rows = conn.execute("SELECT call_id, model FROM transcripts").fetchall()
    assert rows and all(call_id and model for call_id, model in rows)
    assert _summary(lines)["errors"] == 0
