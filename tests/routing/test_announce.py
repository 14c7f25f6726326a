"""Queue announcements: AGI commands per language, and the prompt audio they play."""
from __future__ import annotations

import wave

from callcenter.routing.announce import QUEUE_PROMPTS, announcement, build_queue_prompts, prompt_entries, prompt_file


def test_announcement_in_the_callers_language_under_the_sounds_dir():
    """English callers hear English files by absolute path; no position for the first in line,
    no wait under a minute; unknown languages fall back to Chinese."""
    assert announcement(1, 30) == []
    assert announcement(2, 61, lang="en", sounds_dir="/srv/sounds/") == [
        'STREAM FILE /srv/sounds/queue/en/queue_position ""', 'SAY NUMBER 1 ""',
        'STREAM FILE /srv/sounds/queue/en/queue_position_unit ""',
        'STREAM FILE /srv/sounds/queue/en/queue_wait ""', 'SAY NUMBER 2 ""',
        'STREAM FILE /srv/sounds/queue/en/queue_wait_minutes ""']
    assert prompt_file("queue_all_busy", "fr") == "queue/zh/queue_all_busy"


def test_every_prompt_has_chinese_and_english_and_renders(tmp_path):
    """Each queue prompt exists in zh and en, and renders to 8 kHz mono WAV where the player looks."""
    entries = prompt_entries()
    assert len(entries) == 2 * len(QUEUE_PROMPTS)
    results = build_queue_prompts(tmp_path)
    assert len(results) == len(entries)
    wav_path = tmp_path / "queue" / "zh" / "queue_position.wav"
    with wave.open(str(wav_path)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        assert w.getnframes() > 800
    assert str(wav_path)[:-4] == prompt_file("queue_position", "zh", str(tmp_path))
