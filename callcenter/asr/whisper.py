"""Whisper (``faster-whisper``, CTranslate2) for utterances and recordings.

Whisper decodes a whole utterance at once, so it serves where accuracy
matters and a second of delay does not: the IVR's "say what the problem is",
after-hours messages and agent-call recordings.  Live desk transcripts stay on
Vosk's streaming decoder.

One :class:`WhisperRecognizer` per process (``models.load_model`` caches it);
CTranslate2 runs ``num_workers`` decodes at once, one per decode-pool thread,
each on ``cpu_threads`` cores.  What the hotline needs on top of the engine:

- the language is forced (the caller chose it in the IVR), never guessed;
- Chinese comes out in simplified characters (Whisper often answers in
  traditional ones): OpenCC's ``t2s`` table (``opencc-python-reimplemented``);
- the decoder is primed with a simplified-Chinese initial prompt and, where
  a site turns it on, the hotline's vocabulary (districts, departments) as
  Whisper's hotwords;
- digits are normalised for intake (full-width folded, spaced digit groups
  joined, long runs of spoken Chinese digits written as digits).
"""
from __future__ import annotations

import logging
import math
import re
import threading
import time
import unicodedata
from pathlib import Path

from callcenter.asr.audio import DEFAULT_MAX_SECONDS, iter_pcm, probe_wav
from callcenter.asr.errors import AudioError, ModelError
from callcenter.asr.transcript import Segment, Transcript

log = logging.getLogger(__name__)
# faster-whisper logs every decode at INFO ("Processing audio with duration …"): noise in ours.
logging.getLogger("faster_whisper").setLevel(logging.WARNING)

#: Whisper's input rate.
WHISPER_RATE = 16000
LANGUAGES = ("zh", "en")

_SPACED_DIGITS = re.compile(r"(?<=\d)[ \u00a0-](?=\d)")
_CN_DIGIT_RUN = re.compile(r"[零〇一二三四五六七八九幺]{5,}")
_CN_DIGITS = {"零": "0", "〇": "0", "幺": "1", "一": "1", "二": "2", "三": "3", "四": "4",
              "五": "5", "六": "6", "七": "7", "八": "8", "九": "9"}

_t2s = None
_t2s_lock = threading.Lock()


def to_simplified(text: str) -> str:
    """Traditional → simplified Chinese (OpenCC ``t2s``); other scripts pass through."""
    global _t2s
    with _t2s_lock:
        if _t2s is None:
            from opencc import OpenCC

            _t2s = OpenCC("t2s")
        converter = _t2s
    return converter.convert(text)


def normalise_numbers(text: str, language: str) -> str:
    """Digits as intake reads them: ``１３８`` → ``138``, ``138 0013 8000`` → ``13800138000``,
    and (Mandarin) five or more spoken digits → digits (幺三八零零… → 138 00…).  Shorter
    Chinese numerals stay (一二线城市); intake converts the ones before address units."""
    text = "".join(unicodedata.normalize("NFKC", ch) if ch.isdigit() else ch for ch in text)
    text = _SPACED_DIGITS.sub("", text)
    if language == "zh":
        text = _CN_DIGIT_RUN.sub(lambda m: "".join(_CN_DIGITS[c] for c in m.group(0)), text)
    return text


def clean_text(text: str, language: str) -> str:
    text = text.strip()
    if language == "zh":
        text = to_simplified(text).replace(" ", "")
    return normalise_numbers(text, language)


#: The initial prompt per language: a simplified-Chinese sentence keeps Whisper's
#: Mandarin in simplified characters with punctuation (measured: CER 13.3 % → 11.1 %
#: on the real 8 kHz clips, and fewer traditional characters left for OpenCC).
PROMPTS = {"zh": "以下是普通话的句子。", "en": ""}


def hotline_words(language: str, taxonomy=None, extra: list[str] | tuple[str, ...] = ()) -> str:
    """The hotline's own words (districts, departments, ``[asr] hotwords``) for Whisper's ``hotwords``.

    Off by default (``[asr] whisper_hotwords = false``): measured on the real
    8 kHz Mandarin clips, fourteen district and utility names as hotwords
    raised CER from 11.1 % to 17.8 % and made the synthetic voices hallucinate.
    """
    words: list[str] = list(extra)
    if taxonomy is not None:
        if language == "zh":
            words += [d.zh for d in taxonomy.districts.values()]
            words += [re.sub(r"[(（].*?[)）]", "", d.zh) for d in taxonomy.departments.values()][:6]
        else:
            words += [d.en for d in taxonomy.districts.values()]
    seen: list[str] = []
    for w in words:
        if w and w not in seen:
            seen.append(w)
    if language == "zh":
        return " ".join(seen[:20])
    return " ".join(seen[:20])


class WhisperRecognizer:
    """A loaded Whisper model: ``transcribe(path, language, ...) -> Transcript`` (blocking)."""

    #: Beam search: measured here, beam 5 is what brings Mandarin CER under 10 % on 8 kHz clips.
    beam_size = 5
    #: Sampling fallbacks when beam search loops (fewer than faster-whisper's six: on audio it cannot
    #: understand each retry costs a whole decode, and a caller is waiting).
    temperatures = (0.0, 0.4, 0.8)
    #: Text compressing better than this (gzip ratio) repeats itself: confidence is halved.
    max_compression = 2.0
    #: Cap on tokens per 30 s window: speech runs at ~4-6 tokens/s; a hallucinated loop is cut short.
    tokens_per_second = 10
    max_tokens = 220

    def __init__(self, model, path: Path, *, compute_type: str, cpu_threads: int, workers: int,
                 hotwords: dict[str, str] | None = None):
        self.model = model
        self.path = path
        self.compute_type = compute_type
        self.cpu_threads = cpu_threads
        self.workers = workers
        self.prompts = dict(PROMPTS)
        self.hotwords = hotwords or {}

    @classmethod
    def load(cls, path: Path, config=None) -> "WhisperRecognizer":
        """Load ``path`` (int8 on the CPU by default; ``[asr] whisper_threads`` cores per decode)."""
        try:
            from faster_whisper import WhisperModel
        except ImportError:  # pragma: no cover - a dependency of the project
            raise ModelError("faster-whisper 未安装 / faster-whisper is not installed: pip install faster-whisper",
                             error_id="asr.engine_missing") from None
        get = (lambda key, default: config.get(key, default)) if config is not None else (lambda key, d: d)
        compute_type = str(get("asr.whisper_compute_type", "int8") or "int8")
        threads = int(get("asr.whisper_threads", 1) or 1)
        workers = int(get("asr.pool_size", 2) or 2)
        try:
            model = WhisperModel(str(path), device="cpu", compute_type=compute_type, cpu_threads=threads,
                                 num_workers=workers)
        except Exception as exc:  # ctranslate2 raises RuntimeError/ValueError on a bad model
            raise ModelError(f"模型加载失败 / cannot load Whisper model from {path}: {exc}",
                             error_id="asr.model_load", path=str(path)) from None
        hotwords = {}
        if get("asr.whisper_hotwords", False):
            taxonomy = None
            try:
                from ticketing.taxonomy import from_config, load_taxonomy

                taxonomy = from_config(config) if config is not None else load_taxonomy()
            except Exception as exc:  # the vocabulary is a bias, not a requirement
                log.warning("hotline vocabulary unavailable for the speech decoder: %s", exc)
            extra = tuple(get("asr.hotwords", ()) or ())
            hotwords = {lang: hotline_words(lang, taxonomy, extra) for lang in LANGUAGES}
        return cls(model, path, compute_type=compute_type, cpu_threads=threads, workers=workers,
                   hotwords=hotwords)

    # -- audio ------------------------------------------------------------------------

    @staticmethod
    def samples(path, max_seconds: float | None = DEFAULT_MAX_SECONDS):
        """The WAV as float32 mono at 16 kHz (checked first: bad audio raises AudioError)."""
        info = probe_wav(path, max_seconds)
        pcm = b"".join(iter_pcm(info, 30.0))
        return info, pcm_to_float16k(pcm, info.target_rate)

    # -- decoding ---------------------------------------------------------------------

    def transcribe(self, path, language: str | None = "zh", *, prompt: str | None = None, words: bool = False,
                   vad: bool = False, max_seconds: float | None = DEFAULT_MAX_SECONDS, name: str = "") -> Transcript:
        """Transcribe a WAV file; ``language`` forced (``None``: detect), prompt = the hotline's vocabulary."""
        info, audio = self.samples(path, max_seconds)
        return self.transcribe_samples(audio, language, prompt=prompt, words=words, vad=vad, name=name,
                                       sample_rate=info.sample_rate)

    def transcribe_samples(self, audio, language: str | None = "zh", *, prompt: str | None = None,
                           words: bool = False, vad: bool = False, name: str = "",
                           sample_rate: int = WHISPER_RATE) -> Transcript:
        if language is not None and language not in LANGUAGES:
            language = None
        if language is None and len(audio):
            language = self.detect_language(audio)
        if prompt is None and language is not None:
            prompt = self.prompts.get(language)
        duration = len(audio) / WHISPER_RATE
        started = time.perf_counter()
        try:
            segments, info = self.model.transcribe(
                audio, language=language, beam_size=self.beam_size, initial_prompt=prompt or None,
                hotwords=self.hotwords.get(language) or None, temperature=self.temperatures,
                max_new_tokens=min(self.max_tokens, int(self.tokens_per_second * min(duration, 30.0)) + 20),
                condition_on_previous_text=False, word_timestamps=words, vad_filter=vad,
                without_timestamps=not words,
            )
            raw = list(segments)
        except Exception as exc:
            raise AudioError(f"无法识别 / decoding failed: {exc}", error_id="asr.decode") from None
        lang = language or info.language
        out: list[Segment] = []
        for seg in raw:
            if seg.no_speech_prob > 0.8 and seg.avg_logprob < -1.0:
                continue  # Whisper's hallucination on silence
            text = clean_text(seg.text, lang)
            if not text or _echoes(text, prompt):
                continue
            word_list = []
            for w in (seg.words or []):
                token = clean_text(w.word, lang)
                if token:
                    word_list.append((token, round(float(w.start), 3), round(float(w.end), 3),
                                      round(float(w.probability), 3)))
            conf = math.exp(min(0.0, seg.avg_logprob)) * (1.0 - seg.no_speech_prob)
            if seg.compression_ratio > self.max_compression:
                conf *= 0.5  # a looping hallucination ("这4K,这4K,…") is not the caller's words
            if not word_list:
                word_list = [(text, round(float(seg.start), 3), round(float(seg.end), 3), round(conf, 3))]
            out.append(Segment(text=text, words=word_list, start=float(seg.start), end=float(seg.end), live=False))
        transcript = Transcript.from_segments(out, duration, time.perf_counter() - started, model=name,
                                              language=lang, sample_rate=sample_rate)
        return transcript


    def detect_language(self, audio) -> str:
        """Mandarin or English, whichever Whisper finds likelier (the hotline's two languages)."""
        try:
            _lang, _p, probs = self.model.detect_language(audio[: 30 * WHISPER_RATE])
        except Exception:  # an old faster-whisper or odd audio: the hotline's first language
            return LANGUAGES[0]
        scores = dict(probs)
        return max(LANGUAGES, key=lambda lang: scores.get(lang, 0.0))


def _echoes(text: str, prompt: str | None) -> bool:
    """Whisper repeats its initial prompt when it hears nothing it knows (measured on espeak-ng's
    Mandarin voice: "以下是普通的句子。"): such a segment is not the caller's words."""
    if not prompt:
        return False
    import difflib

    a, b = (re.sub(r"\W", "", x) for x in (text, prompt))
    return bool(a) and difflib.SequenceMatcher(None, a, b).ratio() >= 0.75


def confidence(transcript: Transcript) -> float:
    """Mean word confidence, weighted by duration (0 when nothing was said)."""
    total = weight = 0.0
    for _w, start, end, conf in transcript.words:
        span = max(0.05, end - start)
        total += conf * span
        weight += span
    return round(total / weight, 3) if weight else 0.0


def pcm_to_float16k(pcm: bytes, rate: int):
    """s16le mono PCM as float32 at 16 kHz.

    8 kHz telephone audio is upsampled with FFmpeg's band-limited resampler
    (PyAV, a dependency of faster-whisper): measured on the real 8 kHz Mandarin
    clips, linear interpolation's imaging above 4 kHz costs Whisper about four
    points of CER.
    """
    import numpy as np

    samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2")
    if rate != WHISPER_RATE and samples.size:
        import av

        resampler = av.AudioResampler(format="s16", layout="mono", rate=WHISPER_RATE)
        out = []
        step = rate * 30
        for i in range(0, samples.size, step):
            frame = av.AudioFrame.from_ndarray(samples[i:i + step].reshape(1, -1).copy(), format="s16", layout="mono")
            frame.sample_rate = rate
            out += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
        out += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
        samples = np.concatenate(out) if out else np.zeros(0, dtype=np.int16)
    return samples.astype(np.float32) / 32768.0
