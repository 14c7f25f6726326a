"""The single `callcenter` entry point.

Each sub-command lives in its own module under :mod:`callcenter.commands` and
exposes ``register(subparsers)``; the parser is assembled from whatever modules
are there, so features add commands without touching this file.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from callcenter import commands as _commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="callcenter",
        description="12345/81890-style public-service hotline / 市民热线",
    )
    parser.add_argument("--config", metavar="FILE", help="TOML configuration file")
    parser.add_argument("--log-level", default=None, help="DEBUG, INFO, WARNING, ERROR")
    parser.add_argument("--log-format", choices=("text", "json"), default=None)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for info in sorted(pkgutil.iter_modules(_commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{_commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from callcenter.config import ConfigError, load_config
    from callcenter.logs import setup_logging

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = load_config(getattr(args, "config", None))
    except ConfigError as exc:
        print(f"callcenter: configuration error: {exc}", file=sys.stderr)
        return 2
    setup_logging(
        args.log_level or config.get("logging.level"),
        args.log_format or config.get("logging.format"),
    )
    args.cfg = config
    result = args.func(args)
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
