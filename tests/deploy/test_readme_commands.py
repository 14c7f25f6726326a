"""The production commands exactly as README.md, docker/Dockerfile and docker/compose.yaml write them.

The command lines are parsed out of those files (never copied here) and run as real processes, in
compose's start order: `db upgrade` on an empty database, `ivr prompts build` into a fresh prompts
folder, `check`, then `serve` (the Dockerfile's CMD) until it answers /healthz, stopped by SIGTERM.
Paths inside the container are mapped to the files compose mounts there; hosts and secrets are given
through the environment, as compose gives them (PBX simulator over TCP for Asterisk, SQLite for
PostgreSQL, the embedded index for Elasticsearch).
"""
from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import urllib.request

import pytest
import yaml

from tests.conftest import ROOT
from tests.deploy.processes import CLI, line_with, spawn, start_pbxsim, stop

DOCKER = ROOT / "docker"
README = ROOT / "README.md"


def readme_commands() -> list[list[str]]:
    """Every `callcenter … --config …` command of the README (inline code and code blocks)."""
    text = README.read_text(encoding="utf-8")
    found, in_block = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            in_block = not in_block
        elif in_block:
            if line.startswith("callcenter ") and "--config" in line:
                found.append(line.split("  #")[0].strip())
        else:
            found += re.findall(r"`(callcenter [^`]*--config [^`]*)`", line)
    return [shlex.split(command) for command in dict.fromkeys(found)]


def dockerfile_command() -> list[str]:
    text = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    entrypoint = json.loads(re.search(r"^ENTRYPOINT (\[.*\])$", text, re.M).group(1))
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", text, re.M).group(1))
    return entrypoint + cmd


def compose_services() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text(encoding="utf-8"))["services"]


def compose_commands() -> dict[str, list[str]]:
    """The command each service built from the Dockerfile runs (its own, else the image's CMD)."""
    image_cmd = dockerfile_command()
    out = {}
    for name, service in compose_services().items():
        if service.get("image", "").startswith("hotline-callcenter"):
            out[name] = image_cmd[:1] + service["command"] if "command" in service else image_cmd
    return out


def container_paths() -> dict[str, str]:
    """Container path -> repository path of compose's bind mounts (the config file)."""
    mapping = {}
    for service in compose_services().values():
        for volume in service.get("volumes", ()):
            source, target = volume.split(":")[:2]
            if source.startswith("./"):
                mapping[target] = str(DOCKER / source[2:])
    return mapping


def test_every_documented_command_uses_the_one_form():
    """README, Dockerfile and compose write `callcenter SUB-COMMAND … --config FILE` (options after the
    sub-command), and the parser reads the config file from each of them."""
    from callcenter.cli import build_parser

    commands = readme_commands() + [dockerfile_command()] + list(compose_commands().values())
    assert len(readme_commands()) >= 3, readme_commands()
    for argv in commands:
        assert argv[0] == "callcenter" and not argv[1].startswith("-"), argv
        args = build_parser().parse_args(argv[1:])
        assert args.config == argv[argv.index("--config") + 1], argv
    assert {tuple(c[1:3]) for c in compose_commands().values()} >= {("db", "upgrade"), ("ivr", "prompts"),
                                                                    ("serve", "--config")}


def test_compose_orders_the_start_and_checks_health():
    """The controller starts after the one-shot migrate and prompts services completed and after
    PostgreSQL, Elasticsearch and Asterisk are healthy; those and the controller have health checks."""
    services = compose_services()
    after = services["callcenter"]["depends_on"]
    assert after["migrate"]["condition"] == after["prompts"]["condition"] == "service_completed_successfully"
    assert {after[name]["condition"] for name in ("postgres", "elasticsearch", "asterisk")} == {"service_healthy"}
    for name in ("callcenter", "postgres", "elasticsearch", "asterisk"):
        assert services[name]["healthcheck"]["test"], name
    assert "prompts:/var/lib/callcenter/prompts" in services["prompts"]["volumes"]


def _local(argv: list[str], mapping: dict[str, str]) -> list[str]:
    return [mapping.get(arg, arg) for arg in argv[1:]]


@pytest.fixture
def deployment(tmp_path):
    pbx, port = start_pbxsim()
    env = dict(os.environ,
               CALLCENTER_DATABASE_URL=f"sqlite:///{tmp_path / 'hotline.sqlite3'}",
               CALLCENTER_WEB_SECRET_KEY="5f0c" * 16, CALLCENTER_WEB_PORT="0", CALLCENTER_WEB_HOST="127.0.0.1",
               CALLCENTER_AMI_HOST="127.0.0.1", CALLCENTER_AMI_PORT=str(port),
               CALLCENTER_SEARCH_ENGINE="embedded", CALLCENTER_SEARCH_PATH=str(tmp_path / "search.sqlite3"),
               CALLCENTER_IVR_SOUNDS_DIR=str(tmp_path / "prompts"),
               CALLCENTER_IVR_RECORDINGS_DIR=str(tmp_path / "recordings"),
               CALLCENTER_ASR_SPOOL_DIR=str(tmp_path / "asr-spool"), CALLCENTER_ASR_MODEL="off",
               CALLCENTER_ASR_AUDIOSOCKET_PORT="0")
    yield env
    stop(pbx)


def test_the_documented_commands_start_the_hotline_in_compose_order(deployment):
    """migrate, prompts, check (README) and serve (Dockerfile CMD) run as written: each exits 0 in turn,
    then serve logs in to the PBX and answers /healthz 200, and exits 0 on SIGTERM."""
    mapping = container_paths()
    by_service = compose_commands()
    documented = {tuple(argv[1:3]) for argv in readme_commands()}
    for step in ("migrate", "prompts"):
        argv = _local(by_service[step], mapping)
        assert tuple(argv[:2]) in documented, f"README does not document {argv}"
        done = subprocess.run(CLI + argv, env=deployment, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, (argv, done.stdout[-2000:], done.stderr[-2000:])
    # the production start-up's check (other sections may show the form with a placeholder file name)
    check = next(argv for argv in readme_commands()
                 if argv[1] == "check" and (ROOT / argv[argv.index("--config") + 1]).is_file())
    done = subprocess.run(CLI + _local(check, mapping), env=deployment, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    serve = _local(by_service["callcenter"], mapping)
    assert serve[0] == "serve"
    proc = spawn(serve, env=deployment)
    try:
        web = re.search(r"(http://127\.0\.0\.1:\d+)/", line_with(proc, "serving on", 180)).group(1)
        health = _healthy(f"{web}/healthz")
        assert health["status"] == "ok" and health["ami"]["connected"], health
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        stop(proc)


def _healthy(url: str, limit: float = 30.0) -> dict:
    """/healthz once it answers 200 (AMI logged in), polling; the last answer in the failure."""
    import time
    import urllib.error

    deadline, last = time.monotonic() + limit, None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            last = exc.read()
        time.sleep(0.2)
    raise AssertionError(f"/healthz never answered 200: {last!r}")
