"""The simulator's rooms stand on the floors its package docstring draws: imports only go down.

Every import of one pbxsim module by another counts, also one inside a function, so a circle
cannot hide behind a late import.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import callcenter.pbxsim as pbxsim

PACKAGE = Path(pbxsim.__file__).parent


def _floors(doc: str) -> list[set[str]]:
    """The rooms of the docstring's map, top floor first (one line may name several rooms)."""
    block = doc.split("each imports only rooms below it::", 1)[1]
    floors = []
    for line in block.splitlines():
        m = re.match(r"^    ([a-z_]+(?:, [a-z_]+)*)\s{2,}", line)
        if m:
            floors.append(set(m.group(1).split(", ")))
    return floors


def _pbxsim_imports(path: Path) -> set[str]:
    """The pbxsim rooms a module imports (``from callcenter.pbxsim import cli`` names the room ``cli``)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "callcenter.pbxsim":
                out.update(a.name for a in node.names)
            elif node.module.startswith("callcenter.pbxsim."):
                out.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            out.update(a.name.split(".")[2] for a in node.names if a.name.startswith("callcenter.pbxsim."))
    return out


def upward_imports(floors: list[set[str]], imports: dict[str, set[str]]) -> list[str]:
    """``room -> other`` for every import that does not go to a lower floor."""
    level = {room: i for i, floor in enumerate(floors) for room in floor}
    return [f"{room} -> {other}" for room, others in sorted(imports.items()) for other in sorted(others)
            if level[other] <= level[room]]


def _rooms() -> dict[str, set[str]]:
    return {p.stem: _pbxsim_imports(p) for p in sorted(PACKAGE.glob("*.py")) if p.stem != "__init__"}


def test_the_map_names_every_room_once():
    floors = _floors(pbxsim.__doc__)
    named = [room for floor in floors for room in floor]
    assert sorted(named) == sorted(_rooms())


def test_every_import_goes_down_a_floor():
    assert upward_imports(_floors(pbxsim.__doc__), _rooms()) == []


def test_an_import_up_or_sideways_is_reported():
    floors = [{"server"}, {"actions"}, {"wire", "model"}]
    imports = {"server": {"actions", "wire"}, "actions": {"server", "wire"}, "wire": {"model"}, "model": set()}
    assert upward_imports(floors, imports) == ["actions -> server", "wire -> model"]
