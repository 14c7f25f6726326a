"""Routing errors carry a stable ``error_id`` so callers and the web layer can
react to the kind of failure without parsing messages."""
from __future__ import annotations

from callcenter.errors import HotlineError


class RoutingError(HotlineError):
    """A routing request was refused; nothing was changed (``routing.*``)."""

    def __str__(self) -> str:
        extra = ", ".join(f"{k}={v!r}" for k, v in self.details.items())
        return f"[{self.error_id}] {self.args[0]}" + (f" ({extra})" if extra else "")
