"""ARCHITECTURE.md's import rules, checked against the code (every import, also those inside functions)."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ("callcenter", "ticketing", "ivr")
FOUNDATION = ("callcenter.clock", "callcenter.config", "callcenter.errors", "callcenter.personal_data",
              "callcenter.db", "callcenter.logs", "callcenter.metrics", "callcenter.runtime")


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)   # from callcenter import app
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def _ours(name: str) -> bool:
    return name.split(".")[0] in PACKAGES


def _under(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _modules():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield _module(path), path


MODULES = dict(_modules())


def _real(names):
    """Imported names that are modules or packages of ours (``from x import name`` adds x.name)."""
    return {n for n in names if _ours(n) and (n in MODULES or any(m.startswith(n + ".") for m in MODULES))}


def _violations(rooms, allowed, third_party=True):
    """Modules under ``rooms`` importing something of ours outside ``allowed`` (or, with
    ``third_party=False``, anything beyond the standard library and ``allowed``)."""
    bad = []
    for name, path in MODULES.items():
        if not _under(name, rooms):
            continue
        for imported in sorted(_imports(path)):
            top = imported.split(".")[0]
            if _ours(imported):
                if imported in _real({imported}) and not _under(imported, allowed):
                    bad.append(f"{name} imports {imported}")
            elif not third_party and top not in sys.stdlib_module_names and not _under(imported, allowed):
                bad.append(f"{name} imports {imported}")
    return bad


def test_the_work_order_domain_imports_only_the_standard_library():
    assert _violations(("ticketing.domain",), ("ticketing.domain",), third_party=False) == []


def test_the_pure_cores_do_no_io():
    """IVR engine, routing policy and call tracker: no Twisted, no SQLAlchemy, no feature rooms."""
    ivr_pure = ("ivr.flow", "ivr.engine", "ivr.agi", "ivr.prompts", "ivr.library")
    assert _violations(ivr_pure, ivr_pure + ("yaml", "callcenter.personal_data", "callcenter.errors"),
                      third_party=False) == []
    routing_pure = ("callcenter.routing.policy", "callcenter.routing.skills", "callcenter.routing.agent",
                    "callcenter.routing.errors")
    assert _violations(routing_pure, routing_pure + ("callcenter.errors",), third_party=False) == []
    calls = ("callcenter.calls",)
    assert _violations(calls, calls + ("callcenter.ami.events", "callcenter.ami.message",
                                       "callcenter.personal_data"), third_party=False) == []


def test_the_foundation_imports_no_feature():
    assert _violations(FOUNDATION, FOUNDATION) == []


def test_ticketing_knows_only_the_foundation_of_callcenter():
    assert _violations(("ticketing",), ("ticketing",) + FOUNDATION) == []


def test_ivr_uses_only_the_parts_of_callcenter_it_needs():
    allowed = ("ivr", "callcenter.ami", "callcenter.clock", "callcenter.db", "callcenter.personal_data", "callcenter.errors",
               "callcenter.asr", "callcenter.screening", "callcenter.routing.announce",
               "ticketing.service", "ticketing.domain")
    assert _violations(("ivr",), allowed) == []


def test_only_entry_points_import_the_composition_root():
    entry_points = ("callcenter.app", "callcenter.commands", "callcenter.demo", "callcenter.bench",
                    "callcenter.preflight")
    bad = [f"{name} imports callcenter.app" for name, path in MODULES.items()
           if not _under(name, entry_points) and "callcenter.app" in _real(_imports(path))]
    assert bad == []


def test_no_production_room_imports_the_simulator_or_the_demo():
    tools = ("callcenter.pbxsim", "callcenter.demo")
    allowed_users = tools + ("callcenter.commands", "callcenter.bench", "callcenter.routing.busyhour")
    bad = [f"{name} imports {imported}" for name, path in MODULES.items() if not _under(name, allowed_users)
           for imported in _real(_imports(path)) if _under(imported, tools)]
    assert bad == []


def test_the_rules_can_fail():
    """The checker sees a forbidden import (the domain importing SQLAlchemy would be reported)."""
    MODULES["ticketing.domain._probe"] = probe = ROOT / "ticketing" / "domain" / "errors.py"
    try:
        original = _imports
        globals()["_imports"] = lambda path: original(path) | ({"sqlalchemy", "callcenter.web"} if path is probe
                                                                 else set())
        assert set(_violations(("ticketing.domain",), ("ticketing.domain",), third_party=False)) >= {
            "ticketing.domain._probe imports sqlalchemy", "ticketing.domain._probe imports callcenter.web"}
    finally:
        globals()["_imports"] = original
        del MODULES["ticketing.domain._probe"]
