"""Live transcription of calls: a decode pool, per-call streams, and spooling.

Threads, not processes: measured here with the Korean model, two threads
sharing one ``vosk.Model`` decode at a real-time factor of 0.36 each on two
cores against 0.33 for one alone (Vosk releases the GIL while it decodes), and
every extra process would cost another ~530 MB of model.

Each call gets a :class:`LiveStream` while the pool has room
(``max_live_streams``).  Its audio is batched into chunks and decoded in the
pool, at most one chunk in flight per call, so a call's audio stays in order
and the chunk grows by itself when decoding runs late.  Calls beyond that
capacity get a :class:`SpoolStream`: audio is written to a WAV file in the
spool directory and transcribed when the pool has a whole thread free again
(and, after a crash, when the service restarts) — never dropped.

Results go to a subscriber's ``on_partial(uuid, text)``,
``on_final(uuid, segment)``, ``on_closed(uuid, transcript)``,
``on_spooled(uuid, path)``, ``on_failed(uuid, error_dict)`` and
``on_dtmf(uuid, digit)``; any of them may be missing.  Every callback runs on the reactor thread.
"""
from __future__ import annotations

import logging
import os
import time
import wave
from collections import deque
from pathlib import Path

from twisted.internet.defer import Deferred, succeed
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

from callcenter.asr.audio import SAMPLE_WIDTH
from callcenter.asr.decoder import StreamDecoder, Update
from callcenter.asr.errors import AsrError
from callcenter.asr.models import LoadedModel
from callcenter.asr.transcript import Transcript
from callcenter.metrics import ASR_REALTIME_FACTOR

log = logging.getLogger(__name__)

#: AudioSocket carries 8 kHz signed-linear audio.
LIVE_RATE = 8000


class DecodePool:
    """A fixed set of decoding threads sharing the process's one model."""

    def __init__(self, reactor, size: int = 2, name: str = "asr-decode"):
        if size < 1:
            raise ValueError("decode pool size must be at least 1")
        self.reactor = reactor
        self.size = size
        self.threadpool = ThreadPool(minthreads=0, maxthreads=size, name=name)
        self._trigger = None

    def start(self) -> None:
        if not self.threadpool.started:
            self.threadpool.start()
            self._trigger = self.reactor.addSystemEventTrigger("during", "shutdown", self.stop)

    def stop(self) -> None:
        if self._trigger is not None:
            try:
                self.reactor.removeSystemEventTrigger(self._trigger)
            except (ValueError, KeyError):
                pass
            self._trigger = None
        if self.threadpool.started:
            self.threadpool.stop()

    def run(self, fn, *args, **kwargs) -> Deferred:
        """Run blocking ``fn`` in the pool; the Deferred fires on the reactor thread."""
        return deferToThreadPool(self.reactor, self.threadpool, fn, *args, **kwargs)


def _notify(subscriber, name: str, *args) -> None:
    method = getattr(subscriber, name, None)
    if method is None:
        return
    try:
        method(*args)
    except Exception:
        log.exception("transcript subscriber failed in %s", name)


class LiveStream:
    """One call decoded as it arrives, one chunk in flight at a time."""

    #: Audio gathered before a chunk is handed to the pool (100 ms at 8 kHz):
    #: small enough for prompt partials, large enough that thread hand-offs cost ~nothing.
    chunk_bytes = 1600

    def __init__(self, transcriber: "LiveTranscriber", uuid: str, decoder: StreamDecoder):
        self.transcriber = transcriber
        self.uuid = uuid
        self.decoder = decoder
        self.pending = bytearray()
        self.busy = False
        self.closing = False
        self.closed = False
        self.failed: Exception | None = None
        self.done: Deferred = Deferred()
        self.spooled = False

    @property
    def backlog_seconds(self) -> float:
        return len(self.pending) / (SAMPLE_WIDTH * self.decoder.sample_rate)

    def feed(self, pcm: bytes) -> None:
        if self.closing:
            return
        self.pending += pcm
        self._pump()

    def dtmf(self, digit: str) -> None:
        _notify(self.transcriber.subscriber, "on_dtmf", self.uuid, digit)

    def close(self) -> Deferred:
        """End of the call: flush what is left; fires with the call's :class:`Transcript`."""
        if not self.closing:
            self.closing = True
            self._pump()
        return self.done

    def _take(self) -> bytes:
        usable = len(self.pending) - len(self.pending) % SAMPLE_WIDTH
        chunk = bytes(self.pending[:usable])
        del self.pending[:usable]
        return chunk

    def _pump(self) -> None:
        if self.busy or self.closed:
            return
        pool = self.transcriber.pool
        if self.closing:
            self.busy = True
            d = pool.run(self._finish_blocking, self._take() if self.failed is None else b"")
            d.addCallbacks(self._finished, self._failed_final)
        elif len(self.pending) >= self.chunk_bytes and self.failed is None:
            self.busy = True
            d = pool.run(self._feed_timed, self._take())
            d.addCallbacks(self._decoded, self._failed)

    def _feed_timed(self, pcm: bytes) -> tuple[list[Update], float]:
        """Decode one chunk in the pool; also its real-time factor, for the ASR-behind alert."""
        before = self.decoder.decode_seconds
        updates = self.decoder.feed(pcm)
        audio = len(pcm) / (SAMPLE_WIDTH * self.decoder.sample_rate)
        return updates, (self.decoder.decode_seconds - before) / audio if audio else 0.0

    def _finish_blocking(self, pcm: bytes) -> tuple[list[Update], object]:
        return self.decoder.feed(pcm), self.decoder.finish()

    def _deliver(self, updates: list[Update]) -> None:
        subscriber = self.transcriber.subscriber
        for update in updates:
            if update.final is not None:
                _notify(subscriber, "on_final", self.uuid, update.final)
            elif update.partial is not None:
                _notify(subscriber, "on_partial", self.uuid, update.partial)

    def _decoded(self, result: tuple[list[Update], float]) -> None:
        updates, rtf = result
        ASR_REALTIME_FACTOR.set(rtf)
        self.busy = False
        self._deliver(updates)
        self._pump()

    def _failed(self, failure) -> None:
        self.busy = False
        self.failed = failure.value
        log.error("live decoding failed", extra={"fields": {"uuid": self.uuid, "error": repr(failure.value)}})
        self._pump()

    def _finished(self, result) -> None:
        updates, last = result
        self._deliver(updates)
        if last is not None:
            _notify(self.transcriber.subscriber, "on_final", self.uuid, last)
        self._end(self.decoder.transcript())

    def _failed_final(self, failure) -> None:
        log.error("live decoding failed at end of call", extra={"fields": {"uuid": self.uuid, "error": repr(failure.value)}})
        self._end(self.decoder.transcript())

    def _end(self, transcript: Transcript) -> None:
        self.busy = False
        self.closed = True
        self.transcriber._released(self)
        _notify(self.transcriber.subscriber, "on_closed", self.uuid, transcript)
        self.done.callback(transcript)


class SpoolStream:
    """A call the pool has no room for: its audio goes to a WAV file, transcribed later."""

    def __init__(self, transcriber: "LiveTranscriber", uuid: str, path: Path):
        self.transcriber = transcriber
        self.uuid = uuid
        self.path = path
        self.spooled = True
        self.closing = False
        self.done: Deferred = Deferred()
        self._writer = wave.open(str(path), "wb")
        self._writer.setnchannels(1)
        self._writer.setsampwidth(SAMPLE_WIDTH)
        self._writer.setframerate(LIVE_RATE)
        self._carry = b""
        self.bytes_written = 0

    def feed(self, pcm: bytes) -> None:
        if self.closing:
            return
        pcm = self._carry + pcm
        usable = len(pcm) - len(pcm) % SAMPLE_WIDTH
        self._carry = pcm[usable:]
        if usable:
            # writeframes patches the header each time, so a crash leaves a valid file.
            self._writer.writeframes(pcm[:usable])
            self.bytes_written += usable

    def dtmf(self, digit: str) -> None:
        _notify(self.transcriber.subscriber, "on_dtmf", self.uuid, digit)

    def close(self) -> Deferred:
        """End of the call; ``done`` fires once the spooled audio has been transcribed."""
        if not self.closing:
            self.closing = True
            self._writer.close()
            self.transcriber._spooled(self)
        return self.done


class LiveTranscriber:
    """Admits calls to live decoding up to the pool's capacity; spools the rest."""

    def __init__(self, reactor, model: LoadedModel, pool: DecodePool, subscriber=None,
                 spool_dir: str | os.PathLike = "var/asr-spool", max_live_streams: int | None = None):
        self.reactor = reactor
        self.model = model
        self.pool = pool
        self.subscriber = subscriber
        self.spool_dir = Path(spool_dir)
        self.max_live_streams = max_live_streams if max_live_streams is not None else 2 * pool.size
        self.streams_per_thread = max(1, self.max_live_streams // pool.size)
        self.live: dict[str, LiveStream] = {}
        self.backlog: deque[tuple[str, Path, Deferred | None]] = deque()
        self.draining = 0
        self.stats = {"live": 0, "spooled": 0, "spool_transcribed": 0, "spool_failed": 0}

    # -- admission ------------------------------------------------------------------

    def open(self, uuid: str):
        """A stream for a new call: live if there is room, else spooled to disk."""
        if len(self.live) + self.draining * self.streams_per_thread < self.max_live_streams:
            stream = LiveStream(self, uuid, StreamDecoder(self.model, LIVE_RATE, live=True))
            self.live[uuid + f"#{id(stream)}"] = stream
            self.stats["live"] += 1
            return stream
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(self.reactor.seconds()))
        path = self.spool_dir / f"{_safe(uuid)}_{stamp}_{os.getpid()}_{len(self.backlog)}.wav.part"
        self.stats["spooled"] += 1
        log.warning("decode pool full, spooling call audio",
                    extra={"fields": {"uuid": uuid, "path": str(path), "live": len(self.live)}})
        return SpoolStream(self, uuid, path)

    def recover_spool(self) -> int:
        """Queue spool files left by an earlier run (crash, restart); returns how many."""
        if not self.spool_dir.is_dir():
            return 0
        found = 0
        for path in sorted(self.spool_dir.glob("*.wav*")):
            if not path.is_file():
                continue
            if path.suffix == ".part":
                final = path.with_suffix("")
                os.replace(path, final)
                path = final
            uuid = path.name.split("_", 1)[0]
            self.backlog.append((uuid, path, None))
            found += 1
        self._drain()
        return found

    # -- bookkeeping ------------------------------------------------------------------

    def _released(self, stream: LiveStream) -> None:
        for key, value in list(self.live.items()):
            if value is stream:
                del self.live[key]
        self._drain()

    def _spooled(self, stream: SpoolStream) -> None:
        if stream.bytes_written == 0:
            stream.path.unlink(missing_ok=True)
            empty = Transcript.from_segments([], 0.0, 0.0, self.model.name, self.model.language, LIVE_RATE)
            _notify(self.subscriber, "on_closed", stream.uuid, empty)
            stream.done.callback(empty)
            return
        final = stream.path.with_suffix("")  # drop ".part": the file is complete now
        os.replace(stream.path, final)
        stream.path = final
        _notify(self.subscriber, "on_spooled", stream.uuid, str(final))
        self.backlog.append((stream.uuid, final, stream.done))
        self._drain()

    def _has_free_thread(self) -> bool:
        used = len(self.live) + self.draining * self.streams_per_thread
        return used + self.streams_per_thread <= self.max_live_streams

    def _drain(self) -> None:
        while self.backlog and self._has_free_thread():
            uuid, path, done = self.backlog.popleft()
            self.draining += 1
            d = self.pool.run(self._transcribe_blocking, path)
            d.addCallbacks(self._drained, self._drain_failed,
                           callbackArgs=(uuid, path, done), errbackArgs=(uuid, path, done))

    def _transcribe_blocking(self, path: Path) -> Transcript:
        from callcenter.asr.batch import transcribe_file

        return transcribe_file(path, self.model, live=False)

    def _drained(self, transcript: Transcript, uuid: str, path: Path, done: Deferred | None) -> None:
        self.draining -= 1
        self.stats["spool_transcribed"] += 1
        for segment in transcript.segments:
            _notify(self.subscriber, "on_final", uuid, segment)
        _notify(self.subscriber, "on_closed", uuid, transcript)
        path.unlink(missing_ok=True)
        if done is not None:
            done.callback(transcript)
        self._drain()

    def _drain_failed(self, failure, uuid: str, path: Path, done: Deferred | None) -> None:
        self.draining -= 1
        self.stats["spool_failed"] += 1
        failed_dir = self.spool_dir / "failed"
        failed_dir.mkdir(parents=True, exist_ok=True)
        kept = failed_dir / path.name
        if path.exists():
            os.replace(path, kept)
        error = failure.value
        log.error("spooled call could not be transcribed; audio kept",
                  extra={"fields": {"uuid": uuid, "path": str(kept), "error": repr(error)}})
        _notify(self.subscriber, "on_failed", uuid, error.as_dict() if isinstance(error, AsrError)
                else {"error_id": "asr.decode", "message": repr(error), "details": {}})
        if done is not None:
            done.errback(failure)
        self._drain()

    def idle(self) -> Deferred:
        """Fires once nothing is live, spooled or being drained (tests, shutdown)."""
        if not self.live and not self.backlog and not self.draining:
            return succeed(None)
        d = Deferred()

        def check():
            if not self.live and not self.backlog and not self.draining:
                d.callback(None)
            else:
                self.reactor.callLater(0.05, check)

        self.reactor.callLater(0.05, check)
        return d


def _safe(uuid: str) -> str:
    """A UUID fit for a file name (the protocol gives 16 raw bytes, but be strict anyway)."""
    return "".join(c for c in uuid if c.isalnum() or c == "-")[:64] or "call"
