"""The production shape in docker/: compose file, Asterisk config, example config."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from callcenter.config import load_config
from tests.conftest import ROOT

DOCKER = ROOT / "docker"


def _compose_command() -> list[str]:
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.fail("neither `docker compose` nor `docker-compose` is installed (bin/test installs docker-compose)")


def test_compose_file_validates():
    """`docker compose config` accepts the compose file and it names every service of the design."""
    out = subprocess.run(
        _compose_command() + ["-f", str(DOCKER / "compose.yaml"), "config", "--services"],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert set(out.stdout.split()) == {"asterisk", "migrate", "prompts", "callcenter", "postgres", "elasticsearch",
                                       "prometheus", "grafana", "kannel"}


def test_dialplan_has_the_contexts_the_controller_relies_on():
    """extensions.conf defines every context the controller redirects or originates into."""
    text = (DOCKER / "asterisk" / "extensions.conf").read_text(encoding="utf-8")
    contexts = set(re.findall(r"^\[([\w-]+)\]", text, re.M))
    assert {"hotline-in", "hotline-connect", "hotline-transfer", "hotline-survey", "hotline-pstn"} <= contexts
    for app in ("AGI(agi:async,ivr)", "AGI(agi:async,requeue)", "AGI(agi:async,rating)", "AGI(agi:async,survey)",
                "Dial(${AGENT_DEVICE}", "MixMonitor(${HOTLINE_CALLID}.wav,b)"):
        assert app in text, app


def test_manager_conf_matches_the_captures():
    """manager.conf sets what the AMI client expects: no timestamps, HOTLINE_CALLID/WORKORDER channel vars."""
    text = (DOCKER / "asterisk" / "manager.conf").read_text(encoding="utf-8")
    assert re.search(r"^timestampevents\s*=\s*no", text, re.M)
    assert re.search(r"^channelvars\s*=\s*HOTLINE_CALLID,WORKORDER", text, re.M)


def test_example_config_loads():
    """The documented production config is valid TOML whose sections are known to the service."""
    cfg = load_config(str(DOCKER / "callcenter.toml"), environ={})
    defaults = load_config(None, environ={})
    for section in cfg.as_dict():
        assert section in defaults.as_dict(), f"unknown section [{section}] in docker/callcenter.toml"
    assert cfg.get("database.url").startswith("postgresql")


def test_kannel_config_hands_replies_and_reports_back_to_the_service():
    """docker/kannel/kannel.conf: a sendsms account, delivery reports kept, and citizens' replies (TD/STOP)
    posted to the service's /sms/mo with its token — never answered; boxes log at warning level."""
    text = (DOCKER / "kannel" / "kannel.conf").read_text(encoding="utf-8")
    groups = re.findall(r"^group = ([\w-]+)", text, re.M)
    assert {"core", "smsc", "smsbox", "sendsms-user", "sms-service"} <= set(groups)
    assert "dlr-storage = internal" in text and "max-messages = 0" in text
    assert re.search(r'get-url = "http://callcenter:8080/sms/mo\?token=[^&]+&from=%p&to=%P&text=%a"', text)
    assert set(re.findall(r"^log-level = (\d)", text, re.M)) == {"2"}
