"""One live-speech subscriber for everyone who listens (``asr.live``).

:class:`SpeechFanout` feeds the agent desk (built lazily by the web app), the demo's simulated
agents (``heard``) and stores each finished stream as a transcript.  Built by the composition
root (:mod:`callcenter.app`) for ``serve`` and ``demo`` alike.
"""
from __future__ import annotations

import logging

from twisted.internet.threads import deferToThread

from callcenter.clock import now_from

log = logging.getLogger(__name__)


class SpeechFanout:
    """Forwards live-speech events to every listener and stores finished transcripts.

    ``listeners`` are callables returning a subscriber or None (the desk is
    built lazily by the web app); ``streams`` maps AudioSocket uuids to call ids.
    """

    def __init__(self, clock, queue=None):
        self.clock = clock
        self.queue = queue
        self.listeners: list = []
        self.streams: dict[str, str] = {}
        self.heard: dict[str, list[str]] = {}   # call id → final segments (simulated agents read these)
        self.stored = 0

    def _each(self, name: str, *args) -> None:
        for get in self.listeners:
            target = get()
            method = getattr(target, name, None) if target is not None else None
            if method is not None:
                try:
                    method(*args)
                except Exception:  # one listener's bug must not silence the others
                    log.exception("speech listener failed", extra={"fields": {"event": name}})

    def on_partial(self, uuid, text) -> None:
        self._each("on_partial", uuid, text)

    def on_final(self, uuid, segment) -> None:
        call_id = self.streams.get(uuid)
        text = getattr(segment, "text", segment)
        if call_id is not None and isinstance(text, str) and text.strip():
            self.heard.setdefault(call_id, []).append(text.strip()[:500])
        self._each("on_final", uuid, segment)

    def on_closed(self, uuid, transcript) -> None:
        self._each("on_closed", uuid, transcript)
        call_id = self.streams.pop(uuid, None)
        if self.queue is None or transcript is None:
            return
        d = deferToThread(self.queue.store, transcript, now_from(self.clock), call_id=call_id or str(uuid))

        def stored(_):
            self.stored += 1

        d.addCallbacks(stored, lambda f: log.error("transcript not stored",
                                                   extra={"fields": {"error": f.getErrorMessage()}}))
