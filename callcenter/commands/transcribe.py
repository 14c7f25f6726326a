"""`callcenter transcribe FILE... [--json]`: transcribe recordings, with a progress bar.

Also the batch queue's operator side: ``--enqueue`` adds jobs for the
service's workers, ``--work`` drains the queue in this process.
"""
from __future__ import annotations

import json
import os
import socket
import sys


def register(sub) -> None:
    parser = sub.add_parser("transcribe", help="transcribe WAV recordings / 录音转写")
    parser.add_argument("files", nargs="*", metavar="FILE", help="WAV files (8/16 kHz best; others are converted)")
    parser.add_argument("--json", action="store_true", help="one JSON object per file (text, words, timings)")
    parser.add_argument("--model", help="model name or directory (default: [asr] batch, else the first installed)")
    parser.add_argument("--language", choices=("zh", "en"), default=None,
                        help="force the language (Whisper; default: the likelier of zh/en)")
    parser.add_argument("--call-id", help="call id to store the transcripts under (with --store/--enqueue)")
    parser.add_argument("--store", action="store_true", help="also store transcripts in the database")
    parser.add_argument("--enqueue", action="store_true", help="only queue jobs for the transcription workers")
    parser.add_argument("--work", action="store_true", help="drain the job queue in this process, then exit")
    parser.add_argument("--url", help="database URL (default: database.url)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.set_defaults(func=_run)


def _queue(args):
    from callcenter.asr.jobs import TranscriptionQueue
    from callcenter.commands._database import migrated_engine
    from callcenter.db import default_url

    return TranscriptionQueue(migrated_engine(args.url or default_url(args.cfg)))


def _now():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)


def _run(args) -> int:
    from callcenter.asr.errors import AsrError, ModelError

    if not args.files and not args.work:
        print("callcenter transcribe: give FILE... or --work / 请提供录音文件", file=sys.stderr)
        return 2
    max_seconds = float(args.cfg.get("asr.max_audio_seconds", 3 * 3600.0))
    if args.enqueue:
        queue = _queue(args)
        for path in args.files:
            job_id = queue.enqueue(os.path.abspath(path), _now(), call_id=args.call_id)
            print(json.dumps({"file": path, "job": job_id}) if args.json else f"{path}: queued as job {job_id}")
        return 0
    from callcenter.asr.audio import probe_wav
    from callcenter.asr.models import load_model

    # The files are checked before the model is loaded (seconds, hundreds of MB):
    # a typo in a path is reported at once, and nothing is loaded for nothing.
    infos = {}
    for path in args.files:
        try:
            infos[path] = probe_wav(path, max_seconds)
        except AsrError as exc:
            infos[path] = exc
    if infos and all(isinstance(i, Exception) for i in infos.values()) and not args.work:
        for path, exc in infos.items():
            _report_error(args, path, exc)
        return 1
    # The database too (--store, --work): a missing or unmigrated one is refused before the model loads.
    queue = _queue(args) if args.store or args.work else None
    try:
        model = load_model(args.model, args.cfg, use="batch")
    except ModelError as exc:
        print(f"callcenter transcribe: [{exc.error_id}] {exc}", file=sys.stderr)
        return 1
    if args.work:
        from callcenter.asr.jobs import process_one

        worker = f"cli-{socket.gethostname()}-{os.getpid()}"
        done = 0
        while process_one(queue, model, worker, _now) is not None:
            done += 1
        print(json.dumps({"processed": done, **queue.counts()}))
        if not args.files:
            return 0
    return _transcribe_files(args, model, max_seconds, AsrError, infos, queue if args.store else None)


def _transcribe_files(args, model, max_seconds, AsrError, infos, queue) -> int:
    from tqdm import tqdm

    from callcenter.asr.batch import transcribe_file

    failures = 0
    total = sum(i.duration for i in infos.values() if not isinstance(i, Exception))
    bar = tqdm(total=round(total, 1), unit="s", unit_scale=False, desc="transcribing / 转写",
               file=sys.stderr, disable=args.no_progress or None, leave=False)
    try:
        for path, info in infos.items():
            if isinstance(info, Exception):
                failures += 1
                _report_error(args, path, info)
                continue
            before = bar.n
            try:
                transcript = transcribe_file(path, model, max_seconds=max_seconds, language=args.language,
                                             progress=lambda s, b=before: bar.update(round(b + s, 1) - bar.n))
            except AsrError as exc:
                failures += 1
                _report_error(args, path, exc)
                continue
            bar.update(round(before + info.duration, 1) - bar.n)
            stored = queue.store(transcript, _now(), call_id=args.call_id, recording_path=os.path.abspath(path)) if queue else None
            if args.json:
                out = {"file": path, **transcript.to_dict()}
                if stored is not None:
                    out["transcript_id"] = stored
                print(json.dumps(out, ensure_ascii=False), flush=True)
            else:
                bar.write(f"{path}\t{transcript.text}", file=sys.stdout)
    finally:
        bar.close()
    return 1 if failures else 0


def _report_error(args, path, exc) -> None:
    if args.json:
        print(json.dumps({"file": path, "error": exc.as_dict()}, ensure_ascii=False), flush=True)
    print(f"callcenter transcribe: {path}: [{exc.error_id}] {exc}", file=sys.stderr)
