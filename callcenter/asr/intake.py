"""What callers say becomes work orders: the IVR's "describe" node, after-hours messages and
agent-call recordings, through the utterance/batch recogniser and intake.

- :meth:`SpeechIntake.understand` — the IVR hook of ``describe`` nodes: transcribe the
  utterance (decode pool), propose an order (intake), keep transcript + proposal for the agent
  desk (:meth:`SpeechIntake.prefill`) and store the transcript under the call id.  Low
  confidence or nothing heard answers ``understood: False`` and the IVR falls back to keys.
- :meth:`SpeechIntake.transcribed` — the transcription worker's hook for finished jobs: a
  message left in the IVR fills its draft order (intake's fields, transcript in the
  description, marked for dispatcher review in its history).
- :meth:`SpeechIntake.on_call_ended` — recordings (MixMonitor) of a finished call are queued
  for batch transcription under the call id, which the call's orders carry.

Built by the composition root (:mod:`callcenter.app`) for ``serve`` and ``demo`` alike.
"""
from __future__ import annotations

import logging
import time
from collections import OrderedDict

from twisted.internet import defer

from callcenter.clock import now_from

log = logging.getLogger(__name__)

class _TimedOut(Exception):
    error_id = "asr.utterance_timeout"


#: Marks a voice message's draft (受理, not dispatched) filled from its transcript.
REVIEW_MARK = "【语音留言·待审核】"


class SpeechIntake:
    """Transcription + intake for the IVR and for recordings (see module docs)."""

    #: proposals kept for agents' desks (a call reaches a desk within minutes)
    max_drafts = 500
    #: real seconds a caller waits for their words to be understood before the key menu takes over
    #: (a 10 s utterance takes ~1-2.5 s here; a stuck or swamped decoder must not leave them in silence)
    max_wait_seconds = 8.0
    #: intake fields a draft carries to the desk and to the order
    FIELDS = ("type", "category", "department", "district", "subdistrict", "address", "urgency", "summary")

    def __init__(self, reactor, clock, model, pool, intake, *, transcriptions=None, workorders=None,
                 min_confidence: float = 0.45, db_pool=None):
        self.reactor = reactor
        self.clock = clock
        self.model = model            # LoadedModel for utterances and recordings (Whisper when installed)
        self.pool = pool              # DecodePool: decoding never runs on the reactor
        self.intake = intake          # ticketing.intake.service.IntakeService
        self.transcriptions = transcriptions  # TranscriptionQueue: transcripts stored under the call id
        self.workorders = workorders
        self.min_confidence = min_confidence
        self.db_pool = db_pool or reactor.getThreadPool()
        self.drafts: OrderedDict[str, dict] = OrderedDict()
        self.batch_model = model      # recordings and messages (``[asr] batch``); set by start_speech_intake
        self.batch_pool = pool        # where recordings decode (the live pool when there is one)
        self.own_pool = False
        self.stats = {"understood": 0, "not_understood": 0, "failed": 0, "messages_filled": 0,
                      "recordings_queued": 0, "last_latency_s": None}

    def stop(self) -> None:
        if self.own_pool:
            self.pool.stop()

    # -- the IVR's describe node -----------------------------------------------------------

    @defer.inlineCallbacks
    def understand(self, call, recording: str, lang: str):
        """Deferred[dict]: ``understood``, ``text``, ``confidence``, ``urgency``, ``department`` …"""
        from callcenter.asr.whisper import confidence

        started = time.perf_counter()
        lang = lang if lang in ("zh", "en") else "zh"
        try:
            transcript = yield self.pool.run(self._transcribe, recording, lang).addTimeout(
                self.max_wait_seconds, self.reactor,
                onTimeoutCancel=lambda result, timeout: _TimedOut())
            if isinstance(transcript, _TimedOut):
                raise transcript
        except Exception as exc:
            self.stats["failed"] += 1
            log.warning("caller's description not transcribed", extra={"fields": {
                "call": getattr(call, "call_id", ""), "error": getattr(exc, "error_id", repr(exc))}})
            return {"understood": False, "text": "", "confidence": 0.0, "error": getattr(exc, "error_id", "asr.decode")}
        text, conf = transcript.text.strip(), confidence(transcript)
        heard = {"understood": False, "text": text, "confidence": conf, "lang": lang}
        call_id = getattr(call, "call_id", "") or ""
        if text and call_id:
            self._store(transcript, call_id, recording)  # kept with the call, understood or not
        if not text or conf < self.min_confidence:
            self.stats["not_understood"] += 1
            return heard
        try:
            proposal = yield self.intake.propose(text, lang)
        except Exception as exc:
            self.stats["failed"] += 1
            log.warning("intake refused the caller's words", extra={"fields": {"error": repr(exc)[:200]}})
            return heard
        fields = proposal.work_order_fields()
        heard.update(understood=True, urgency=proposal.urgency, department=proposal.department,
                     category=proposal.category, type=proposal.type,
                     draft=dict(fields, confidence=dict(proposal.confidence)))
        if call_id:
            self.drafts[call_id] = {"transcript": text, "draft": heard["draft"], "confidence": conf}
            while len(self.drafts) > self.max_drafts:
                self.drafts.popitem(last=False)
        self.stats["understood"] += 1
        self.stats["last_latency_s"] = round(time.perf_counter() - started, 3)
        return heard

    def _transcribe(self, recording: str, lang: str):
        from callcenter.asr.batch import transcribe_file

        return transcribe_file(recording, self.model, language=lang, words=False, max_seconds=600)

    def prefill(self, call_id: str) -> dict | None:
        """What the caller said in the IVR and the draft it gave, for the agent who takes the call."""
        return self.drafts.get(call_id)

    def _store(self, transcript, call_id: str, recording: str) -> None:
        if self.transcriptions is None:
            return
        from twisted.internet.threads import deferToThreadPool

        d = deferToThreadPool(self.reactor, self.db_pool, self.transcriptions.store, transcript,
                              now_from(self.clock), call_id=call_id, recording_path=recording)
        d.addErrback(lambda f: log.error("IVR transcript not stored", extra={"fields": {
            "call": call_id, "error": f.getErrorMessage()}}))

    # -- finished transcription jobs (worker thread) -------------------------------------------

    def transcribed(self, job, transcript, transcript_id) -> str | None:
        """Blocking, in the worker's thread: a voice message's draft gets intake's fields.

        The draft is the order the IVR registered under the message's idempotency key
        (:func:`ivr.services.message_key`); jobs of other recordings find none and are left as
        they are (their transcript is already stored under the call id).  Returns the order number.
        """
        if self.workorders is None or not job.call_id:
            return None
        from ivr.services import WorkOrderDesk, message_key
        from ticketing.intake.resources import default_extractor
        from ticketing.service import Actor

        key = message_key(job.call_id, job.recording_path)
        text = transcript.text.strip()
        if not text:
            return None
        lang = transcript.language if transcript.language in ("zh", "en") else None
        extractor = default_extractor(None, self.workorders.taxonomy)
        try:
            proposal = extractor.propose(text, lang)
        except Exception as exc:  # InvalidText and the like: the draft keeps its placeholder fields
            log.warning("intake refused a voice message", extra={"fields": {"job": job.id, "error": repr(exc)[:200]}})
            return None
        fields = {k: v for k, v in proposal.work_order_fields().items() if k in self.FIELDS and v}
        fields["summary"] = (REVIEW_MARK + (proposal.summary or text))[:200]
        fields["description"] = (f"{text}\n\n录音 / recording: {job.recording_path}")[:4000]
        from ticketing.domain.errors import IllegalTransition

        actor = Actor(WorkOrderDesk.actor_id, "agent")
        try:
            number = self.workorders.fill_from_transcript(key, fields, actor, now_from(self.clock),
                                                          transcript_id=transcript_id)
        except IllegalTransition:
            # a dispatcher took the draft on before the transcript came: their decision stands
            log.info("voice message already handled; its transcript is kept on the call",
                     extra={"fields": {"job": job.id, "call": job.call_id}})
            return None
        if number is not None:
            self.stats["messages_filled"] += 1
            log.info("voice message transcribed into its draft", extra={"fields": {"order": number, "job": job.id}})
        return number

    # -- recordings of agent calls ------------------------------------------------------------

    def on_call_ended(self, call_id: str, recordings: list[str]):
        """Queue a finished call's recordings (MixMonitor) for batch transcription under its id."""
        if self.transcriptions is None or not recordings:
            return defer.succeed([])
        from twisted.internet.threads import deferToThreadPool

        now = now_from(self.clock)

        def enqueue():
            return [self.transcriptions.enqueue(path, now, call_id=call_id) for path in recordings]

        d = deferToThreadPool(self.reactor, self.db_pool, enqueue)

        def queued(ids):
            self.stats["recordings_queued"] += len(ids)
            return ids

        d.addCallback(queued)
        d.addErrback(lambda f: log.error("call recordings not queued for transcription", extra={"fields": {
            "call": call_id, "error": f.getErrorMessage()}}))
        return d

