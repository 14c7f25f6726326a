"""HTTP errors as data: a stable ``error_id``, a message and details.

Handlers raise :class:`ApiError` (or let a domain error from ``ticketing``
escape); :func:`error_payload` turns either into the JSON body
``{"error_id", "message", "details"}`` and a 4xx/5xx status.  Domain errors are
mapped by class name so the web layer needs no import of the engine.
"""
from __future__ import annotations

from typing import Any

from callcenter.errors import HotlineError

# Domain error class name -> HTTP status.  Looked up along the MRO, so a
# subclass of ValidationFailed is a 422 too.
DOMAIN_STATUS = {
    "NotFound": 404,
    "Forbidden": 403,
    "PermissionDenied": 403,
    "ValidationFailed": 422,
    "ValidationError": 422,
    "UnknownReference": 422,
    "IllegalTransition": 409,
    "DuplicateSubmission": 409,
    "Conflict": 409,
    "CalendarUnknown": 422,
}


class ApiError(HotlineError):
    """An error the client can act on; ``status`` is the HTTP status."""

    def __init__(self, status: int, error_id: str, message: str, details: Any = None,
                 headers: dict[str, str] | None = None):
        super().__init__(error_id, message, http_status=status)
        self.status = status
        self.details = details if details is not None else {}
        self.headers = dict(headers or {})  # e.g. Retry-After on a 429


def unauthorized(message: str = "authentication required / 需要登录") -> ApiError:
    return ApiError(401, "auth.required", message)


def forbidden(message: str = "not allowed for your role / 无此权限", **details) -> ApiError:
    return ApiError(403, "auth.forbidden", message, details)


def not_found(message: str = "no such resource / 资源不存在", **details) -> ApiError:
    return ApiError(404, "http.not_found", message, details)


def domain_status(exc: BaseException) -> int | None:
    """HTTP status for a domain error (anything with an ``error_id``), else None."""
    if not hasattr(exc, "error_id"):
        return None
    explicit = getattr(exc, "http_status", None)
    if isinstance(explicit, int) and 400 <= explicit <= 599:
        return explicit
    for cls in type(exc).__mro__:
        if cls.__name__ in DOMAIN_STATUS:
            return DOMAIN_STATUS[cls.__name__]
    return 400


def error_payload(exc: BaseException) -> tuple[int, dict]:
    """(status, body) for an ApiError or a domain error; 500 otherwise."""
    if isinstance(exc, ApiError):
        return exc.status, {"error_id": exc.error_id, "message": exc.message, "details": exc.details}
    status = domain_status(exc)
    if status is not None:
        details = getattr(exc, "details", None) or {}
        message = getattr(exc, "message", None) or str(exc)
        return status, {"error_id": exc.error_id, "message": message, "details": _jsonable(details)}
    return 500, {"error_id": "http.internal", "message": "internal error / 内部错误", "details": {}}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def error_responses(*codes: int) -> dict:
    """OpenAPI ``responses`` entries for these error statuses, each the standard error body."""
    return {str(code): {"description": "error", "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Error"}}}} for code in codes}
