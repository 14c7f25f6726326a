"""Intake errors: a stable ``error_id`` callers can branch on, and details."""
from __future__ import annotations

from callcenter.errors import HotlineError


class IntakeError(HotlineError):
    """Bad input or unusable data for intake; nothing was changed."""

    error_id = "intake.error"

    def __init__(self, message: str, details: dict | None = None, *, error_id: str | None = None):
        Exception.__init__(self, message)
        self.message = message
        self.details = dict(details or {})
        if error_id:
            self.error_id = error_id

    def as_dict(self) -> dict:
        return {"error_id": self.error_id, "message": self.message, "details": self.details}


class InvalidText(IntakeError):
    error_id = "intake.invalid_text"


class InvalidCorrection(IntakeError):
    error_id = "intake.invalid_correction"


class DataError(IntakeError):
    """A shipped or supplied data file (labeled TSV, model, gazetteer) is malformed."""

    error_id = "intake.data_error"
