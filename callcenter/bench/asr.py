"""Speech: accuracy per model and sample rate, real-time factor, latency, streams per core.

Phases (JSON line each), for every model given (``--model a,b``; default: every verified one):
- ``accuracy``: CER (Mandarin) and WER (English) against ``REFERENCES.tsv`` per
  set (real / synthetic) and sample rate (16 kHz, 8 kHz), normalised as
  :mod:`callcenter.asr.scoring` writes down; RTF as process CPU seconds per
  audio second (one decoding thread, ``[asr] whisper_threads`` cores) and wall;
- ``draft``: end of a ~10 s utterance → draft order fields (transcription +
  intake's proposal), wall clock, per language;
Vosk models only (streaming):
- ``raw``: plain vosk (warm recogniser, 100 ms chunks + PartialResult, and 4000-frame chunks) at 8 kHz;
- ``pipeline``: the same audio through ``StreamDecoder`` — overhead over raw, CPU time;
- ``two_streams``: two streams decoded at once in two threads sharing one Model;
- ``latency``: calls streamed in real time over AudioSocket; end of speech → final, wall clock;
- ``capacity``: N real-time calls on one decoding thread; sustained while nothing falls behind.
"""
from __future__ import annotations

import os
import shutil
import statistics
import threading
import time
from pathlib import Path

from callcenter.asr.audio import read_pcm
from callcenter.asr.models import PROJECT_ROOT

DEFAULT_AUDIO = PROJECT_ROOT.parent / "shared" / "audio"


def add_arguments(parser) -> None:
    parser.add_argument("--model", default=None, help="model name or directory (default: first installed)")
    parser.add_argument("--audio", default=str(DEFAULT_AUDIO), help="folder with real_8k/ and real/ WAVs")
    parser.add_argument("--clips", type=int, default=4, help="8 kHz clips used for RTF")
    parser.add_argument("--calls", type=int, default=2, help="latency: concurrent real-time calls (2 threads)")
    parser.add_argument("--max-streams", type=int, default=3, help="capacity probe: up to N calls per core")
    parser.add_argument("--rounds", type=int, default=4, help="repetitions for raw vs pipeline (best of)")
    parser.add_argument("--phases", default="accuracy,draft,raw,pipeline,two_streams,latency,capacity")
    parser.add_argument("--verbose", action="store_true", help="accuracy: one line per clip with the text heard")


def _clips(folder: Path, count: int) -> list[tuple[str, bytes]]:
    paths = sorted((folder / "real_8k").glob("*.wav")) + [folder / "real" / "en_vosk_digits_8k.wav"]
    out = []
    for path in paths[:count]:
        _, pcm = read_pcm(path)
        out.append((path.name, pcm))
    return out


def _raw(model, pcm: bytes, chunk: int, partials: bool) -> float:
    """Thread CPU seconds for plain vosk on one warm recogniser."""
    lease = model.recognizers.acquire(8000)
    rec = lease.recognizer
    started = time.thread_time()
    for i in range(0, len(pcm), chunk):
        if not rec.AcceptWaveform(pcm[i:i + chunk]) and partials:
            rec.PartialResult()
    rec.FinalResult()
    spent = time.thread_time() - started
    lease.elapsed += len(pcm) / 16000
    model.recognizers.release(lease)
    return spent


def _pipeline(model, pcm: bytes, live: bool = True) -> float:
    """Thread CPU seconds for the same audio through ``StreamDecoder.feed`` (100 ms chunks)."""
    from callcenter.asr.decoder import StreamDecoder

    decoder = StreamDecoder(model, 8000, live=live)
    decoder.recognizer  # borrow outside the timing, as the raw runs do
    started = time.thread_time()
    for i in range(0, len(pcm), 1600):
        decoder.feed(pcm[i:i + 1600])
    decoder.finish()
    return time.thread_time() - started


STREAMING_PHASES = {"raw", "pipeline", "two_streams", "latency", "capacity"}


def _references(audio: Path) -> list[dict]:
    import csv

    with open(audio / "REFERENCES.tsv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [r for r in rows if (audio / r["file"]).is_file()]


def accuracy(model, audio: Path, verbose: bool = False):
    """CER/WER and RTF per set and sample rate (see module docs); JSON-able dicts."""
    from callcenter.asr.batch import transcribe_file
    from callcenter.asr.scoring import error_rate, errors

    groups: dict[tuple[str, int, str], list] = {}
    for row in _references(audio):
        kind = "real" if row["kind"].startswith("real") else "synthetic"
        groups.setdefault((kind, int(row["rate_hz"]), row["lang"]), []).append(row)
    for (kind, rate, lang), rows in sorted(groups.items(), key=lambda kv: (kv[0][0], -kv[0][1], kv[0][2])):
        pairs, audio_s, cpu_s, wall_s = [], 0.0, 0.0, 0.0
        for row in rows:
            cpu, wall = time.process_time(), time.perf_counter()
            transcript = transcribe_file(audio / row["file"], model, language=lang, words=False)
            cpu_s += time.process_time() - cpu
            wall_s += time.perf_counter() - wall
            audio_s += transcript.duration
            pairs.append((row["reference"], transcript.text))
            if verbose:
                edits, n = errors(row["reference"], transcript.text, lang)
                yield {"bench": "asr", "phase": "clip", "model": model.name, "file": row["file"],
                       "error_rate": round(edits / n, 3) if n else None, "heard": transcript.text}
        rate_name = "cer" if lang == "zh" else "wer"
        yield {"bench": "asr", "phase": "accuracy", "model": model.name, "set": kind, "rate_hz": rate,
               "lang": lang, "clips": len(rows), "audio_s": round(audio_s, 1),
               rate_name: round(error_rate(pairs, lang), 4),
               "rtf_cpu": round(cpu_s / audio_s, 3), "rtf_wall": round(wall_s / audio_s, 3),
               "target": ({"cer": 0.12} if lang == "zh" else {"wer": 0.10}) if kind == "real" and rate == 8000
               else None}


def draft_latency(model, audio: Path):
    """End of a ~10 s utterance → draft order fields: transcribe, then intake's proposal (warm)."""
    import tempfile

    from callcenter.asr.audio import write_wav
    from callcenter.asr.batch import transcribe_file
    from ticketing.intake.resources import default_extractor

    extractor = default_extractor()
    extractor.propose("中山路的路灯坏了", "zh")  # loaded and warm, as in the running service
    utterances = {
        "zh": ["real_8k/zh_aishell_BAC009S0764W0121_8k.wav", "real_8k/zh_funasr_asr_example_8k.wav"],
        "en": ["real_8k/en_jfk_8k.wav"],
    }
    with tempfile.TemporaryDirectory(prefix="bench-asr-") as tmp:
        for lang, files in utterances.items():
            pcm = b"".join(read_pcm(audio / f)[1] for f in files if (audio / f).is_file())
            if not pcm:
                continue
            wav = write_wav(Path(tmp) / f"utterance-{lang}.wav", pcm, 8000)
            runs = []
            for _ in range(3):
                started = time.perf_counter()
                transcript = transcribe_file(wav, model, language=lang, words=False, use="utterance")
                heard = time.perf_counter()
                proposal = extractor.propose(transcript.text or "-", lang)
                runs.append((heard - started, time.perf_counter() - started))
            best = min(runs, key=lambda r: r[1])
            yield {"bench": "asr", "phase": "draft", "model": model.name, "lang": lang,
                   "utterance_s": round(len(pcm) / 16000, 2), "transcribe_s": round(best[0], 3),
                   "to_draft_s": round(best[1], 3), "runs_s": [round(r[1], 3) for r in runs],
                   "category": proposal.category, "target_s": 3.0}


def _models(args):
    from callcenter.asr.models import list_models, load_model

    if args.model:
        return [load_model(name) for name in args.model.split(",") if name]
    return [load_model(st.spec.name) for st in list_models() if st.verified]


def run(args):
    import logging

    logging.getLogger("twisted").setLevel(logging.WARNING)
    phases = set(args.phases.split(","))
    audio = Path(args.audio)
    vosk_models = []
    for model in _models(args):
        yield {"bench": "asr", "phase": "model", "model": model.name, "engine": model.engine,
               "load_s": round(model.load_seconds, 2), "cpus": os.cpu_count(), "loadavg": os.getloadavg()[0],
               "whisper_threads": getattr(model.whisper, "cpu_threads", None)}
        if "accuracy" in phases:
            yield from accuracy(model, audio, args.verbose)
        if "draft" in phases:
            yield from draft_latency(model, audio)
        if model.streaming:
            vosk_models.append(model)
    if vosk_models and phases & STREAMING_PHASES:
        yield from _streaming(vosk_models[0], args, phases)


def _streaming(model, args, phases):
    clips = _clips(Path(args.audio), args.clips)
    seconds = sum(len(p) for _, p in clips) / 16000
    yield {"bench": "asr", "phase": "setup", "model": model.name, "load_s": round(model.load_seconds, 2),
           "clips": [n for n, _ in clips], "audio_s": round(seconds, 2), "cpus": os.cpu_count(),
           "loadavg": os.getloadavg()[0]}
    # As start_speech does: every call the run will hold at once gets a warm recogniser.
    model.recognizers.warm(8000, max(2, args.calls, args.max_streams))
    for _, pcm in clips:  # one pass so every recogniser has seen this audio: the comparisons are like for like
        _raw(model, pcm, 1600, True)

    if "raw" in phases or "pipeline" in phases:
        # Interleaved per clip and repeated, best of each: a shared machine's noise
        # otherwise swamps a few-percent difference.
        best = {kind: [float("inf")] * len(clips) for kind in ("raw", "raw4000", "same", "live")}
        for round_ in range(args.rounds):
            for i, (_, pcm) in enumerate(clips):
                runs = [("raw", lambda: _raw(model, pcm, 1600, True)),
                        ("same", lambda: _pipeline(model, pcm, live=False)),
                        ("live", lambda: _pipeline(model, pcm, live=True)),
                        ("raw4000", lambda: _raw(model, pcm, 8000, False))]
                if round_ % 2:
                    runs.reverse()
                for kind, fn in runs:
                    best[kind][i] = min(best[kind][i], fn())
        total = {kind: sum(v) for kind, v in best.items()}
        yield {"bench": "asr", "phase": "raw", "rtf_cpu_100ms_partials": round(total["raw"] / seconds, 3),
               "rtf_cpu_4000_frames": round(total["raw4000"] / seconds, 3)}
        if "pipeline" in phases:
            # "same": StreamDecoder making the same recogniser calls as raw (what the pipeline adds);
            # "live": plus early endpoints (stable partial → FinalResult) for the 1 s latency budget.
            yield {"bench": "asr", "phase": "pipeline", "rtf_cpu": round(total["same"] / seconds, 3),
                   "overhead_vs_raw_pct": round(100 * (total["same"] - total["raw"]) / total["raw"], 1),
                   "live_rtf_cpu": round(total["live"] / seconds, 3),
                   "live_endpointing_cost_pct": round(100 * (total["live"] - total["raw"]) / total["raw"], 1),
                   "rounds": args.rounds, "target_pct": 5}
    if "two_streams" in phases:
        results = {}

        def worker(idx):
            t = time.perf_counter()
            cpu = sum(_pipeline(model, p) for _, p in clips)
            results[idx] = (time.perf_counter() - t, cpu)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - started
        yield {"bench": "asr", "phase": "two_streams", "threads": 2,
               "rtf_wall_per_stream": [round(results[i][0] / seconds, 3) for i in range(2)],
               "rtf_cpu_per_stream": [round(results[i][1] / seconds, 3) for i in range(2)],
               "aggregate_audio_per_wall_s": round(2 * seconds / wall, 2)}
    if phases & {"latency", "capacity"}:
        yield from _reactor_phases(model, clips, args, phases)


def _reactor_phases(model, clips, args, phases):
    from twisted.internet import defer, reactor, task

    from callcenter.asr.audio import write_wav
    from callcenter.asr.audiosocket import listen, stream_wav
    from callcenter.asr.live import DecodePool, LiveTranscriber
    import tempfile

    out: list[dict] = []
    tmp = Path(tempfile.mkdtemp(prefix="bench-asr-"))
    paths = [write_wav(tmp / name, pcm, 8000) for name, pcm in clips]

    class Sink:
        def __init__(self):
            self.finals, self.closed = [], {}

        def on_final(self, uuid, segment):
            self.finals.append((uuid, segment, reactor.seconds()))

        def on_closed(self, uuid, transcript):
            self.closed[uuid] = reactor.seconds()

    @defer.inlineCallbacks
    def calls(pool_size, max_live, wavs):
        pool = DecodePool(reactor, pool_size)
        pool.start()
        sink = Sink()
        transcriber = LiveTranscriber(reactor, model, pool, sink, spool_dir=tmp / "spool", max_live_streams=max_live)
        port = yield listen(reactor, transcriber.open, 0)
        started, ends = {}, {}
        ds = []
        for i, wav in enumerate(wavs):
            uuid = f"00000000-0000-4000-8000-{i:012d}"
            started[uuid] = reactor.seconds()
            d = stream_wav(reactor, "127.0.0.1", port.getHost().port, uuid, wav, speed=1.0)
            d.addCallback(lambda r, u=uuid: ends.__setitem__(u, reactor.seconds()))
            ds.append(d)
        yield defer.gatherResults(ds)
        while len(sink.closed) < len(wavs):
            yield task.deferLater(reactor, 0.02, lambda: None)
        yield port.stopListening()
        pool.stop()
        lat = [at - (started[u] + seg.end) for u, seg, at in sink.finals]
        behind = [sink.closed[u] - ends[u] for u in ends]
        return lat, behind, transcriber.stats

    @defer.inlineCallbacks
    def main():
        try:
            if "latency" in phases:
                wavs = [paths[i % len(paths)] for i in range(args.calls)]
                lat, behind, _ = yield calls(2, len(wavs), wavs)
                lat.sort()
                out.append({"bench": "asr", "phase": "latency", "calls": len(wavs), "threads": 2,
                            "finals": len(lat), "end_of_speech_to_final_s": {
                                "p50": round(statistics.median(lat), 3),
                                "p90": round(lat[int(0.9 * (len(lat) - 1))], 3), "max": round(lat[-1], 3)},
                            "hangup_to_transcript_s_max": round(max(behind), 3), "target_s": 1.0})
            if "capacity" in phases:
                longest = max(paths, key=lambda p: p.stat().st_size)
                for n in range(1, args.max_streams + 1):
                    lat, behind, stats = yield calls(1, n, [longest] * n)
                    sustained = max(behind) <= 1.0 and stats["spooled"] == 0
                    out.append({"bench": "asr", "phase": "capacity", "threads": 1, "calls": n,
                                "hangup_to_transcript_s_max": round(max(behind), 3),
                                "final_latency_s_max": round(max(lat), 3) if lat else None,
                                "sustained": sustained})
                    if not sustained:
                        break
        except Exception as exc:  # report, do not hang the benchmark
            out.append({"bench": "asr", "phase": "error", "error": repr(exc)})
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            reactor.stop()

    out.append({"bench": "asr", "phase": "reactor", "loadavg": os.getloadavg()[0]})
    reactor.callWhenRunning(main)
    reactor.run(installSignalHandlers=False)
    yield from out
