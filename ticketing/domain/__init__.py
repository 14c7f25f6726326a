"""The pure work-order domain: no I/O, ``now`` always passed in."""
from ticketing.domain.calendar import WorkingCalendar
from ticketing.domain.durations import Duration, parse_duration
from ticketing.domain.errors import (
    CalendarOutOfRange, ConcurrentUpdate, DomainError, DuplicateSubmission, Forbidden, IllegalTransition,
    NotFound, TaxonomyError, UnknownCategory, UnknownDepartment, UnknownDistrict, ValidationFailed,
)
from ticketing.domain.lifecycle import ACTIONS, STATUSES, TRANSITIONS, Status, Transition
from ticketing.domain.sla import Deadline, SlaContext, SlaTargets
from ticketing.domain.workorder import DomainEvent, HistoryEntry, WorkOrder, validate_params

__all__ = [
    "ACTIONS", "STATUSES", "TRANSITIONS", "CalendarOutOfRange", "ConcurrentUpdate", "Deadline", "DomainError",
    "DomainEvent", "DuplicateSubmission", "Duration", "Forbidden", "HistoryEntry", "IllegalTransition", "NotFound",
    "SlaContext", "SlaTargets", "Status", "TaxonomyError", "Transition", "UnknownCategory", "UnknownDepartment",
    "UnknownDistrict", "ValidationFailed", "WorkOrder", "WorkingCalendar", "parse_duration", "validate_params",
]
