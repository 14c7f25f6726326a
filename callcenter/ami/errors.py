"""Typed AMI errors, each with a stable ``error_id`` and structured details.

Callers branch on the class (or ``error_id``), never on message text, and the
details travel with the error into logs.
"""
from __future__ import annotations


from callcenter.errors import HotlineError


class AMIError(HotlineError):
    """Base class of every AMI failure."""

    error_id = "ami.error"

    def __str__(self) -> str:
        if not self.details:
            return self.message
        extra = ", ".join(f"{k}={v!r}" for k, v in self.details.items())
        return f"{self.message} ({extra})"


class AMIInjectionError(AMIError, ValueError):
    """A key or value would have smuggled CR/LF (extra headers) onto the wire."""

    error_id = "ami.injection"


class AMIParseError(AMIError, ValueError):
    """Bytes that are not a well-formed AMI message."""

    error_id = "ami.malformed"


class AMIFrameTooLarge(AMIError):
    """A frame beyond the configured limit; it was skipped."""

    error_id = "ami.frame_too_large"


class AMIActionError(AMIError):
    """Asterisk answered an action with ``Response: Error``.

    ``response`` is the whole :class:`~callcenter.ami.message.Message`, so the
    caller can read ``Message``, ``Output`` and any other header.
    """

    error_id = "ami.action_error"

    def __init__(self, message: str, response=None, **details) -> None:
        super().__init__(message, **details)
        self.response = response


class AMITimeout(AMIError):
    """No (complete) answer to an action within its timeout."""

    error_id = "ami.timeout"


class AMIConnectionLost(AMIError):
    """The connection closed while the action was still pending."""

    error_id = "ami.connection_lost"


class AMITooManyPending(AMIError):
    """Refused to send: too many actions already wait for their answers."""

    error_id = "ami.too_many_pending"


class AMINotConnected(AMIError):
    """No logged-in AMI connection to send the action on."""

    error_id = "ami.not_connected"


class AMILoginError(AMIError):
    """Asterisk refused our credentials (``Authentication failed``)."""

    error_id = "ami.login_failed"


class AGIError(AMIError):
    """An AsyncAGI command could not run or its channel went away."""

    error_id = "ami.agi_failed"
