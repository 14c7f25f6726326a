"""Prompt rendering with the real espeak-ng and sox."""
from __future__ import annotations

import threading
import wave

import pytest

from ivr.tts import SAMPLE_RATE, TextToSpeech


class Lockstep(TextToSpeech):
    """The real renderer, with two renders held at the same step: both run sox, then both rename."""

    def _run(self, argv):
        gate = LOCKSTEP
        if argv[0] == self.sox:
            gate.wait()
        super()._run(argv)
        if argv[0] == self.sox:
            gate.wait()


LOCKSTEP = threading.Barrier(2, timeout=30)


def test_two_threads_rendering_the_same_text_both_get_a_whole_file(tmp_path):
    """Two callers' read-backs of the same text rendered at once (a thread each, as the IVR does) both
    succeed and leave one whole 8 kHz WAV, no staging file behind (the staging name was per process, so
    the second rename found nothing and that caller heard nothing)."""
    out = tmp_path / "tts" / "zh" / "same.wav"
    errors, done = [], []

    def render():
        try:
            done.append(Lockstep().render("您的工单已受理", "zh", out))
        except Exception as exc:   # collected: the assertion below names it
            errors.append(exc)

    threads = [threading.Thread(target=render) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and done == [out, out]
    with wave.open(str(out)) as w:
        assert w.getframerate() == SAMPLE_RATE and w.getnchannels() == 1 and w.getnframes() > SAMPLE_RATE // 4
    assert sorted(p.name for p in out.parent.iterdir()) == ["same.wav"]
    assert out.stat().st_mode & 0o044 == 0o044     # readable by Asterisk's user


def test_a_failed_render_leaves_no_staging_file(tmp_path):
    out = tmp_path / "x.wav"
    with pytest.raises(Exception):
        TextToSpeech(sox="/nonexistent/sox").render("你好", "zh", out)
    assert list(tmp_path.iterdir()) == []
