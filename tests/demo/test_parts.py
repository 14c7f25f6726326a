"""The demo's pure parts (population, department fates, options) and serve's schema guard."""
from __future__ import annotations

import os
import random
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from callcenter.demo.population import (
    DAILY_CURVE, IVR_CHOICES, SURVEY_ANSWERS, curve_factor, department_fate, next_gap, plan_caller,
)
from tests.conftest import ROOT


def test_shares_add_up_and_curve_peaks_in_office_hours():
    """Choice tables are distributions, and the daily curve is busiest in the morning and afternoon."""
    assert sum(row[-1] for row in IVR_CHOICES) == pytest.approx(1.0)
    assert sum(row[-1] for row in SURVEY_ANSWERS) == pytest.approx(1.0)
    assert len(DAILY_CURVE) == 24
    assert max(range(24), key=curve_factor) in (10, 14, 15)
    assert curve_factor(3) < 0.1 < curve_factor(10)


def test_arrivals_follow_rate_and_curve():
    """The mean gap at 120 calls/h and factor 1.4 (10:00) is 3600/168 s; at night it is far longer."""
    rnd = random.Random(7)
    gaps = [next_gap(rnd, 120, 10) for _ in range(4000)]
    assert sum(gaps) / len(gaps) == pytest.approx(3600 / (120 * curve_factor(10)), rel=0.08)
    night = [next_gap(rnd, 120, 3) for _ in range(500)]
    assert sum(night) / len(night) > 10 * sum(gaps) / len(gaps)


def test_plans_are_seeded_valid_and_varied():
    """The same seed gives the same callers; every plan is a valid caller script; lookups dial a
    13-digit number with #, greeting hang-ups leave within seconds."""
    from callcenter.pbxsim.participants import CallerScript

    ra, rb = random.Random(3), random.Random(3)
    assert [plan_caller(ra, i) for i in range(50)] == [plan_caller(rb, i) for i in range(50)]
    rnd = random.Random(5)
    plans = [plan_caller(rnd, i, lookup_number="2026112300001") for i in range(400)]
    assert {p.choice for p in plans} == {row[0] for row in IVR_CHOICES}
    assert len({p.number for p in plans}) == 400 and all(len(p.number) == 11 for p in plans)
    for p in plans:
        CallerScript(keys=list(p.keys), patience=p.patience, hangup_after=p.hangup_after,
                     talk_seconds=p.talk_seconds)
        if p.choice == "lookup":
            assert "2026112300001#" in p.keys
        if p.choice == "hangup":
            assert p.keys == () and p.hangup_after < 10


def test_department_fates_are_stable_and_mixed():
    """A fate depends only on seed and order number; about a fifth are late (> 1 h) and some return."""
    assert department_fate(1, "2026112300007") == department_fate(1, "2026112300007")
    fates = [department_fate(1, f"20261123{i:05d}") for i in range(1000)]
    late = sum(f.ack_after > 3600 for f in fates)
    assert 150 < late < 250
    assert 50 < sum(f.returns for f in fates) < 150
    assert all(900 <= f.reply_after <= 3600 for f in fates)


def test_bad_options_are_refused_with_a_clear_message():
    """Out-of-range options raise DemoError naming each problem, in Chinese and English."""
    from callcenter.demo.run import DemoError, check
    from callcenter.demo.world import DemoOptions

    check(DemoOptions(minutes=2, speed=60))
    with pytest.raises(DemoError) as err:
        check(DemoOptions(minutes=-1, speed=0, rate=0, agents=0, port=70000))
    text = str(err.value)
    for word in ("--minutes", "--speed", "--rate", "--agents", "ports", "倍速"):
        assert word in text
    assert err.value.error_id == "demo.bad_option"


def test_demo_starts_the_clock_at_nine_on_a_working_day():
    """After a holiday weekend the demo's morning is the last working day's 09:00 local, never later
    than now; before 09:00 it is the previous working day."""
    from ticketing.calendar_data import build_calendar

    from callcenter.demo.world import TZ, start_of_demo

    cal = build_calendar({})
    monday = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)       # 18:00 Monday in Shanghai
    assert start_of_demo(cal, monday) == datetime(2026, 11, 23, 9, 0, tzinfo=TZ)
    early = datetime(2026, 11, 23, 0, 30, tzinfo=timezone.utc)         # 08:30 Monday → Friday
    assert start_of_demo(cal, early) == datetime(2026, 11, 20, 9, 0, tzinfo=TZ)
    national_day = datetime(2026, 10, 5, 4, 0, tzinfo=timezone.utc)    # holiday week → last working day
    start = start_of_demo(cal, national_day)
    assert start < national_day and cal.is_workday(start.date())


def test_schema_check_on_migrated_database(db_url):
    """A database at every head is up to date (SQLite and PostgreSQL)."""
    from callcenter.db import make_engine
    from callcenter.app import missing_migrations

    engine = make_engine(db_url)
    try:
        assert missing_migrations(engine) == []
    finally:
        engine.dispose()


def test_serve_refuses_a_schema_behind_migrations(tmp_path):
    """`callcenter serve` on an empty database exits 2 and says to run `callcenter db upgrade`,
    without creating any table."""
    import sqlite3

    db = tmp_path / "empty.sqlite3"
    env = dict(os.environ, CALLCENTER_DATABASE_URL=f"sqlite:///{db}", CALLCENTER_WEB_PORT="0")
    proc = subprocess.run([sys.executable, "-m", "callcenter.cli", "serve"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "callcenter db upgrade" in proc.stderr and "0001_base" in proc.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0] == 0


def _spawn(args, env):
    return subprocess.Popen([sys.executable, "-m", "callcenter.cli", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def _line_with(proc, marker: str, limit: float = 60.0) -> str:
    import time

    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if marker in line:
            return line
    raise AssertionError(f"no line with {marker!r}")


def test_serve_connects_to_the_pbx_serves_web_and_stops_on_sigint(sqlite_url, tmp_path):
    """`callcenter serve` against the PBX simulator (standing in for Asterisk) logs in over AMI,
    serves /healthz and /metrics with the ACD's figures, and exits 0 on SIGINT."""
    import re
    import signal
    import urllib.request

    from tests.deploy.test_readme_commands import _healthy

    env = dict(os.environ)
    pbx = _spawn(["pbxsim", "--port", "0", "--device", "PJSIP/1001=1"], env)
    serve = None
    try:
        ami_port = re.search(r"listening on 127\.0\.0\.1:(\d+)", _line_with(pbx, "listening on")).group(1)
        # what `callcenter check` (run by serve) wants: a real session key, rendered prompts, no missing model
        env.update(CALLCENTER_DATABASE_URL=sqlite_url, CALLCENTER_AMI_PORT=ami_port, CALLCENTER_WEB_PORT="0",
                   CALLCENTER_ASR_MODEL="off", CALLCENTER_ASR_AUDIOSOCKET_PORT="0",
                   CALLCENTER_WEB_SECRET_KEY="9e1d" * 16, CALLCENTER_IVR_SOUNDS_DIR=str(tmp_path / "prompts"))
        subprocess.run([sys.executable, "-m", "callcenter.cli", "ivr", "prompts", "build"], env=env, check=True,
                       capture_output=True, timeout=300)
        serve = _spawn(["serve"], env)
        web = re.search(r"(http://127\.0\.0\.1:\d+)/", _line_with(serve, "serving on", 120)).group(1)
        assert _healthy(f"{web}/healthz")["ami"]["connected"] is True
        with urllib.request.urlopen(f"{web}/metrics", timeout=20) as resp:
            metrics = resp.read().decode()
        assert "hotline_agents" in metrics and "hotline_queue_waiting" in metrics
        serve.send_signal(signal.SIGINT)
        assert serve.wait(timeout=60) == 0
    finally:
        for proc in (serve, pbx):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
