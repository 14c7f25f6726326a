"""Wiring live speech into the running service, from the ``[asr]`` configuration.

Speech is optional equipment: when the model is missing or corrupt,
:func:`start_speech` logs the error (with the command that fixes it) and
returns ``None``, and every other part of the hotline keeps working.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from twisted.internet.defer import inlineCallbacks
from twisted.internet.threads import deferToThread

from callcenter.asr.audiosocket import listen
from callcenter.asr.errors import ModelError
from callcenter.asr.live import DecodePool, LiveTranscriber
from callcenter.asr.models import PROJECT_ROOT, LoadedModel, load_model

log = logging.getLogger(__name__)


@dataclass
class SpeechService:
    model: LoadedModel
    pool: DecodePool
    transcriber: LiveTranscriber
    port: object  # IListeningPort

    @property
    def audiosocket_port(self) -> int:
        return self.port.getHost().port

    def stop(self):
        d = self.port.stopListening()
        self.pool.stop()
        return d


def _spool_dir(config):
    from pathlib import Path

    raw = Path(config.get("asr.spool_dir", "var/asr-spool"))
    return raw if raw.is_absolute() else PROJECT_ROOT / raw


@inlineCallbacks
def start_speech(reactor, config, subscriber, port: int | None = None):
    """Load the model (off the reactor), start the decode pool and the AudioSocket server.

    Fires with a :class:`SpeechService`, or ``None`` when no usable model is installed.
    """
    try:
        model = yield deferToThread(load_model, None, config, "live")
    except ModelError as exc:
        level = logging.INFO if exc.error_id == "asr.model_off" else logging.ERROR
        log.log(level, "live speech recognition disabled: %s", exc, extra={"fields": {"error_id": exc.error_id}})
        return None
    pool = DecodePool(reactor, int(config.get("asr.pool_size", 2)))
    pool.start()
    # A fresh recogniser stalls ~2 s on its first speech: warm one per decoding
    # thread before accepting calls, and the rest of the live capacity meanwhile.
    yield pool.run(model.recognizers.warm, 8000, pool.size)
    max_live = int(config.get("asr.max_live_streams", 4))
    if max_live > pool.size:
        pool.run(model.recognizers.warm, 8000, max_live).addErrback(
            lambda f: log.error("warming speech recognisers failed: %s", f.value))
    transcriber = LiveTranscriber(
        reactor, model, pool, subscriber, spool_dir=_spool_dir(config),
        max_live_streams=max_live,
    )
    listening = yield listen(reactor, transcriber.open,
                             int(config.get("asr.audiosocket_port", 9092)) if port is None else port,
                             config.get("asr.audiosocket_host", "127.0.0.1"))
    recovered = transcriber.recover_spool()
    log.info("speech recognition ready", extra={"fields": {
        "model": model.name, "audiosocket_port": listening.getHost().port, "recovered_spool": recovered}})
    return SpeechService(model, pool, transcriber, listening)


def _warm(model) -> None:
    """One second of silence through the model, so the first caller does not pay its first-run cost."""
    if model.engine == "whisper":
        import numpy as np

        model.whisper.transcribe_samples(np.zeros(16000, dtype=np.float32), "zh", name=model.name)


@inlineCallbacks
def start_speech_intake(reactor, clock, config, *, pool: DecodePool | None = None, transcriptions=None,
                        workorders=None):
    """The utterance/batch recogniser (Whisper when installed) with intake, for the IVR's describe
    node, voice messages and call recordings.  Utterances decode in a pool of their own (a caller is
    waiting); recordings in ``pool`` (the live service's) when given.  Fires with a
    :class:`~callcenter.asr.intake.SpeechIntake`, or ``None`` when no
    model is installed for utterances (callers then use the key menu)."""
    from callcenter.asr.intake import SpeechIntake
    from ticketing.intake.service import IntakeService

    try:
        model = yield deferToThread(load_model, None, config, "utterance")
        batch = yield deferToThread(load_model, None, config, "batch")
    except ModelError as exc:
        level = logging.INFO if exc.error_id == "asr.model_off" else logging.ERROR
        log.log(level, "spoken descriptions and recording transcription disabled: %s", exc,
                extra={"fields": {"error_id": exc.error_id}})
        return None
    # Callers waiting in the IVR never queue behind live streams, spooled calls or recordings:
    # utterances have a thread of their own; recordings decode in the live pool when there is one.
    utterances = DecodePool(reactor, int(config.get("asr.utterance_threads", 1)), name="asr-utterance")
    utterances.start()
    batch_pool = pool or utterances
    intake = IntakeService.from_config(reactor, reactor.getThreadPool(), config,
                                       taxonomy=workorders.taxonomy if workorders is not None else None)
    speech = SpeechIntake(reactor, clock, model, utterances, intake, transcriptions=transcriptions,
                          workorders=workorders,
                          min_confidence=float(config.get("asr.utterance_min_confidence", 0.45)))
    speech.batch_model, speech.batch_pool = batch, batch_pool
    speech.max_wait_seconds = float(config.get("asr.utterance_timeout", speech.max_wait_seconds))
    speech.own_pool = True
    yield utterances.run(_warm, model)
    yield intake.start()
    log.info("spoken descriptions ready", extra={"fields": {"model": model.name, "batch_model": batch.name}})
    return speech
