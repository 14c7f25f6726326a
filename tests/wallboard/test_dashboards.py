"""dashboards/: Grafana JSON and Prometheus alert rules only name metrics the service really exports."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = sorted((ROOT / "dashboards" / "grafana").glob("*.json"))
RULES = sorted((ROOT / "dashboards" / "prometheus").glob("*.yml"))
METRIC = re.compile(r"\b(hotline_[a-z0-9_]+)\b")


def exported_names() -> set[str]:
    """Every series name the service can expose: the one registry plus the ACD and AMI collectors
    registered on a real controller and client."""
    from prometheus_client import CollectorRegistry

    from callcenter.metrics import REGISTRY, register_ami
    from callcenter.routing.metrics import register_metrics
    from tests.routing.test_acd import make

    pbx, acd, _ = make()
    extra = CollectorRegistry()
    register_metrics(acd, extra)
    register_ami(pbx.client, extra)
    names: set[str] = set()
    for registry in (REGISTRY, extra):
        for family in registry.collect():
            names.add(family.name)
            names.update(sample.name for sample in family.samples)
            if family.type == "counter":
                names.add(family.name + "_total")
            if family.type == "histogram":
                names.update(family.name + suffix for suffix in ("_bucket", "_count", "_sum"))
    return names


def test_there_are_dashboards_and_rules():
    """At least one provisioned dashboard and one rules file ship."""
    assert GRAFANA and RULES


@pytest.mark.parametrize("path", GRAFANA, ids=lambda p: p.name)
def test_grafana_dashboard_structure_and_metrics(path):
    """Each dashboard has uid/title/panels; panel ids are unique, each has a gridPos and targets whose
    expr names only exported hotline_* metrics."""
    dash = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(dash.get("uid"), str) and dash["uid"] and isinstance(dash.get("title"), str)
    assert isinstance(dash.get("schemaVersion"), int)
    panels = dash["panels"]
    assert panels and len({p["id"] for p in panels}) == len(panels)
    exported = exported_names()
    for panel in panels:
        assert panel["type"] in ("timeseries", "stat", "gauge", "table", "bargauge") and panel["title"]
        assert {"x", "y", "w", "h"} <= set(panel["gridPos"])
        assert panel["targets"]
        for target in panel["targets"]:
            names = METRIC.findall(target["expr"])
            assert names, target["expr"]
            missing = [n for n in names if n not in exported]
            assert not missing, f"{panel['title']}: {missing} are not exported"


@pytest.mark.parametrize("path", RULES, ids=lambda p: p.name)
def test_alert_rules_name_exported_metrics_and_cover_the_issue(path):
    """Every rule has alert/expr/summary, names only exported metrics; together they cover queue service
    level, SLA breaches, AMI disconnection and ASR falling behind."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    exported = exported_names()
    used: set[str] = set()
    for group in doc["groups"]:
        for rule in group["rules"]:
            assert rule["alert"] and rule["expr"] and rule["annotations"]["summary"]
            names = set(METRIC.findall(rule["expr"]))
            assert names and names <= exported, names - exported
            used |= names
    assert {"hotline_queue_service_level_ratio", "hotline_workorders_sla_breaches_total", "hotline_ami_connected",
            "hotline_asr_realtime_factor"} <= used


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian package prometheus) not installed")
@pytest.mark.parametrize("path", RULES, ids=lambda p: p.name)
def test_promtool_accepts_the_rules(path):
    """`promtool check rules` parses every expression and template."""
    result = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
