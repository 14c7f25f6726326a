"""AGI command strings for the engine's commands, and AGI results as engine events.

Pure.  Arguments are quoted the way Asterisk's AGI parser reads them; a value
with CR/LF (or NUL) is refused here, before it could reach AMI.
"""
from __future__ import annotations

import re

from ivr.engine import Digits, Failure, Timeout
from callcenter.errors import HotlineError


class AgiArgumentError(HotlineError, ValueError):
    error_id = "ivr.agi.bad_argument"


_BARE = re.compile(r"^[A-Za-z0-9_./:@=+-]+$")
_VARNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,79}$")


def quote(value: str) -> str:
    """One AGI argument: bare when safe, else double-quoted with ``\\`` escapes."""
    value = str(value)
    if any(ch in value for ch in "\r\n\0"):
        raise AgiArgumentError(f"CR/LF/NUL in an AGI argument: {value[:40]!r}")
    if value and _BARE.match(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def stream_file(sound: str, escape_digits: str = "") -> str:
    return f"STREAM FILE {quote(sound)} {quote(escape_digits) if escape_digits else chr(34) * 2}"


def get_data(sound: str, timeout: float, max_digits: int) -> str:
    return f"GET DATA {quote(sound)} {int(timeout * 1000)} {int(max_digits)}"


def set_variable(name: str, value: str) -> str:
    if not _VARNAME.match(name):
        raise AgiArgumentError(f"bad variable name {name!r}")
    return f"SET VARIABLE {name} {quote(value)}"


def get_full_variable(name: str) -> str:
    if not _VARNAME.match(name):
        raise AgiArgumentError(f"bad variable name {name!r}")
    return f"GET FULL VARIABLE ${{{name}}}"


def record_file(path: str, max_seconds: int, silence: int = 5, beep: bool = True) -> str:
    """Record to ``path`` (no extension) as WAV; ``#`` ends, ``silence`` seconds of quiet end."""
    return (f"RECORD FILE {quote(path)} wav {quote('#')} {int(max_seconds * 1000)}"
            f"{' BEEP' if beep else ''} s={int(silence)}")


BREAK = "ASYNCAGI BREAK"


def is_dead_channel(result) -> bool:
    """``511``: the command ran on a channel that is already hung up."""
    return result.code == 511


def failure(result) -> Failure | None:
    """Anything but a plain success.

    ``510`` (unknown command) and ``520`` (usage) are failures, and so is
    ``200 result=-1``: Asterisk answers that both for a hang-up and for a
    prompt file it cannot open (``STREAM FILE``).  Treating it as a failure
    sends a caller who is still there to ``on_error`` (an agent) instead of
    stranding them; if they really hung up, the next command says so.
    """
    if result.code == 200 and result.result != "-1":
        return None
    return Failure(result.code if result.code != 200 else -1, (result.text or "")[:200])


def digits_event(result):
    """``GET DATA``: the keys (``result=`` empty and ``(timeout)`` means nothing pressed)."""
    fail = failure(result)
    if fail:
        return fail
    keys = result.result or ""
    return Digits(keys) if keys else Timeout()
