"""The container health check of docker/Dockerfile and docker/compose.yaml, run against a real `serve`.

The command is parsed out of both files (never copied here) and run as Docker runs it inside the
container (`python` being the image's interpreter, here this one), with CALLCENTER_WEB_PORT set as a
deployment that moves the port would set it.  The hotline is the Dockerfile's `serve` on SQLite with
the PBX simulator for Asterisk, started like tests/deploy/test_readme_commands.py starts it.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import yaml

from tests.conftest import ROOT
from tests.deploy.processes import CLI, line_with, spawn, start_pbxsim, stop

DOCKER = ROOT / "docker"
CONFIG = str(DOCKER / "callcenter.toml")


def dockerfile_healthcheck() -> list[str]:
    text = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    return json.loads(re.search(r"^HEALTHCHECK .*?CMD (\[.*\])$", text, re.M).group(1))


def compose_healthcheck() -> list[str]:
    services = yaml.safe_load((DOCKER / "compose.yaml").read_text(encoding="utf-8"))["services"]
    test = services["callcenter"]["healthcheck"]["test"]
    assert test[0] == "CMD", test
    return test[1:]


def run_healthcheck(port: int) -> subprocess.CompletedProcess:
    argv = dockerfile_healthcheck()
    assert argv[0] == "python", argv
    return subprocess.run([sys.executable, *argv[1:]], env=dict(os.environ, CALLCENTER_WEB_PORT=str(port)),
                          capture_output=True, text=True, timeout=30)


def test_compose_runs_the_images_health_check():
    """compose.yaml's callcenter health check is the Dockerfile's HEALTHCHECK command, word for word."""
    assert compose_healthcheck() == dockerfile_healthcheck()


@pytest.fixture
def hotline(tmp_path):
    """`serve` with a migrated database and rendered prompts, logged in to the PBX simulator."""
    pbx, ami_port = start_pbxsim()
    env = dict(os.environ,
               CALLCENTER_DATABASE_URL=f"sqlite:///{tmp_path / 'hotline.sqlite3'}",
               CALLCENTER_WEB_SECRET_KEY="5f0c" * 16, CALLCENTER_WEB_PORT="0", CALLCENTER_WEB_HOST="127.0.0.1",
               CALLCENTER_AMI_HOST="127.0.0.1", CALLCENTER_AMI_PORT=str(ami_port), CALLCENTER_AMI_SECRET="hotline-secret",
               CALLCENTER_SEARCH_ENGINE="embedded", CALLCENTER_SEARCH_PATH=str(tmp_path / "search.sqlite3"),
               CALLCENTER_IVR_SOUNDS_DIR=str(tmp_path / "prompts"),
               CALLCENTER_IVR_RECORDINGS_DIR=str(tmp_path / "recordings"),
               CALLCENTER_ASR_SPOOL_DIR=str(tmp_path / "asr-spool"), CALLCENTER_ASR_MODEL="off",
               CALLCENTER_ASR_AUDIOSOCKET_PORT="0")
    for argv in (["db", "upgrade"], ["ivr", "prompts", "build"]):
        done = subprocess.run(CLI + argv + ["--config", CONFIG], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, (argv, done.stdout[-2000:], done.stderr[-2000:])
    proc = spawn(["serve", "--config", CONFIG], env=env)
    try:
        port = int(re.search(r"http://127\.0\.0\.1:(\d+)/", line_with(proc, "serving on", 180)).group(1))
        yield proc, pbx, port
    finally:
        stop(proc, pbx)


def _until(port: int, healthy: bool, limit: float = 30.0) -> subprocess.CompletedProcess:
    deadline = time.monotonic() + limit
    while True:
        done = run_healthcheck(port)
        if (done.returncode == 0) == healthy or time.monotonic() > deadline:
            return done
        time.sleep(0.2)


def test_the_health_check_follows_the_hotline(hotline):
    """Exit 0 while serving with the PBX logged in; exit 1 naming 503 and "degraded" once the PBX is gone;
    exit 1 naming the /healthz address when nothing answers (serve stopped by SIGTERM)."""
    proc, pbx, port = hotline
    done = _until(port, healthy=True)
    assert done.returncode == 0, done.stderr
    stop(pbx)
    done = _until(port, healthy=False)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("503 ") and '"status": "degraded"' in done.stderr, done.stderr
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    done = run_healthcheck(port)
    assert done.returncode == 1 and f"http://127.0.0.1:{port}/healthz" in done.stderr, done.stderr
