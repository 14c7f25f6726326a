"""Callers' voices for the demo, and one speech subscriber for everyone who listens.

:func:`make_voices` renders what the synthetic callers say (``population.UTTERANCES``)
with espeak-ng (Mandarin) into 8 kHz mono WAVs under ``var/demo/voices`` — the
demo never depends on ``../shared`` — so the simulator can stream them over
AudioSocket when a call is spied.  :class:`SpeechFanout` is the single
``asr.live`` subscriber: it feeds the agent desk (browser agents), the demo's
simulated agents, and stores each finished stream as a transcript.
"""
from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
from pathlib import Path

from twisted.internet.threads import deferToThread

from callcenter.clock import now_from

log = logging.getLogger(__name__)


def make_voices(directory: Path, texts) -> dict[str, Path]:
    """``text → WAV`` for every text espeak-ng and sox can render (cached by content); {} without them."""
    if not (shutil.which("espeak-ng") and shutil.which("sox")):
        return {}
    directory.mkdir(parents=True, exist_ok=True)
    out = {}
    for text in texts:
        target = directory / (hashlib.sha1(text.encode("utf-8")).hexdigest()[:16] + ".wav")
        if not target.exists():
            raw = target.with_suffix(".raw.wav")
            try:
                subprocess.run(["espeak-ng", "-v", "cmn", "-s", "150", "-w", str(raw), text], check=True,
                               capture_output=True, timeout=60)
                subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer",
                                str(target)], check=True, capture_output=True, timeout=60)
            except (OSError, subprocess.SubprocessError) as exc:
                log.warning("caller voice not rendered", extra={"fields": {"error": str(exc)[:200]}})
                continue
            finally:
                raw.unlink(missing_ok=True)
        out[text] = target
    return out


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
