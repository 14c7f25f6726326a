"""The refusals of the callbacks feature (satisfaction callback jobs and their webhook notifications)."""
from __future__ import annotations

from ticketing.domain.errors import DomainError


class CallbackConflict(DomainError):
    """The job is not in a state that allows this (e.g. a call is in progress), or a notification is
    not in a state that allows this (only a dead one is sent again)."""

    error_id = "callbacks.conflict"
    http_status = 409
