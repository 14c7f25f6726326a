"""Call audio as the simulator makes it: 8 kHz mono signed-linear samples.

A caller's scripted speech (a WAV) is read here for recordings and
AudioSocket streams; a prompt's audio is stood in for by a tone.
"""
from __future__ import annotations

import array
import math
import struct
import wave
from pathlib import Path

from callcenter.pbxsim.participants import ScriptError


def read_slin(path: Path) -> bytes:
    """8 kHz mono signed-linear samples of a WAV (resampled crudely if needed)."""
    with wave.open(str(path), "rb") as w:
        channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
        data = w.readframes(w.getnframes())
    if width != 2:
        raise ScriptError("speech_wav must be 16-bit PCM", path=str(path))
    if channels == 2:
        samples = array.array("h", data)
        data = array.array("h", samples[0::2]).tobytes()
    if rate != 8000:
        samples = array.array("h", data)
        step = rate / 8000
        out = array.array("h", (samples[int(i * step)] for i in range(int(len(samples) / step))))
        data = out.tobytes()
    return data


def tone(seconds: float, hz: float = 1000.0) -> bytes:
    """A prompt's audio stand-in: a sine tone, 8 kHz signed-linear."""
    n = int(seconds * 8000)
    return struct.pack(f"<{n}h", *(int(8000 * math.sin(2 * math.pi * hz * i / 8000)) for i in range(n)))
