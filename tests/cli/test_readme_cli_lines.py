"""Every `callcenter …` / `bin/callcenter …` line of README.md's and ARCHITECTURE.md's code blocks is
a command the shipped parser accepts: the sub-command exists and so does every option it prints.
Usage notation is read as such (`[--out DIR]` is optional, `…` a placeholder is left as a value);
shell alternatives joined by `|` or `/` on one line were rewritten as one command per line, because
pasted as printed `callcenter users list | passwd NAME` pipes into the system's `passwd`.
The Intake section's commands belong to its own tests and are skipped here."""
from __future__ import annotations

import re
import shlex

import pytest

from callcenter.cli import build_parser
from tests.conftest import ROOT

DOCS = ("README.md", "ARCHITECTURE.md")


def block_commands(name: str) -> list[tuple[str, int, str]]:
    """(file, line number, command) of each callcenter line inside a fenced code block."""
    found, in_block, pending = [], False, None
    for number, line in enumerate((ROOT / name).read_text(encoding="utf-8").splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("```"):
            in_block = not in_block
            continue
        if not in_block:
            continue
        if pending is not None:  # a continued line (trailing backslash)
            pending = (pending[0], pending[1] + " " + stripped.rstrip("\\").strip())
            if not stripped.endswith("\\"):
                found.append((name, *pending))
                pending = None
            continue
        text = re.sub(r"^bin/", "", stripped)
        if not text.startswith("callcenter "):
            continue
        text = text.split("  #")[0].strip()
        if text.endswith("\\"):
            pending = (number, text.rstrip("\\").strip())
        else:
            found.append((name, number, text))
    return found


COMMANDS = [c for name in DOCS for c in block_commands(name)
            if not re.match(r"callcenter (bench )?intake\b", c[2])]


def test_the_docs_print_callcenter_commands():
    assert len(COMMANDS) >= 20, COMMANDS


@pytest.mark.parametrize("name, number, command", COMMANDS, ids=[f"{n}:{i}" for n, i, _ in COMMANDS])
def test_each_printed_command_parses(name, number, command):
    assert "|" not in command and " / " not in command, f"{name}:{number} joins alternatives: {command}"
    argv = shlex.split(re.sub(r"\[[^\]]*\]", "", command))[1:]  # optional [--x Y] groups left out
    try:
        build_parser().parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"{name}:{number} `{command}` is refused by the parser (exit {exc.code})")
