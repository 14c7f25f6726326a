"""Callers' voices for the demo.

:func:`make_voices` renders what the synthetic callers say (``population.UTTERANCES``)
with espeak-ng (Mandarin) into 8 kHz mono WAVs under ``var/demo/voices`` — the
demo never depends on ``../shared`` — so the simulator can stream them over
AudioSocket when a call is spied.  The one ``asr.live`` subscriber is
:class:`callcenter.asr.fanout.SpeechFanout`.
"""
from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)


def make_voices(directory: Path, texts, voice: str = "cmn") -> dict[str, Path]:
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
                subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(raw), text], check=True,
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
