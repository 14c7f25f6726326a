"""The AMI wire text the simulator writes: frames and timevals.

Both the session (:mod:`callcenter.pbxsim.server`) and the actions
(:mod:`callcenter.pbxsim.actions`) write through here, as does the simulator
when it sends events, so every frame leaves in one shape.
"""
from __future__ import annotations

from datetime import datetime, timezone

#: a timeval that was never set (``SessionTV`` before login), as Asterisk prints it
NEVER = "1970-01-01T00:00:00.000+0000"


def format_tv(seconds: float) -> str:
    """A timeval as Asterisk prints it in ``EventTV`` and ``SessionTV`` (UTC, milliseconds)."""
    dt = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+0000"


def encode(pairs) -> bytes:
    """One AMI frame.  Values from the simulator's own state never hold CR/LF;
    anything that would is cut at the line break rather than let it inject."""
    lines = [f"{key}: {value}" for key, value in pairs]
    text = "\r\n".join(lines)
    if text.count("\n") != len(lines) - 1 or text.count("\r") != len(lines) - 1:
        # slow path: some value carried a line break
        text = "\r\n".join(f"{key}: {str(value).replace(chr(13), ' ').replace(chr(10), ' ')}"
                            for key, value in pairs)
    return (text + "\r\n\r\n").encode("utf-8")
