"""The single `callcenter` entry point.

Each sub-command lives in its own module under :mod:`callcenter.commands` and
exposes ``register(subparsers)``; the parser is assembled from whatever modules
are there, so features add commands without touching this file.

The global options (``--config``, ``--log-level``, ``--log-format``) are
accepted before or after the sub-command, at any depth:
``callcenter --config FILE serve`` and ``callcenter serve --config FILE`` are
the same command (the one given last wins).
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from callcenter import commands as _commands
from callcenter.commands._database import DatabaseNotReady


def _global_options(parser: argparse.ArgumentParser, default) -> None:
    parser.add_argument("--config", metavar="FILE", default=default, help="TOML configuration file")
    parser.add_argument("--log-level", default=default, help="DEBUG, INFO, WARNING, ERROR")
    parser.add_argument("--log-format", choices=("text", "json"), default=default)


def _share_global_options(parser: argparse.ArgumentParser) -> None:
    """Give every sub-command (and theirs) the global options; ``SUPPRESS`` as their
    default keeps a value given before the sub-command when none is given after it."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                if "--config" not in child._option_string_actions:
                    _global_options(child, argparse.SUPPRESS)
                _share_global_options(child)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="callcenter",
        description="12345/81890-style public-service hotline / 市民热线",
    )
    _global_options(parser, None)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for info in sorted(pkgutil.iter_modules(_commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{_commands.__name__}.{info.name}")
        module.register(sub)
    _share_global_options(parser)
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
    try:
        result = args.func(args)
    except DatabaseNotReady as exc:  # the command's database is missing, unreachable or not migrated
        print(f"callcenter {args.command}: [{exc.error_id}] {exc.message}", file=sys.stderr)
        return 2
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
