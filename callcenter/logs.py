"""Structured logging: stdlib ``logging`` with a JSON formatter, and Twisted's
log events forwarded into it so every component logs through one pipe.

Log calls pass fields in ``extra={"fields": {...}}``; the JSON formatter puts
them at the top level and the text formatter appends them as ``key=value``.
The handler masks phone numbers in messages, fields and tracebacks
(:class:`callcenter.personal_data.MaskingFilter`).
"""
from __future__ import annotations

import json
import logging
import sys
import time

_STD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None)))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        out.update(getattr(record, "fields", {}) or {})
        if record.exc_info or record.exc_text:
            out["exc"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = getattr(record, "fields", None)
        if fields:
            text += " " + " ".join(f"{k}={v}" for k, v in fields.items())
        return text


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at emit time, so a handler set up
    under a test runner's captured (later closed) stream never writes to it."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def setup_logging(level: str | None = "INFO", fmt: str | None = "text", stream=None) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    # the personal-data policy: no citizen's number reaches a log line whole
    from callcenter.personal_data import MaskingFilter

    handler.addFilter(MaskingFilter())
    root.addHandler(handler)
    root.setLevel((level or "INFO").upper())
    _bridge_twisted()


_bridged = False


def _bridge_twisted() -> None:
    """Forward Twisted's log events to stdlib logging, once per process.

    Twisted's own INFO chatter ("Starting factory", "Main loop terminated")
    is kept below the service's log level unless DEBUG is asked for."""
    global _bridged
    if logging.getLogger().level > logging.DEBUG:
        logging.getLogger("twisted").setLevel(logging.WARNING)
    else:
        logging.getLogger("twisted").setLevel(logging.NOTSET)
    if _bridged:
        return
    from twisted.logger import STDLibLogObserver, globalLogBeginner

    globalLogBeginner.beginLoggingTo([STDLibLogObserver(name="twisted")], redirectStandardIO=False)
    _bridged = True
