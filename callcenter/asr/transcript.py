"""Results of recognition: words with timings, segments, whole transcripts.

Plain data, no Vosk: the agent desk, intake and the database only ever see
these.  Times are seconds from the start of the audio.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Word = tuple[str, float, float, float]  # (word, start, end, confidence)

#: Languages written without spaces between words.
UNSPACED = {"zh", "ja"}


def join_words(words: list[str], language: str) -> str:
    """Vosk separates every word by a space; Chinese text is written without them."""
    return ("" if language in UNSPACED else " ").join(w for w in words if w)


@dataclass(frozen=True)
class Segment:
    """One utterance, closed by the recogniser's endpoint (or the end of audio)."""

    text: str
    words: list[Word]
    start: float
    end: float
    live: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text, "start": round(self.start, 3), "end": round(self.end, 3), "live": self.live,
            "words": [_word_dict(w) for w in self.words],
        }


@dataclass(frozen=True)
class Transcript:
    """A whole recording or call: text, word timings, audio duration and real-time factor."""

    text: str
    words: list[Word]
    duration: float
    rtf: float
    model: str = ""
    language: str = ""
    sample_rate: int = 0
    segments: list[Segment] = field(default_factory=list)

    @classmethod
    def from_segments(cls, segments: list[Segment], duration: float, decode_seconds: float,
                      model: str = "", language: str = "", sample_rate: int = 0) -> "Transcript":
        texts = [s.text for s in segments if s.text]
        words = [w for s in segments for w in s.words]
        return cls(
            text=(" " if language not in UNSPACED else "").join(texts),
            words=words,
            duration=duration,
            rtf=(decode_seconds / duration) if duration > 0 else 0.0,
            model=model, language=language, sample_rate=sample_rate,
            segments=list(segments),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "words": [_word_dict(w) for w in self.words],
            "duration": round(self.duration, 3),
            "rtf": round(self.rtf, 4),
            "model": self.model,
            "language": self.language,
            "sample_rate": self.sample_rate,
            "segments": [s.to_dict() for s in self.segments],
        }


def _word_dict(word: Word) -> dict[str, Any]:
    text, start, end, conf = word
    return {"word": text, "start": round(start, 3), "end": round(end, 3), "conf": round(conf, 3)}
