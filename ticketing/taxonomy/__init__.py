"""The taxonomy as data: departments, the category tree with SLA targets,
Ningbo's districts and their subdistricts/towns, and the dispatch catalogue.

``load_taxonomy()`` reads the YAML files beside this module (or another
directory with the same files) and validates every cross-reference, so a
typo in the data fails at start-up with the file and key that are wrong.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ticketing.domain.errors import (
    DomainError, TaxonomyError, UnknownCategory, UnknownDepartment, UnknownDistrict,
)
from ticketing.domain.sla import SlaTargets

DATA_DIR = Path(__file__).parent
FILES = ("departments.yaml", "categories.yaml", "districts.yaml", "dispatch.yaml")
URGENCIES = ("normal", "urgent")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Department:
    code: str
    zh: str
    en: str


@dataclass(frozen=True)
class Category:
    code: str
    zh: str
    en: str
    group: str
    group_zh: str
    group_en: str
    department: str
    sla: dict[str, SlaTargets]

    def targets(self, urgency: str) -> SlaTargets:
        return self.sla[urgency]


@dataclass(frozen=True)
class Subdistrict:
    """A 街道, 镇 or 乡.  ``aliases``: what callers say besides the full name (the bare name,
    old names, English); ``adcode``: the Ministry of Civil Affairs code; ``former``: no longer
    an administrative unit, still named by callers and old orders."""

    code: str
    zh: str
    en: str
    aliases: tuple[str, ...] = ()
    adcode: str | None = None
    former: bool = False

    @property
    def kind(self) -> str:
        return "subdistrict" if self.zh.endswith("街道") else "town"


@dataclass(frozen=True)
class District:
    code: str
    zh: str
    en: str
    subdistricts: dict[str, Subdistrict] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()


class Taxonomy:
    """Lookups by code; unknown codes raise the matching domain error."""

    def __init__(self, departments, categories, districts, rules, directory: Path | None = None):
        self.departments: dict[str, Department] = departments
        self.categories: dict[str, Category] = categories
        self.districts: dict[str, District] = districts
        self.rules: dict[tuple[str, str], str] = rules
        self.directory = directory  # where it was read from (None: built in code)

    def department(self, code: str) -> Department:
        try:
            return self.departments[code]
        except (KeyError, TypeError):
            raise UnknownDepartment(f"未知承办单位 / unknown department {code!r}", {"department": str(code)[:64]}) from None

    def category(self, code: str) -> Category:
        try:
            return self.categories[code]
        except (KeyError, TypeError):
            raise UnknownCategory(f"未知诉求分类 / unknown category {code!r}", {"category": str(code)[:64]}) from None

    def district(self, code: str) -> District:
        try:
            return self.districts[code]
        except (KeyError, TypeError):
            raise UnknownDistrict(f"未知区县 / unknown district {code!r}", {"district": str(code)[:64]}) from None

    def route(self, category: str, district: str) -> str:
        """The department a (category, district) goes to: district rule, "*" rule, category default."""
        cat = self.category(category)
        self.district(district)
        return self.rules.get((category, district)) or self.rules.get((category, "*")) or cat.department


def _fail(file: str, path: str, problem: str) -> TaxonomyError:
    return TaxonomyError(f"taxonomy {file}: {path}: {problem}", {"file": file, "path": path, "problem": problem})


def _names(file: str, path: str, node: Any) -> tuple[str, str]:
    if not isinstance(node, dict) or not isinstance(node.get("zh"), str) or not isinstance(node.get("en"), str):
        raise _fail(file, path, "needs zh and en names")
    return node["zh"], node["en"]


def _aliases(file: str, path: str, node: dict) -> tuple[str, ...]:
    aliases = node.get("aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
        raise _fail(file, f"{path}.aliases", "aliases must be a list of names")
    return tuple(a.strip() for a in aliases)


def _sla(file: str, path: str, node: Any) -> dict[str, SlaTargets]:
    if not isinstance(node, dict) or set(node) != set(URGENCIES):
        raise _fail(file, path, f"sla needs exactly {list(URGENCIES)}")
    out = {}
    for urgency in URGENCIES:
        targets = node[urgency]
        if not isinstance(targets, dict) or set(targets) != {"acknowledge", "resolve", "callback"}:
            raise _fail(file, f"{path}.{urgency}", "needs acknowledge, resolve and callback")
        try:
            out[urgency] = SlaTargets.parse(targets)
        except DomainError as exc:
            raise _fail(file, f"{path}.{urgency}", exc.message) from None
    return out


def _read(directory: Path, name: str, key: str) -> dict | list:
    path = directory / name
    try:
        data = yaml.load(path.read_text("utf-8"), Loader=_Loader)
    except FileNotFoundError:
        raise _fail(name, "", f"missing file {path}") from None
    except yaml.YAMLError as exc:
        raise _fail(name, "", f"not valid YAML: {exc}") from None
    if not isinstance(data, dict) or key not in data:
        raise _fail(name, key, "missing top-level key")
    return data[key]


def from_config(config) -> Taxonomy:
    """The deployment's taxonomy: ``sla.taxonomy_dir``, or the shipped data when it is empty.

    The one place that setting is read: the work-order service and intake both
    come through here, so they never disagree about departments or categories."""
    return load_taxonomy(config.get("sla.taxonomy_dir") or None)


def load_taxonomy(directory: str | Path | None = None) -> Taxonomy:
    directory = Path(directory) if directory else DATA_DIR
    departments = {}
    for code, node in (_read(directory, "departments.yaml", "departments") or {}).items():
        departments[code] = Department(code, *_names("departments.yaml", f"departments.{code}", node))

    categories = {}
    for gcode, group in (_read(directory, "categories.yaml", "groups") or {}).items():
        gpath = f"groups.{gcode}"
        gzh, gen = _names("categories.yaml", gpath, group)
        gsla = _sla("categories.yaml", f"{gpath}.sla", group.get("sla"))
        for code, node in (group.get("categories") or {}).items():
            path = f"{gpath}.categories.{code}"
            zh, en = _names("categories.yaml", path, node)
            if code in categories:
                raise _fail("categories.yaml", path, "duplicate category code")
            dept = node.get("department")
            if dept not in departments:
                raise _fail("categories.yaml", f"{path}.department", f"unknown department {dept!r}")
            sla = _sla("categories.yaml", f"{path}.sla", node["sla"]) if "sla" in node else gsla
            categories[code] = Category(code, zh, en, gcode, gzh, gen, dept, sla)
    if not categories:
        raise _fail("categories.yaml", "groups", "no categories")

    districts = {}
    for code, node in (_read(directory, "districts.yaml", "districts") or {}).items():
        zh, en = _names("districts.yaml", f"districts.{code}", node)
        subs = {}
        for scode, snode in (node.get("subdistricts") or {}).items():
            spath = f"districts.{code}.subdistricts.{scode}"
            subs[scode] = Subdistrict(scode, *_names("districts.yaml", spath, snode),
                                      aliases=_aliases("districts.yaml", spath, snode),
                                      adcode=str(snode["adcode"]) if snode.get("adcode") else None,
                                      former=bool(snode.get("former", False)))
        if not subs:
            raise _fail("districts.yaml", f"districts.{code}", "no subdistricts")
        districts[code] = District(code, zh, en, subs, _aliases("districts.yaml", f"districts.{code}", node))

    rules: dict[tuple[str, str], str] = {}
    for i, rule in enumerate(_read(directory, "dispatch.yaml", "rules") or []):
        path = f"rules[{i}]"
        if not isinstance(rule, dict) or set(rule) != {"category", "district", "department"}:
            raise _fail("dispatch.yaml", path, "needs exactly category, district, department")
        if rule["category"] not in categories:
            raise _fail("dispatch.yaml", f"{path}.category", f"unknown category {rule['category']!r}")
        if rule["district"] != "*" and rule["district"] not in districts:
            raise _fail("dispatch.yaml", f"{path}.district", f"unknown district {rule['district']!r}")
        if rule["department"] not in departments:
            raise _fail("dispatch.yaml", f"{path}.department", f"unknown department {rule['department']!r}")
        key = (rule["category"], rule["district"])
        if key in rules:
            raise _fail("dispatch.yaml", path, f"duplicate rule for {key}")
        rules[key] = rule["department"]
    return Taxonomy(departments, categories, districts, rules, directory.resolve())
