"""One audio stream through one Vosk recogniser.

:class:`StreamDecoder` is the only code that touches ``KaldiRecognizer``.  It is
not thread-safe by itself: callers feed a given stream from one thread at a
time (the live pipeline serialises each call's chunks), while many decoders
share one ``vosk.Model`` across threads.  Its methods block for as long as the
decoding takes, so services run them in the decode pool, never on the reactor.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass

from callcenter.asr.models import LoadedModel
from callcenter.asr.transcript import Segment, Transcript, Word, join_words


@dataclass(frozen=True)
class Update:
    """What one chunk of audio produced: a changed partial text and/or a closed segment."""

    partial: str | None = None
    final: Segment | None = None


class StreamDecoder:
    """Incremental recognition of one mono s16le stream at 8 or 16 kHz."""

    def __init__(self, model: LoadedModel, sample_rate: int, live: bool = True):
        import vosk

        self.model = model
        self.sample_rate = sample_rate
        self.live = live
        self.recognizer = vosk.KaldiRecognizer(model.vosk_model, sample_rate)
        self.recognizer.SetWords(True)
        self.bytes_in = 0
        self.decode_seconds = 0.0
        self.segments: list[Segment] = []
        self._last_partial = ""
        self._segment_start = 0.0

    @property
    def duration(self) -> float:
        return self.bytes_in / (2 * self.sample_rate)

    def accept(self, pcm: bytes) -> Update:
        """Decode a chunk; return the new partial text (if it changed) or the segment it closed."""
        if not pcm:
            return Update()
        started = time.perf_counter()
        self.bytes_in += len(pcm)
        endpoint = self.recognizer.AcceptWaveform(pcm)
        if endpoint:
            segment = self._segment(self.recognizer.Result())
            self.decode_seconds += time.perf_counter() - started
            self._last_partial = ""
            return Update(final=segment)
        partial = json.loads(self.recognizer.PartialResult()).get("partial", "")
        self.decode_seconds += time.perf_counter() - started
        if partial != self._last_partial:
            self._last_partial = partial
            return Update(partial=join_words(partial.split(), self.model.language))
        return Update()

    def finish(self) -> Segment | None:
        """Flush the recogniser at end of audio; the last segment, if anything was said."""
        started = time.perf_counter()
        segment = self._segment(self.recognizer.FinalResult())
        self.decode_seconds += time.perf_counter() - started
        return segment

    def transcript(self) -> Transcript:
        return Transcript.from_segments(
            [s for s in self.segments if s.text], self.duration, self.decode_seconds,
            model=self.model.name, language=self.model.language, sample_rate=self.sample_rate,
        )

    def _segment(self, raw: str) -> Segment | None:
        result = json.loads(raw)
        words: list[Word] = [
            (w["word"], float(w["start"]), float(w["end"]), float(w.get("conf", 1.0)))
            for w in result.get("result", [])
        ]
        end = self.duration
        start = words[0][1] if words else self._segment_start
        self._segment_start = end
        text = join_words([w[0] for w in words] or result.get("text", "").split(), self.model.language)
        if not text:
            return None
        segment = Segment(text=text, words=words, start=start, end=words[-1][2] if words else end, live=self.live)
        self.segments.append(segment)
        return segment
