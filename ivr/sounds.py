"""Every sound the hotline can play: what it is, how Asterisk names it, which are missing.

Two views of one directory of rendered prompts:

- ``ivr.sounds_dir`` — where *this* process reads and writes the files
  (``callcenter ivr prompts build`` renders into it; read-backs are rendered
  into ``tts/`` at call time);
- ``ivr.pbx_sounds_dir`` — the same directory as *Asterisk* names it:
  relative to Asterisk's sounds directory (``hotline`` for
  ``/var/lib/asterisk/sounds/hotline``).  Every ``STREAM FILE`` / ``GET DATA``
  the controller sends says ``<pbx_sounds_dir>/<name>`` and never the
  controller's own file path, which Asterisk may not share.

:func:`sound_entries` is the one list of fixed sounds: the flows' prompts
(hotline, rating, survey, …) and the ACD's queue announcements.  On real
Asterisk a ``STREAM FILE`` of a missing file ends the caller's AsyncAGI
session (res_agi), so ``serve`` refuses to start while :func:`missing_sounds`
names any, and ``/healthz`` reports them.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

from ivr.prompts import PromptEntry, catalogue
from callcenter.errors import HotlineError

#: Asterisk's name for the prompts directory unless configured (``sounds/hotline``)
DEFAULT_PBX_SOUNDS_DIR = "hotline"
_PBX_DIR = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}(/[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}){0,7}")


class SoundsConfigError(HotlineError, ValueError):
    error_id = "ivr.sounds.bad_pbx_sounds_dir"


def check_pbx_sounds_dir(value: str | None) -> str:
    """``ivr.pbx_sounds_dir``: a path relative to Asterisk's sounds directory ("hotline").

    Empty means the default.  An absolute path, ``..`` or a space is refused:
    the controller must name sounds as Asterisk sees them, not by its own path.
    """
    value = (value or "").strip().rstrip("/") or DEFAULT_PBX_SOUNDS_DIR
    if not _PBX_DIR.fullmatch(value) or ".." in value.split("/"):
        raise SoundsConfigError(
            f"ivr.pbx_sounds_dir must be relative to Asterisk's sounds directory, like 'hotline' (got {value!r}) / "
            "ivr.pbx_sounds_dir 须为相对于 Asterisk 声音目录的路径")
    return value


def pbx_sound(pbx_sounds_dir: str, name: str) -> str:
    """The name Asterisk plays for prompt ``name`` (``hotline/queue/zh/queue_all_busy``)."""
    return f"{pbx_sounds_dir.rstrip('/')}/{name}"


def sound_entries(flows: Iterable | None = None) -> list[PromptEntry]:
    """Every fixed sound the hotline can play: the flows' prompts and the queue announcements.

    ``flows``: the flows in service (default: the shipped ones).  Read-backs
    rendered per call (``tts/…``) and Asterisk's own sounds are not in it.
    """
    from callcenter.routing.announce import prompt_entries

    if flows is None:
        from ivr.library import FlowLibrary

        flows = FlowLibrary().flows.values()
    entries = list(catalogue(flows)) + list(prompt_entries())
    seen: set[str] = set()
    unique = []
    for entry in entries:
        if entry.name not in seen:
            seen.add(entry.name)
            unique.append(entry)
    return unique


def missing_sounds(sounds_dir: str | Path, flows: Iterable | None = None) -> list[str]:
    """Names (``queue/zh/queue_all_busy``) of the sounds that ``sounds_dir`` lacks, sorted.

    A file counts when ``<name>.wav`` exists and is not empty.
    """
    base = Path(sounds_dir)
    missing = []
    for entry in sound_entries(flows):
        wav = base / f"{entry.name}.wav"
        try:
            present = wav.is_file() and wav.stat().st_size > 44  # more than a bare WAV header
        except OSError:
            present = False
        if not present:
            missing.append(entry.name)
    return sorted(missing)


def missing_sounds_for(config, flows: Iterable | None = None) -> list[str]:
    """:func:`missing_sounds` for a service configuration (``ivr.sounds_dir``, ``ivr.flows_dir``).

    Used by ``serve`` at start, ``/healthz`` and ``callcenter check``.  ``flows``: the flows the
    running IVR has loaded (``/healthz`` passes them, so a health probe does not re-read the flow
    files); default: read ``ivr.flows_dir``.
    """
    if flows is None:
        from ivr.library import FlowLibrary

        flows = FlowLibrary(config.get("ivr.flows_dir") or None).flows.values()
    return missing_sounds(config.get("ivr.sounds_dir"), flows)


def build_sounds(out_dir: str | Path, flows: Iterable | None = None, tts=None, force: bool = False):
    """Render every sound of :func:`sound_entries` into ``out_dir`` (blocking; unchanged ones are kept)."""
    from ivr.tts import build_prompts

    return build_prompts(sound_entries(flows), Path(out_dir), tts=tts, force=force)
