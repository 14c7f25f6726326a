"""The service's one error base: a stable, namespaced ``error_id`` (``room.what``), a bilingual
message, and details naming what was wrong; ``http_status`` tells the web layer how to answer.

Every room's errors derive from :class:`HotlineError` (AMI, routing, speech, IVR, intake, desk,
web, configuration …), so ``except HotlineError`` catches any refusal of ours and the web layer
answers each the same way.  The pure ``ticketing.domain`` (standard library only) keeps its own
``DomainError`` of the same shape; its old un-namespaced ids are mapped in
:data:`ticketing.domain.errors.LEGACY_ERROR_IDS`.  Subclasses with their own constructor set
``error_id``, ``message`` and ``details`` themselves."""
from __future__ import annotations

from typing import Any


class HotlineError(Exception):
    error_id = "hotline.error"
    http_status = 400

    def __init__(self, *args: str, http_status: int | None = None, **details: Any) -> None:
        """``HotlineError(error_id, message, **details)``, or ``Subclass(message, **details)`` for a
        class whose ``error_id`` is a class attribute."""
        if len(args) == 2:
            self.error_id, message = args
        elif len(args) == 1:
            (message,) = args
        else:
            raise TypeError("HotlineError(error_id, message) or Subclass(message)")
        super().__init__(message)
        self.message = message
        self.details = details
        if http_status is not None:
            self.http_status = http_status

    def as_dict(self) -> dict[str, Any]:
        return {"error_id": self.error_id, "message": self.message, "details": dict(self.details)}
