"""Prompt audio: text → 8 kHz mono 16-bit WAV, the format Asterisk plays
without transcoding, using Debian's espeak-ng (voices ``cmn``, ``en-us``) and sox.

Blocking (subprocesses); services call it through a thread pool.  Files are
written to a temporary name and renamed, so Asterisk never plays half a file.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from callcenter.errors import HotlineError
from ivr.prompts import PromptEntry

VOICES = {"zh": "cmn", "en": "en-us"}
SAMPLE_RATE = 8000


class TtsError(HotlineError):
    error_id = "ivr.tts.failed"

    def __init__(self, message: str, details: dict | None = None):
        Exception.__init__(self, message)
        self.message = message
        self.details = details or {}


@dataclass(frozen=True)
class TextToSpeech:
    espeak: str = "espeak-ng"
    sox: str = "sox"
    speed: int = 150  # words per minute; espeak's default 175 is fast on the phone
    timeout: float = 30.0

    def render(self, text: str, lang: str, out: Path) -> Path:
        """Render ``text`` in ``lang`` to ``out`` (a .wav path)."""
        if lang not in VOICES:
            raise TtsError(f"no voice for language {lang!r}", {"lang": lang})
        if not text.strip() or "\n" in text or "\r" in text:
            raise TtsError("prompt text must be one non-empty line", {"text": text[:80]})
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        # one staging file per render (not per process): two threads rendering the same text (two
        # callers hearing the same read-back) each write their own, and the last rename wins whole
        fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp.wav", dir=out.parent)
        os.close(fd)
        staged = Path(name)
        try:
            with tempfile.TemporaryDirectory(prefix="ivr-tts-") as tmp:
                raw = Path(tmp) / "raw.wav"
                self._run([self.espeak, "-v", VOICES[lang], "-s", str(self.speed), "-w", str(raw), "--", text])
                self._run([self.sox, str(raw), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", "-e",
                           "signed-integer", str(staged)])
            os.chmod(staged, 0o644)      # mkstemp makes it 0600; Asterisk reads it as another user
            os.replace(staged, out)
        finally:
            staged.unlink(missing_ok=True)
        return out

    def _run(self, argv: list[str]) -> None:
        try:
            proc = subprocess.run(argv, capture_output=True, timeout=self.timeout, check=False)
        except FileNotFoundError:
            raise TtsError(f"{argv[0]} is not installed (Debian: apt-get install espeak-ng sox)",
                           {"program": argv[0]}) from None
        except subprocess.TimeoutExpired:
            raise TtsError(f"{argv[0]} took longer than {self.timeout}s", {"program": argv[0]}) from None
        if proc.returncode != 0:
            raise TtsError(f"{argv[0]} failed: {proc.stderr.decode('utf-8', 'replace').strip()[:200]}",
                           {"program": argv[0], "returncode": proc.returncode})


def _fingerprint(entry_text: str, lang: str, tts: TextToSpeech) -> str:
    return hashlib.sha256(f"{VOICES.get(lang)}|{tts.speed}|{SAMPLE_RATE}|{entry_text}".encode()).hexdigest()


def build_prompts(entries: Iterable[PromptEntry], out_dir: Path, tts: TextToSpeech | None = None,
                  force: bool = False) -> list[tuple[PromptEntry, Path, bool]]:
    """Render every entry under ``out_dir``; unchanged prompts are kept.

    Returns ``(entry, wav path, rendered now)``.  A manifest of text
    fingerprints decides what changed, so editing one prompt re-renders one file.
    """
    tts = tts or TextToSpeech()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = out_dir / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text("utf-8"))
    except (OSError, ValueError):
        manifest = {}
    results = []
    try:
        for entry in entries:
            wav = out_dir / f"{entry.name}.wav"
            fp = _fingerprint(entry.text, entry.lang, tts)
            fresh = not force and wav.exists() and manifest.get(entry.name) == fp
            if not fresh:
                tts.render(entry.text, entry.lang, wav)
                manifest[entry.name] = fp
            results.append((entry, wav, not fresh))
    finally:
        manifest_path.write_text(json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True), "utf-8")
    return results
