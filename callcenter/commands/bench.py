"""`callcenter bench NAME`: run one benchmark and print JSON lines."""
from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys

from callcenter import bench as _bench


def _names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(_bench.__path__) if not m.name.startswith("_"))


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("bench", help="run a benchmark (JSON lines out)")
    names = sub_parsers = parser.add_subparsers(dest="bench", metavar="NAME")
    sub_parsers.required = True
    for name in _names():
        module = importlib.import_module(f"{_bench.__name__}.{name}")
        p = names.add_parser(name, help=(module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else None)
        module.add_arguments(p)
        p.set_defaults(func=_runner(module))


def _runner(module):
    def run(args) -> int:
        for record in module.run(args):
            sys.stdout.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
            sys.stdout.flush()
        return 0
    return run
