"""Routing errors carry a stable ``error_id`` so callers and the web layer can
react to the kind of failure without parsing messages."""
from __future__ import annotations

from typing import Any


class RoutingError(Exception):
    """A routing request was refused; nothing was changed."""

    def __init__(self, error_id: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.error_id = error_id
        self.details = details

    def __str__(self) -> str:
        extra = ", ".join(f"{k}={v!r}" for k, v in self.details.items())
        return f"[{self.error_id}] {self.args[0]}" + (f" ({extra})" if extra else "")
