"""Typed errors of the speech layer.

Every error carries a stable ``error_id`` (for logs, HTTP answers and tests)
and ``details``; the message says what is wrong and how to fix it, in Chinese
and English, because operators read it on the command line.
"""
from __future__ import annotations

from typing import Any

from callcenter.errors import HotlineError


class AsrError(HotlineError):
    """Base class: a speech problem that must not take the service down."""

    error_id = "asr.error"

    def __init__(self, message: str, error_id: str | None = None, **details: Any):
        Exception.__init__(self, message)
        self.message = message
        if error_id:
            self.error_id = error_id
        self.details = details

    def as_dict(self) -> dict[str, Any]:
        return {"error_id": self.error_id, "message": str(self), "details": self.details}


class AudioError(AsrError):
    """The audio cannot be decoded: not a WAV, empty, truncated, too long, unsupported encoding."""

    error_id = "asr.audio"


class ModelError(AsrError):
    """A speech model is unknown, missing, corrupt or cannot be installed."""

    error_id = "asr.model"
