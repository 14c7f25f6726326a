"""`callcenter sla deadline`: prints ISO 8601, exit 2 with a clear message on bad input."""
from __future__ import annotations

import subprocess
import sys

import pytest

from callcenter.cli import build_parser
from callcenter.config import load_config


def main(argv: list[str]) -> int:
    """The command as `callcenter` runs it, minus the process-wide logging set-up."""
    args = build_parser().parse_args(argv)
    args.cfg = load_config(None)
    return args.func(args)


@pytest.fixture(autouse=True)
def _no_database(monkeypatch, tmp_path):
    monkeypatch.setenv("CALLCENTER_DATABASE_URL", f"sqlite:///{tmp_path}/absent.sqlite3")


@pytest.mark.parametrize("start,duration,expected", [
    ("2026-09-30T09:00:00+08:00", "5 working days", "2026-10-12T17:30:00+08:00"),
    ("2026-09-30T09:00", "2 working days", "2026-10-08T17:30:00+08:00"),
    ("2026-10-09T17:00", "4 working hours", "2026-10-10T14:00:00+08:00"),
    ("2026-09-30T01:00:00Z", "2 days", "2026-10-02T09:00:00+08:00"),
    ("2026-02-13T12:00", "5个工作日", "2026-02-27T12:00:00+08:00"),
])
def test_deadline_prints_iso(capsys, start, duration, expected):
    """Working days skip National Day / Spring Festival and count 调休 Saturdays; plain days do not."""
    assert main(["sla", "deadline", "--start", start, "--duration", duration]) == 0
    assert capsys.readouterr().out.strip() == expected


@pytest.mark.parametrize("start,duration,needle", [
    ("yesterday", "5 working days", "ISO 8601"),
    ("2026-09-30T09:00", "5 fortnights", "unrecognised duration"),
    ("2026-09-30T09:00", "-5 working days", "unrecognised duration"),
])
def test_bad_input_exits_2(capsys, start, duration, needle):
    """Bad start or bad duration: exit 2, message on stderr."""
    assert main(["sla", "deadline", "--start", start, "--duration", duration]) == 2
    captured = capsys.readouterr()
    assert needle in captured.err and captured.out == ""


def test_deadline_into_unknown_year_is_provisional(capsys):
    """A deadline reaching 2027 (no package data) is computed Mon–Fri and flagged provisional on stderr."""
    assert main(["sla", "deadline", "--start", "2026-12-31T09:00", "--duration", "5 working days"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == "2027-01-06T17:30:00+08:00"
    assert "provisional" in captured.err and "2027" in captured.err
    assert main(["sla", "deadline", "--start", "2026-09-30T09:00", "--duration", "5 working days"]) == 0
    assert "provisional" not in capsys.readouterr().err


def test_real_entry_point(tmp_path):
    """The installed entry point prints the deadline and exits 2 on bad input."""
    env = {"CALLCENTER_DATABASE_URL": f"sqlite:///{tmp_path}/absent.sqlite3", "PATH": "/usr/bin:/bin"}
    ok = subprocess.run([sys.executable, "-m", "callcenter.cli", "sla", "deadline", "--start", "2026-09-30T09:00",
                         "--duration", "5 working days"], capture_output=True, text=True, env=env, timeout=60)
    assert (ok.returncode, ok.stdout.strip()) == (0, "2026-10-12T17:30:00+08:00"), ok.stderr
    bad = subprocess.run([sys.executable, "-m", "callcenter.cli", "sla", "deadline", "--start", "2026-09-30",
                          "--duration", "soon"], capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 2 and "soon" in bad.stderr
    assert not (tmp_path / "absent.sqlite3").exists()


def test_overrides_commands(sqlite_url, capsys):
    """`sla override set/list/delete` edit calendar_overrides; a 2027 holiday makes 2027 deadlines computable."""
    assert main(["sla", "override", "--url", sqlite_url, "set", "2027-01-01", "--holiday", "--note", "元旦"]) == 0
    assert main(["sla", "override", "--url", sqlite_url, "set", "2027-01-02", "--holiday", "--note", "元旦"]) == 0
    assert main(["sla", "override", "--url", sqlite_url, "set", "2027-13-01", "--holiday", "--note", "x"]) == 2
    capsys.readouterr()
    assert main(["sla", "override", "--url", sqlite_url, "list"]) == 0
    assert capsys.readouterr().out.splitlines() == ["2027-01-01\tholiday 放假\t元旦", "2027-01-02\tholiday 放假\t元旦"]
    assert main(["sla", "deadline", "--url", sqlite_url, "--start", "2026-12-31T09:00",
                 "--duration", "2 working days"]) == 0
    assert capsys.readouterr().out.strip() == "2027-01-04T17:30:00+08:00"
    assert main(["sla", "override", "--url", sqlite_url, "delete", "2027-01-02"]) == 0
    assert main(["sla", "override", "--url", sqlite_url, "list"]) == 0
    assert capsys.readouterr().out.count("\n") == 1
