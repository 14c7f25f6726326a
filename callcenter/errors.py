"""The service's error shape: a stable ``error_id``, a bilingual message, and
details naming what was wrong; ``http_status`` tells the web layer how to
answer.  Feature errors subclass :class:`HotlineError` instead of repeating it
(the pure ``ticketing.domain`` keeps its own ``DomainError``)."""
from __future__ import annotations

from typing import Any


class HotlineError(Exception):
    http_status = 400

    def __init__(self, error_id: str, message: str, *, http_status: int | None = None, **details: Any) -> None:
        super().__init__(message)
        self.error_id = error_id
        self.message = message
        self.details = details
        if http_status is not None:
            self.http_status = http_status
