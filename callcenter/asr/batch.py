"""Whole-file transcription: the interface intake and the job workers use."""
from __future__ import annotations

import os
from typing import Callable

from callcenter.asr.audio import DEFAULT_MAX_SECONDS, iter_pcm, probe_wav
from callcenter.asr.decoder import StreamDecoder
from callcenter.asr.models import LoadedModel, load_model
from callcenter.asr.transcript import Transcript

#: Chunk fed to the recogniser per call; 0.5 s keeps the per-call overhead negligible.
CHUNK_SECONDS = 0.5


def transcribe_file(
    path: str | os.PathLike,
    model: LoadedModel | str | None = None,
    *,
    max_seconds: float | None = DEFAULT_MAX_SECONDS,
    progress: Callable[[float], None] | None = None,
    live: bool = False,
    language: str | None = None,
    words: bool = True,
    use: str = "batch",
) -> Transcript:
    """Transcribe one WAV file (blocking: run it in a thread pool from the reactor).

    ``model`` is a :class:`LoadedModel`, a manifest name or model directory, or
    ``None`` for the configured/first installed model.  Bad audio raises
    :class:`~callcenter.asr.errors.AudioError` before any decoding starts; a
    missing model raises :class:`~callcenter.asr.errors.ModelError`.
    ``progress`` is called with the seconds of audio decoded so far.
    ``language`` (``zh``/``en``) is forced on Whisper models (``None``: Whisper
    picks the likelier of the two); a Vosk model speaks its own language.
    """
    info = probe_wav(path, max_seconds)
    if not isinstance(model, LoadedModel):
        model = load_model(model, use=use)
    if model.engine == "whisper":
        transcript = model.whisper.transcribe(path, language, words=words, vad=info.duration > 30,
                                              max_seconds=max_seconds, name=model.name)
        if progress is not None:
            progress(info.duration)
        return transcript
    decoder = StreamDecoder(model, info.target_rate, live=live)
    for pcm in iter_pcm(info, CHUNK_SECONDS):
        decoder.feed(pcm)
        if progress is not None:
            progress(decoder.duration)
    decoder.finish()
    return decoder.transcript()
