"""WAV validation and conversion: what the decoder gets, and every kind of bad audio."""
from __future__ import annotations

import math
import struct
from array import array

import pytest

from callcenter.asr.audio import (
    LinearResampler, convert_pcm, downmix, iter_pcm, probe_wav, read_pcm, to_bytes, to_samples,
)
from callcenter.asr.errors import AudioError
from tests.asr.conftest import DIGITS_8K, DIGITS_16K, write_wav


def sine(rate: int, seconds: float, freq: float = 440.0, amplitude: int = 10000) -> bytes:
    return to_bytes(array("h", (int(amplitude * math.sin(2 * math.pi * freq * i / rate))
                               for i in range(int(rate * seconds)))))


def zero_crossings(pcm: bytes) -> int:
    s = to_samples(pcm)
    return sum(1 for a, b in zip(s, s[1:]) if (a < 0) != (b < 0))


def test_probe_accepts_8k_and_16k_shared_clips_unconverted():
    """The shared 8 and 16 kHz mono clips go to the decoder at their own rate, no conversion."""
    for path, rate in ((DIGITS_8K, 8000), (DIGITS_16K, 16000)):
        info = probe_wav(path)
        assert (info.sample_rate, info.channels, info.target_rate, info.converted) == (rate, 1, rate, False)
        assert info.duration == pytest.approx(8.31, abs=0.01)
        _, pcm = read_pcm(path)
        assert len(pcm) == info.frames * 2


def test_stereo_is_downmixed_to_the_mean(tmp_path):
    """A stereo file becomes mono: each output sample is the mean of left and right."""
    left, right = array("h", [1000, -2000, 3000, 32767]), array("h", [3000, 2000, -3000, 32767])
    inter = array("h", [v for pair in zip(left, right) for v in pair])
    path = write_wav(tmp_path / "stereo.wav", to_bytes(inter), 8000, channels=2)
    info, pcm = read_pcm(path)
    assert info.channels == 2 and info.converted
    assert list(to_samples(pcm)) == [2000, 0, 0, 32767]
    assert downmix(to_bytes(inter), 2) == pcm


def test_other_rates_are_resampled_keeping_pitch_and_length(tmp_path):
    """44.1 kHz becomes 16 kHz and 11.025 kHz becomes 8 kHz; a 440 Hz tone stays 440 Hz."""
    for rate, target in ((44100, 16000), (11025, 8000)):
        path = write_wav(tmp_path / f"tone{rate}.wav", sine(rate, 1.0), rate)
        info, pcm = read_pcm(path)
        assert info.target_rate == target
        assert len(pcm) // 2 == pytest.approx(target, abs=2)
        assert zero_crossings(pcm) == pytest.approx(880, abs=4)


def test_streaming_resampler_matches_one_shot_across_chunk_boundaries():
    """Feeding the resampler in odd-sized chunks gives the same samples as one call."""
    pcm = sine(22050, 0.5, freq=300)
    whole = convert_pcm(pcm, 22050, 16000)
    r = LinearResampler(22050, 16000)
    pieces = b"".join(r.process(pcm[i:i + 2 * 777]) for i in range(0, len(pcm), 2 * 777))
    assert pieces == whole


def test_iter_pcm_chunks_cover_the_whole_file():
    """Chunked reading (used for hour-long files) yields exactly the file's samples."""
    info = probe_wav(DIGITS_8K)
    chunks = list(iter_pcm(info, chunk_seconds=0.3))
    assert len(chunks) > 20
    assert b"".join(chunks) == read_pcm(DIGITS_8K)[1]


def _bad(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _header(rate=8000, channels=1, bits=16, fmt=1, data_bytes=0, riff_extra=0):
    block = channels * bits // 8
    fmt_chunk = struct.pack("<HHIIHH", fmt, channels, rate, rate * block, block, bits)
    return (b"RIFF" + struct.pack("<I", 36 + data_bytes + riff_extra) + b"WAVE"
            + b"fmt " + struct.pack("<I", 16) + fmt_chunk + b"data" + struct.pack("<I", data_bytes))


@pytest.mark.parametrize("name, make, error_id, words", [
    ("missing.wav", None, "asr.audio_missing", "no such audio file"),
    ("empty.wav", lambda: b"", "asr.audio_empty", "empty"),
    ("text.wav", lambda: b"this is not audio at all, just text\n" * 4, "asr.audio_not_wav", "not a WAV"),
    ("header.wav", lambda: b"RIFF\x10\x00", "asr.audio_truncated", "truncated"),
    ("noframes.wav", lambda: _header(data_bytes=0), "asr.audio_empty", "no samples"),
    ("cut.wav", lambda: _header(data_bytes=16000) + b"\x01\x00" * 1000, "asr.audio_truncated", "truncated"),
    ("8bit.wav", lambda: _header(bits=8, data_bytes=800) + b"\x80" * 800, "asr.audio_encoding", "16-bit"),
    ("float.wav", lambda: _header(bits=32, fmt=3, data_bytes=800) + b"\x00" * 800, "asr.audio_encoding", "unsupported"),
    ("rate.wav", lambda: _header(rate=1000, data_bytes=800) + b"\x00" * 800, "asr.audio_rate", "sample rate"),
])
def test_bad_audio_is_refused_with_a_typed_error(tmp_path, name, make, error_id, words):
    """Each kind of unusable file raises AudioError with its own error_id and a clear bilingual message."""
    path = tmp_path / name if make is None else _bad(tmp_path, name, make())
    with pytest.raises(AudioError) as info:
        probe_wav(path)
    assert info.value.error_id == error_id
    assert words in str(info.value)
    assert info.value.details["path"] == str(path)
    assert info.value.as_dict()["error_id"] == error_id


def test_too_long_audio_is_refused_before_reading(tmp_path):
    """A recording over the configured limit (hours long) is refused from its header alone."""
    path = write_wav(tmp_path / "long.wav", b"\x00\x00" * 8000 * 3, 8000)
    with pytest.raises(AudioError) as info:
        probe_wav(path, max_seconds=2.0)
    assert info.value.error_id == "asr.audio_too_long"
    assert info.value.details["duration"] == pytest.approx(3.0)
    assert probe_wav(path, max_seconds=None).duration == pytest.approx(3.0)
