"""Taxonomy data: the issue's departments and districts, routing, precise load errors."""
from __future__ import annotations

import shutil

import pytest
import yaml

from ticketing.domain.errors import TaxonomyError, UnknownCategory, UnknownDepartment, UnknownDistrict
from ticketing.taxonomy import DATA_DIR, FILES, load_taxonomy

REQUIRED_DEPARTMENTS = """urban-management housing transport traffic-police public-security environment
market-regulation human-resources health medical-insurance education civil-affairs water power gas
natural-resources emergency-management agriculture tax subdistrict-office""".split()
DISTRICTS = "haishu jiangbei zhenhai beilun yinzhou fenghua yuyao cixi ninghai xiangshan".split()


def test_required_codes_present_with_both_languages():
    """All 20 department codes and Ningbo's 10 districts exist, each named in Chinese and English."""
    t = load_taxonomy()
    assert set(REQUIRED_DEPARTMENTS) <= set(t.departments)
    assert set(DISTRICTS) == set(t.districts)
    for node in [*t.departments.values(), *t.districts.values(), *t.categories.values()]:
        assert node.zh and node.en and node.zh != node.en
    assert t.district("haishu").subdistricts["nanmen"].zh == "南门街道"
    assert all(len(d.subdistricts) >= 5 for d in t.districts.values())
    assert {c.department for c in t.categories.values()} >= {"gas", "water", "tax", "subdistrict-office"}


def test_route_uses_district_rule_then_wildcard_then_default():
    """Dispatch is data: a district rule beats "*", which beats the category default."""
    t = load_taxonomy()
    assert t.route("garbage-collection", "haishu") == "subdistrict-office"
    assert t.route("garbage-collection", "beilun") == "urban-management"
    assert t.route("construction-noise", "yinzhou") == "urban-management"
    assert t.route("construction-noise", "cixi") == "housing"
    assert t.route("gas-leak", "xiangshan") == "gas"
    with pytest.raises(UnknownCategory):
        t.route("alien-landing", "haishu")
    with pytest.raises(UnknownDistrict):
        t.route("gas-leak", "shanghai")
    with pytest.raises(UnknownDepartment):
        t.department("ministry-of-magic")


def test_sla_targets_per_urgency():
    """Each category has normal and urgent targets; urgent is never slower to acknowledge."""
    t = load_taxonomy()
    for cat in t.categories.values():
        normal, urgent = cat.targets("normal"), cat.targets("urgent")
        assert urgent.acknowledge.seconds(None if not urgent.acknowledge.working else _cal()) <= \
            normal.acknowledge.seconds(None if not normal.acknowledge.working else _cal()), cat.code


def _cal():
    from tests.ticketing.helpers import CALENDAR
    return CALENDAR


def _broken(tmp_path, name, mutate):
    for f in FILES:
        shutil.copy(DATA_DIR / f, tmp_path / f)
    data = yaml.safe_load((tmp_path / name).read_text("utf-8"))
    mutate(data)
    (tmp_path / name).write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    with pytest.raises(TaxonomyError) as info:
        load_taxonomy(tmp_path)
    return info.value


def test_bad_data_is_reported_precisely(tmp_path):
    """A dangling department, bad SLA text or unknown district in a rule names the file and key."""
    err = _broken(tmp_path, "categories.yaml",
                  lambda d: d["groups"]["utilities"]["categories"]["gas-leak"].update(department="gas-co"))
    assert err.details["file"] == "categories.yaml"
    assert err.details["path"] == "groups.utilities.categories.gas-leak.department"
    err = _broken(tmp_path, "categories.yaml",
                  lambda d: d["groups"]["ecology"]["sla"]["normal"].update(resolve="soonish"))
    assert err.details["path"] == "groups.ecology.sla.normal"
    err = _broken(tmp_path, "dispatch.yaml", lambda d: d["rules"].append(
        {"category": "gas-leak", "district": "atlantis", "department": "gas"}))
    assert err.details["path"].endswith(".district") and "atlantis" in err.details["problem"]
    err = _broken(tmp_path, "dispatch.yaml", lambda d: d["rules"].append(dict(d["rules"][0])))
    assert "duplicate" in err.details["problem"]
    err = _broken(tmp_path, "districts.yaml", lambda d: d["districts"]["haishu"].pop("en"))
    assert err.details["path"] == "districts.haishu"
