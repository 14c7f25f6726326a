"""Configuration: built-in defaults, a TOML file, then environment variables.

Keys are dotted paths (``"database.url"``).  Environment variables named
``CALLCENTER_<SECTION>_<KEY>`` override the file and are converted to the type
of the default they replace, so a typo'd number fails loudly at start-up.
"""
from __future__ import annotations

import copy
import os
import tomllib
from importlib import resources
from typing import Any, Mapping

from callcenter.errors import HotlineError

ENV_PREFIX = "CALLCENTER_"


class ConfigError(HotlineError):
    """The configuration cannot be used; the message says which key and why."""

    error_id = "config.invalid"


def _defaults() -> dict[str, Any]:
    text = resources.files("callcenter").joinpath("defaults.toml").read_text("utf-8")
    return tomllib.loads(text)


def _merge(base: dict[str, Any], override: Mapping[str, Any], path: str = "") -> None:
    for key, value in override.items():
        dotted = f"{path}{key}"
        if isinstance(value, Mapping):
            target = base.setdefault(key, {})
            if not isinstance(target, dict):
                raise ConfigError(f"{dotted}: expected a value, not a table")
            _merge(target, value, dotted + ".")
        else:
            if isinstance(base.get(key), dict):
                raise ConfigError(f"{dotted}: expected a table")
            base[key] = value


def _coerce(raw: str, default: Any, name: str) -> Any:
    try:
        if isinstance(default, bool):
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, list):
            return [part.strip() for part in raw.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected {type(default).__name__}") from None
    return raw


class Config:
    """Read-only view of the merged configuration."""

    def __init__(self, data: dict[str, Any]):
        self._data = data

    def get(self, key: str, default: Any = None) -> Any:
        node: Any = self._data
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return copy.deepcopy(node)

    def number(self, key: str, low: float, high: float, *, unit: str = "", default: float | None = None) -> float:
        """The setting as a number from ``low`` to ``high``; anything else is a :class:`ConfigError`
        naming the key (so a service refuses to start instead of failing later)."""
        raw = self.get(key, default)
        what = f" ({unit})" if unit else ""
        if isinstance(raw, bool):
            raw = str(raw).lower()  # TOML true/false is not a number
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{key} must be a number{what}, not {raw!r}") from None
        if not low <= value <= high:
            raise ConfigError(f"{key} must be {low:g} to {high:g}{what}, not {raw!r}")
        return value

    def section(self, name: str) -> dict[str, Any]:
        value = self.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(f"{name}: expected a table")
        return value

    def with_overrides(self, overrides: Mapping[str, Any]) -> "Config":
        """A copy with dotted keys replaced (used by the demo and tests)."""
        data = copy.deepcopy(self._data)
        for dotted, value in overrides.items():
            node = data
            *parents, leaf = dotted.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
        return Config(data)

    def as_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self._data)


def load_config(path: str | None = None, environ: Mapping[str, str] | None = None) -> Config:
    data = _defaults()
    if path:
        try:
            with open(path, "rb") as fh:
                _merge(data, tomllib.load(fh))
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such file") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    environ = os.environ if environ is None else environ
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name.startswith(ENV_PREFIX + "TEST"):
            continue
        section, _, key = name[len(ENV_PREFIX):].lower().partition("_")
        if not key or not isinstance(data.get(section), dict):
            continue
        default = data[section].get(key, "")
        data[section][key] = _coerce(raw, default, name)
    return Config(data)
