"""Warm recognisers, reused from call to call.

Measured here with the Korean model: a fresh ``KaldiRecognizer`` stalls for
about 2.3 s on its first second of speech (its lookahead decoding graph is
expanded lazily, per recogniser), which alone would break the agent desk's
one-second budget on every call.  A recogniser that has decoded once keeps
that work, so streams borrow one from here and give it back after
``FinalResult()``; new ones are warmed on a second of fixed noise before
their first call.  Vosk keeps counting time across a recogniser's streams,
so each lease remembers where its stream started.
"""
from __future__ import annotations

import random
import struct
import threading
from dataclasses import dataclass


@dataclass
class Lease:
    recognizer: object
    sample_rate: int
    elapsed: float = 0.0   # seconds of audio this recogniser has decoded before the current stream


class RecognizerPool:
    #: Idle recognisers kept per sample rate (each holds some graph cache, tens of MB).
    max_idle = 8
    #: A recogniser is retired after this much audio, bounding its cache's growth.
    max_lifetime_seconds = 4 * 3600.0
    #: Seconds of noise a new recogniser decodes before its first call.
    warmup_seconds = 1.0

    def __init__(self, vosk_model):
        self.vosk_model = vosk_model
        self._idle: dict[int, list[Lease]] = {}
        self._lock = threading.Lock()
        self.created = 0

    def _new(self, sample_rate: int) -> Lease:
        import vosk

        recognizer = vosk.KaldiRecognizer(self.vosk_model, sample_rate)
        recognizer.SetWords(True)
        rng = random.Random(sample_rate)
        frames = int(sample_rate * self.warmup_seconds)
        noise = struct.pack(f"<{frames}h", *(rng.randint(-3000, 3000) for _ in range(frames)))
        if noise:
            recognizer.AcceptWaveform(noise)
            recognizer.FinalResult()
        with self._lock:
            self.created += 1
        return Lease(recognizer, sample_rate, elapsed=frames / sample_rate)

    def acquire(self, sample_rate: int) -> Lease:
        """A warm recogniser for ``sample_rate`` (blocking: warming a new one takes seconds)."""
        with self._lock:
            idle = self._idle.get(sample_rate)
            if idle:
                return idle.pop()
        return self._new(sample_rate)

    def release(self, lease: Lease) -> None:
        """Give back a recogniser whose stream ended with ``FinalResult()``."""
        if lease.elapsed >= self.max_lifetime_seconds:
            return
        with self._lock:
            idle = self._idle.setdefault(lease.sample_rate, [])
            if len(idle) < self.max_idle:
                idle.append(lease)

    def warm(self, sample_rate: int, count: int) -> None:
        """Have ``count`` idle recognisers ready (run at start-up, off the reactor)."""
        with self._lock:
            missing = count - len(self._idle.get(sample_rate, []))
        for _ in range(max(0, missing)):
            self.release(self._new(sample_rate))

    def idle_count(self, sample_rate: int) -> int:
        with self._lock:
            return len(self._idle.get(sample_rate, []))
