"""Domain errors: a stable, namespaced ``error_id`` (``workorder.*``) the API maps to a 4xx, a
bilingual message, and ``details`` naming exactly what was wrong.

The pure domain imports only the standard library, so :class:`DomainError` is its own base; it has
the shape of :class:`callcenter.errors.HotlineError` (``error_id``, ``message``, ``details``,
``http_status``, ``as_dict``), which the web layer relies on.  Before the ids had a namespace they
were bare words; :data:`LEGACY_ERROR_IDS` maps each old id to its new one (the one place to look
for a client that still compares the old ones).
"""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error the work-order engine raises on purpose."""

    error_id = "workorder.error"
    http_status = 400

    def __init__(self, message: str, details: dict[str, Any] | None = None, *, error_id: str | None = None):
        super().__init__(message)
        self.message = message
        self.details = dict(details or {})
        if error_id:
            self.error_id = error_id

    def as_dict(self) -> dict[str, Any]:
        return {"error_id": self.error_id, "message": self.message, "details": self.details}


class ValidationFailed(DomainError):
    """Input does not fit the contract; ``details`` maps field → problem."""

    error_id = "workorder.validation_failed"
    http_status = 422


class IllegalTransition(DomainError):
    """The action is not allowed from the order's current status."""

    error_id = "workorder.illegal_transition"
    http_status = 409


class UnknownDepartment(ValidationFailed):
    error_id = "workorder.unknown_department"


class UnknownCategory(ValidationFailed):
    error_id = "workorder.unknown_category"


class UnknownDistrict(ValidationFailed):
    error_id = "workorder.unknown_district"


class NotFound(DomainError):
    """No such order, or one the actor may not see (never reveals which)."""

    error_id = "workorder.not_found"
    http_status = 404


class Forbidden(DomainError):
    """The actor's role may not perform this action."""

    error_id = "workorder.forbidden"
    http_status = 403


class DuplicateSubmission(DomainError):
    """An idempotency key was reused with different content."""

    error_id = "workorder.duplicate_submission"
    http_status = 409


class ConcurrentUpdate(DomainError):
    """Someone else changed the order meanwhile; reload and retry."""

    error_id = "workorder.concurrent_update"
    http_status = 409


class CalendarOutOfRange(DomainError):
    """A date the working calendar has no holiday data for: never guess."""

    error_id = "workorder.calendar_out_of_range"
    http_status = 422


class TaxonomyError(DomainError):
    """The taxonomy data files are inconsistent (raised at load time)."""

    error_id = "workorder.taxonomy_invalid"
    http_status = 500


#: old (un-namespaced) error id → the id sent since; clients matching on the old ids translate here
LEGACY_ERROR_IDS = {
    "domain_error": "workorder.error",
    "validation_failed": "workorder.validation_failed",
    "illegal_transition": "workorder.illegal_transition",
    "unknown_department": "workorder.unknown_department",
    "unknown_category": "workorder.unknown_category",
    "unknown_district": "workorder.unknown_district",
    "not_found": "workorder.not_found",
    "forbidden": "workorder.forbidden",
    "duplicate_submission": "workorder.duplicate_submission",
    "concurrent_update": "workorder.concurrent_update",
    "calendar_out_of_range": "workorder.calendar_out_of_range",
    "taxonomy_invalid": "workorder.taxonomy_invalid",
    "unknown_action": "workorder.unknown_action",
    "callback_conflict": "callbacks.conflict",
    "internal": "http.internal",
}
