"""Batch transcription: a job queue in the database, and workers that drain it.

Recordings (MixMonitor files, after-hours messages, spooled live calls) become
rows in ``transcription_jobs``; any number of workers, in any number of
processes, claim them.  PostgreSQL hands each job to exactly one worker with
``SELECT … FOR UPDATE SKIP LOCKED``; SQLite serialises claims with ``BEGIN
IMMEDIATE`` (see :func:`callcenter.db.make_engine`).  A claim is a lease: a
worker that dies leaves its job to be reclaimed after ``lease_seconds``, and a
worker whose lease was taken over cannot store a stale result.  Results go to
``transcripts``, one row per recording, with word timings.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from twisted.internet.defer import inlineCallbacks
from twisted.internet.task import LoopingCall

from callcenter.asr.errors import AsrError
from callcenter.asr.transcript import Transcript
from callcenter.clock import now_from
from callcenter.db import metadata

log = logging.getLogger(__name__)

QUEUED, CLAIMED, DONE, FAILED = "queued", "claimed", "done", "failed"

transcription_jobs = sa.Table(
    "transcription_jobs", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("recording_path", sa.String(1024), nullable=False),
    sa.Column("call_id", sa.String(64), nullable=True, index=True),
    sa.Column("status", sa.String(16), nullable=False, default=QUEUED),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("max_attempts", sa.Integer, nullable=False, default=3),
    sa.Column("claimed_by", sa.String(128), nullable=True),
    sa.Column("claimed_at", sa.DateTime, nullable=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime, nullable=True),
    sa.Column("error_id", sa.String(64), nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Index("ix_transcription_jobs_status_id", "status", "id"),
)

transcripts = sa.Table(
    "transcripts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("call_id", sa.String(64), nullable=True, index=True),
    sa.Column("job_id", sa.Integer, sa.ForeignKey("transcription_jobs.id", ondelete="SET NULL"), nullable=True),
    sa.Column("recording_path", sa.String(1024), nullable=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("words", sa.JSON, nullable=False),
    sa.Column("model", sa.String(128), nullable=False),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("duration", sa.Float, nullable=False),
    sa.Column("rtf", sa.Float, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)


def _naive_utc(now: datetime) -> datetime:
    """Stored as naive UTC on both backends, so SQLite compares them correctly."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(timezone.utc).replace(tzinfo=None)


@dataclass(frozen=True)
class Job:
    id: int
    recording_path: str
    call_id: str | None
    attempts: int
    max_attempts: int
    claimed_by: str


class TranscriptionQueue:
    """The job table's operations; every method blocks (run it off the reactor)."""

    #: A claim older than this is presumed dead and may be taken over.
    lease_seconds = 900.0

    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def enqueue(self, recording_path: str, now: datetime, call_id: str | None = None,
                max_attempts: int = 3) -> int:
        if not recording_path or "\x00" in recording_path:
            raise ValueError("recording_path must be a non-empty path")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        with self.engine.begin() as conn:
            result = conn.execute(transcription_jobs.insert().values(
                recording_path=str(recording_path), call_id=call_id, status=QUEUED, attempts=0,
                max_attempts=max_attempts, created_at=_naive_utc(now),
            ))
            return int(result.inserted_primary_key[0])

    def claim(self, worker_id: str, now: datetime) -> Job | None:
        """Take the oldest runnable job (queued, or claimed by a worker whose lease ran out)."""
        t = transcription_jobs
        stamp = _naive_utc(now)
        stale = stamp - timedelta(seconds=self.lease_seconds)
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(t.c.id, t.c.recording_path, t.c.call_id, t.c.attempts, t.c.max_attempts)
                .where(sa.or_(t.c.status == QUEUED, sa.and_(t.c.status == CLAIMED, t.c.claimed_at < stale)))
                .order_by(t.c.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if row is None:
                return None
            if row.attempts >= row.max_attempts:
                conn.execute(t.update().where(t.c.id == row.id).values(
                    status=FAILED, finished_at=stamp, error_id="asr.job_abandoned",
                    last_error="worker lease expired on the last attempt"))
                return None
            conn.execute(t.update().where(t.c.id == row.id).values(
                status=CLAIMED, claimed_by=worker_id, claimed_at=stamp, attempts=row.attempts + 1))
            return Job(row.id, row.recording_path, row.call_id, row.attempts + 1, row.max_attempts, worker_id)

    def complete(self, job: Job, transcript: Transcript, now: datetime) -> int | None:
        """Store the transcript and close the job; ``None`` if the lease was lost meanwhile."""
        t = transcription_jobs
        stamp = _naive_utc(now)
        with self.engine.begin() as conn:
            updated = conn.execute(t.update().where(
                t.c.id == job.id, t.c.status == CLAIMED, t.c.claimed_by == job.claimed_by,
                t.c.attempts == job.attempts,
            ).values(status=DONE, finished_at=stamp, error_id=None, last_error=None))
            if updated.rowcount != 1:
                log.warning("transcription job lease lost; result discarded",
                            extra={"fields": {"job": job.id, "worker": job.claimed_by}})
                return None
            return self._insert_transcript(conn, transcript, stamp, job.call_id, job.recording_path, job.id)

    def fail(self, job: Job, error: Exception, now: datetime) -> str:
        """Record a failure: retry later, or give up for good on bad audio / last attempt."""
        t = transcription_jobs
        permanent = isinstance(error, AsrError) and error.error_id.startswith("asr.audio")
        status = FAILED if permanent or job.attempts >= job.max_attempts else QUEUED
        error_id = getattr(error, "error_id", "asr.decode")
        with self.engine.begin() as conn:
            conn.execute(t.update().where(t.c.id == job.id, t.c.claimed_by == job.claimed_by).values(
                status=status, claimed_by=None, claimed_at=None, error_id=error_id,
                last_error=str(error)[:2000], finished_at=_naive_utc(now) if status == FAILED else None,
            ))
        return status

    def store(self, transcript: Transcript, now: datetime, call_id: str | None = None,
              recording_path: str | None = None) -> int:
        """Store a transcript that did not come through a job (live calls, the CLI)."""
        with self.engine.begin() as conn:
            return self._insert_transcript(conn, transcript, _naive_utc(now), call_id, recording_path, None)

    @staticmethod
    def _insert_transcript(conn, transcript: Transcript, stamp, call_id, recording_path, job_id) -> int:
        result = conn.execute(transcripts.insert().values(
            call_id=call_id, job_id=job_id, recording_path=recording_path, text=transcript.text,
            words=[list(w) for w in transcript.words], model=transcript.model or "",
            language=transcript.language or "", duration=transcript.duration, rtf=transcript.rtf,
            created_at=stamp,
        ))
        return int(result.inserted_primary_key[0])

    def job(self, job_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(transcription_jobs).where(transcription_jobs.c.id == job_id)).first()
            return dict(row._mapping) if row else None

    def transcripts_for(self, call_id: str) -> list[dict[str, Any]]:
        """A call's transcripts, oldest first, words as ``[(word, start, end, conf)]``."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(transcripts).where(transcripts.c.call_id == call_id)
                                .order_by(transcripts.c.id)).all()
        out = []
        for row in rows:
            item = dict(row._mapping)
            item["words"] = [tuple(w) for w in item["words"]]
            out.append(item)
        return out

    def counts(self) -> dict[str, int]:
        t = transcription_jobs
        with self.engine.connect() as conn:
            return {status: n for status, n in conn.execute(
                sa.select(t.c.status, sa.func.count()).group_by(t.c.status))}


def process_one(queue: TranscriptionQueue, model, worker_id: str, now_fn, on_done=None,
                language: str | None = None) -> int | None:
    """Claim one job, transcribe it, store the result (blocking).  Returns the job id, or None if idle.

    ``on_done(job, transcript, transcript_id)`` runs after the transcript is stored (a voice
    message's draft order is filled from it); its failure is logged, the transcript stays.
    ``language``: forced on Whisper (None: the likelier of Mandarin and English)."""
    from callcenter.asr.batch import transcribe_file

    job = queue.claim(worker_id, now_fn())
    if job is None:
        return None
    try:
        transcript = transcribe_file(job.recording_path, model, language=language)
    except Exception as exc:
        status = queue.fail(job, exc, now_fn())
        level = logging.WARNING if isinstance(exc, AsrError) else logging.ERROR
        log.log(level, "transcription job failed", exc_info=not isinstance(exc, AsrError),
                extra={"fields": {"job": job.id, "status": status, "error": str(exc)}})
        return job.id
    stored = queue.complete(job, transcript, now_fn())
    if stored is not None and on_done is not None:
        try:
            on_done(job, transcript, stored)
        except Exception:
            log.exception("after-transcription step failed", extra={"fields": {"job": job.id}})
    return job.id


class TranscriptionWorker:
    """Polls the queue and decodes jobs in the decode pool, one at a time per worker."""

    poll_interval = 2.0

    def __init__(self, reactor, queue: TranscriptionQueue, model, pool, worker_id: str, on_done=None):
        self.reactor = reactor
        self.queue = queue
        self.model = model
        self.pool = pool
        self.worker_id = worker_id
        self.on_done = on_done  # (job, transcript, transcript_id), in the decode thread
        self.processed = 0
        self._loop = None
        self._busy = False

    def start(self) -> None:
        """Poll from now on (returns at once: the loop's own Deferred fires only when it stops)."""
        self._loop = LoopingCall(self.tick)
        self._loop.clock = self.reactor
        self._loop.start(self.poll_interval, now=True).addErrback(
            lambda f: log.error("transcription worker stopped: %s", f.getErrorMessage()))

    def stop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()

    @inlineCallbacks
    def tick(self):
        """Drain the queue; returns when it is empty (the loop polls again later)."""
        if self._busy:
            return
        self._busy = True
        try:
            while True:
                job_id = yield self.pool.run(process_one, self.queue, self.model, self.worker_id,
                                             lambda: now_from(self.reactor), self.on_done)
                if job_id is None:
                    break
                self.processed += 1
        except Exception:
            log.exception("transcription worker tick failed")
        finally:
            self._busy = False
