"""Which recordings belong to a work order, and where they are on disk.

A recording is known by the speech pipeline (``transcription_jobs`` /
``transcripts`` rows carry the call id and the file's path); an order lists
its calls in ``call_ids``.  Only files under the configured recording
directories are ever served, whatever a row says, so a path in the database
can never make the web server read anything else.
"""
from __future__ import annotations

import mimetypes
from pathlib import Path

import sqlalchemy as sa

from callcenter.asr.jobs import transcription_jobs, transcripts
from callcenter.errors import HotlineError

AUDIO_TYPES = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".gsm": "audio/x-gsm",
               ".webm": "audio/webm", ".flac": "audio/flac"}


class RecordingError(HotlineError):
    """No such recording of this order (or not one we may serve)."""


def roots_from_config(config) -> list[Path]:
    """Where recordings may live: ``[recordings] dirs``, the IVR's messages and the PBX spool."""
    dirs = list(config.get("recordings.dirs") or [])
    for key in ("ivr.recordings_dir", "pbxsim.spool_dir", "asr.spool_dir"):
        if config.get(key):
            dirs.append(config.get(key))
    return [Path(d).resolve() for d in dirs]


class RecordingIndex:
    """Recordings and transcripts of calls, read from the speech tables."""

    def __init__(self, engine, roots: list[Path]):
        self.engine = engine
        self.roots = [Path(r).resolve() for r in roots]

    def for_calls(self, call_ids: list[str]) -> list[dict]:
        """Each distinct recording of these calls (oldest first) with its transcript when there is one."""
        if not call_ids:
            return []
        with self.engine.connect() as conn:
            jobs = conn.execute(sa.select(transcription_jobs.c.recording_path, transcription_jobs.c.call_id,
                                          transcription_jobs.c.status, transcription_jobs.c.created_at)
                                .where(transcription_jobs.c.call_id.in_(list(call_ids)))
                                .order_by(transcription_jobs.c.id)).all()
            texts = conn.execute(sa.select(transcripts.c.recording_path, transcripts.c.call_id, transcripts.c.text,
                                           transcripts.c.language, transcripts.c.duration, transcripts.c.created_at)
                                 .where(transcripts.c.call_id.in_(list(call_ids)))
                                 .order_by(transcripts.c.id)).all()
        found: dict[str, dict] = {}
        for path, call_id, status, created in jobs:
            found.setdefault(path, {"path": path, "call_id": call_id, "status": status, "transcript": None,
                                    "language": None, "duration": None, "created_at": created})
        for path, call_id, text, language, duration, created in texts:
            key = path or f"transcript:{call_id}:{created}"
            item = found.setdefault(key, {"path": path, "call_id": call_id, "status": "done", "created_at": created})
            item.update(transcript=text, language=language, duration=duration, status="done")
        items = []
        for index, item in enumerate(found.values()):
            playable = item["path"] is not None and self.resolve(item["path"]) is not None
            items.append({"index": index, "call_id": item["call_id"], "status": item["status"],
                          "transcript": item.get("transcript"), "language": item.get("language"),
                          "duration": item.get("duration"), "playable": playable,
                          "media_type": self.media_type(item["path"]) if playable else None,
                          "name": Path(item["path"]).name if item["path"] else None, "_path": item["path"]})
        return items

    def resolve(self, path: str) -> Path | None:
        """The file, if it exists under one of the recording roots; else None."""
        try:
            real = Path(path).resolve()
        except (OSError, ValueError):
            return None
        if not any(real.is_relative_to(root) for root in self.roots) or not real.is_file():
            return None
        return real

    @staticmethod
    def media_type(path: str) -> str:
        suffix = Path(path).suffix.lower()
        return AUDIO_TYPES.get(suffix) or mimetypes.guess_type(path)[0] or "application/octet-stream"

    def file(self, call_ids: list[str], index) -> tuple[Path, str]:
        """The ``index``-th recording of these calls, as (file, media type)."""
        items = self.for_calls(call_ids)
        if not isinstance(index, int) or not 0 <= index < len(items) or not items[index]["playable"]:
            raise RecordingError("recordings.not_found", "录音不存在或不可播放 / no such playable recording",
                                 http_status=404, index=index)
        item = items[index]
        return self.resolve(item["_path"]), item["media_type"]
