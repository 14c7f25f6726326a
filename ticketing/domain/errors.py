"""Domain errors: a stable ``error_id`` the API maps to a 4xx, a bilingual
message, and ``details`` naming exactly what was wrong."""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error the work-order engine raises on purpose."""

    error_id = "domain_error"
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

    error_id = "validation_failed"
    http_status = 422


class IllegalTransition(DomainError):
    """The action is not allowed from the order's current status."""

    error_id = "illegal_transition"
    http_status = 409


class UnknownDepartment(ValidationFailed):
    error_id = "unknown_department"


class UnknownCategory(ValidationFailed):
    error_id = "unknown_category"


class UnknownDistrict(ValidationFailed):
    error_id = "unknown_district"


class NotFound(DomainError):
    """No such order, or one the actor may not see (never reveals which)."""

    error_id = "not_found"
    http_status = 404


class Forbidden(DomainError):
    """The actor's role may not perform this action."""

    error_id = "forbidden"
    http_status = 403


class DuplicateSubmission(DomainError):
    """An idempotency key was reused with different content."""

    error_id = "duplicate_submission"
    http_status = 409


class ConcurrentUpdate(DomainError):
    """Someone else changed the order meanwhile; reload and retry."""

    error_id = "concurrent_update"
    http_status = 409


class CalendarOutOfRange(DomainError):
    """A date the working calendar has no holiday data for: never guess."""

    error_id = "calendar_out_of_range"
    http_status = 422


class TaxonomyError(DomainError):
    """The taxonomy data files are inconsistent (raised at load time)."""

    error_id = "taxonomy_invalid"
    http_status = 500
