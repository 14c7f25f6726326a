"""Loading intake's data once: the shipped gazetteer, labeled set and model,
and the work-order taxonomy.  This is the I/O edge around the pure core."""
from __future__ import annotations

import json
import logging
import re
import threading
from pathlib import Path

from ticketing.intake.dataset import Example, examples_from_rows, parse_tsv, split
from ticketing.intake.errors import DataError
from ticketing.intake.extractor import Extractor, department_map
from ticketing.intake.gazetteer import Gazetteer
from ticketing.intake.training import MODEL_FORMAT, train_model

log = logging.getLogger(__name__)
_NUMERAL = re.compile("[一二三四五六七八九十]")  # 一市 (一市镇) reads in 一市民: never a free-standing bare name

DATA_DIR = Path(__file__).with_name("data")
GAZETTEER_PATH = DATA_DIR / "gazetteer.tsv"
LABELED_PATH = DATA_DIR / "labeled.tsv"
SYNTHETIC_PATH = DATA_DIR / "synthetic.tsv"   # composed from the scope policy (ticketing.intake.synth)
WRITTEN_PATH = DATA_DIR / "written.tsv"       # hand-written from the scope policy (issue 18)
# Two more hands writing from the scope policy alone (issue 18): urgent situations and their look-alikes,
# confusable departments and bare places (written2, ids v…); the English desk, types, short and long
# calls (written3, ids x…).  Each is read when present.
WRITTEN2_PATH = DATA_DIR / "written2.tsv"
WRITTEN3_PATH = DATA_DIR / "written3.tsv"
# Three more: county and village callers in dialect (written4, ids y…), look-alikes and further urgent
# rounds (written5, ids z…), indirect urgent calls, neighbours and department-service complaints (written6, q…).
WRITTEN4_PATH = DATA_DIR / "written4.tsv"
WRITTEN5_PATH = DATA_DIR / "written5.tsv"
WRITTEN6_PATH = DATA_DIR / "written6.tsv"
# The training sources by name: (path, required).  The held-back split of each is reported apart.
SOURCES = {"hand-written": (LABELED_PATH, True), "synthetic": (SYNTHETIC_PATH, True), "written": (WRITTEN_PATH, True),
           "written2": (WRITTEN2_PATH, False), "written3": (WRITTEN3_PATH, False), "written4": (WRITTEN4_PATH, False),
           "written5": (WRITTEN5_PATH, False), "written6": (WRITTEN6_PATH, False)}
MODEL_PATH = DATA_DIR / "model.json"


def read_tsv(path: str | Path) -> list[dict[str, str]]:
    try:
        with open(path, encoding="utf-8") as fh:
            return parse_tsv(fh)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file / 文件不存在", {"path": str(path)}) from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text / 不是 UTF-8 文本", {"path": str(path)}) from None
    except DataError as exc:
        raise DataError(f"{path}: {exc.message}", {**exc.details, "path": str(path)}) from None


def load_gazetteer(path: str | Path | None = None, taxonomy=None) -> Gazetteer:
    """The places: the taxonomy's districts and towns (the shipped ``districts.yaml`` when
    ``taxonomy`` is None: the one list) and the roads, landmarks, communities and villages of
    ``gazetteer.tsv``."""
    from ticketing.intake.classifier import Tokenizer
    from ticketing.intake.gazetteer import places_from_taxonomy

    admin = places_from_taxonomy(taxonomy or load_taxonomy())
    words = Tokenizer()
    common = [b for p in admin for b in p.bare if words.is_common(b)]
    free = [b for p in admin for b in p.bare if words.frequency(b) == 0 and not _NUMERAL.search(b)]
    return Gazetteer.from_rows(read_tsv(path or GAZETTEER_PATH), admin, common, free)


def load_examples(path: str | Path | None = None) -> list[Example]:
    """The labeled rows of ``path``; by default the shipped training data: the hand-written
    ``labeled.tsv``, ``written.tsv`` and ``written2.tsv`` … ``written6.tsv`` (each when present)
    and the policy-composed ``synthetic.tsv``."""
    if path is None:
        return [e for name in SOURCES for e in _source_examples(name)]
    rows = read_tsv(path)
    try:
        return examples_from_rows(rows)
    except DataError as exc:
        raise DataError(f"{path}: {exc.message}", exc.details) from None


def held_back_sets() -> dict[str, list[Example]]:
    """The held-back split by source (the same id rule for every source): ``hand-written``
    (labeled.tsv), ``synthetic`` (whole situations of synthetic.tsv never trained on in any
    phrasing), ``written`` (written.tsv: the second hand-written set, of issue 18) and, when
    present, ``written2`` … ``written6`` (five more hands)."""
    out = {}
    for name, (path, required) in SOURCES.items():
        if required or Path(path).exists():
            out[name] = split(_source_examples(name))[1]
    return out


def _source_examples(name: str) -> list[Example]:
    path, required = SOURCES[name]
    if not required and not Path(path).exists():
        return []
    return load_examples(path)


def load_model(path: str | Path | None = None) -> dict | None:
    """The trained model, or None when there is none yet."""
    path = Path(path or MODEL_PATH)
    try:
        model = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return None
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: 不是模型文件，请运行 `callcenter intake train` / not a model file ({exc}); "
                        "run `callcenter intake train`", {"path": str(path)}) from None
    if not isinstance(model, dict) or model.get("format") != MODEL_FORMAT or "fields" not in model:
        raise DataError(f"{path}: 模型格式未知，请运行 `callcenter intake train` / unknown model format; "
                        "run `callcenter intake train`", {"path": str(path)})
    return model


def save_model(model: dict, path: str | Path | None = None) -> Path:
    """Write atomically, so a running service never reads half a model."""
    path = Path(path or MODEL_PATH)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(model, ensure_ascii=False, separators=(",", ":"), sort_keys=True), "utf-8")
    tmp.replace(path)
    return path


def load_taxonomy(directory: str | Path | None = None):
    """The work-order taxonomy intake maps onto: ``ticketing.taxonomy``'s loader, the same
    one the work-order service uses (``directory`` as in ``sla.taxonomy_dir``; None = shipped)."""
    from ticketing.taxonomy import load_taxonomy as _load

    return _load(directory)


def build_extractor(model_path: str | Path | None = None, *, model: dict | None = None,
                    taxonomy=None) -> Extractor:
    """An extractor over the shipped gazetteer and ``taxonomy`` (the shipped one when None);
    trains in memory if no model file exists yet."""
    shipped = load_taxonomy()
    gazetteer = load_gazetteer(taxonomy=shipped)
    taxonomy = taxonomy if taxonomy is not None else shipped
    if model is None:
        model = load_model(model_path)
    # The labeled set, so the model, speaks the shipped taxonomy's department codes.
    extractor = Extractor(gazetteer, model, taxonomy, department_map=department_map(shipped, taxonomy))
    if model is None:
        log.warning("intake: no model file at %s; training from the shipped labeled set", model_path or MODEL_PATH)
        train, _held = split(load_examples())
        extractor = extractor.with_model(train_model(extractor, train))
    return extractor


_loaded: dict[tuple[str, str], Extractor] = {}
_lock = threading.Lock()


def default_extractor(model_path: str | Path | None = None, taxonomy=None) -> Extractor:
    """The process-wide extractor for a model file (the shipped one by default) and a taxonomy
    (a loaded :class:`~ticketing.taxonomy.Taxonomy`, the shipped one by default): loaded once
    per (model, taxonomy directory), thread-safe."""
    key = (str(Path(model_path).resolve()) if model_path else "", _taxonomy_key(taxonomy))
    with _lock:
        if key not in _loaded:
            _loaded[key] = build_extractor(model_path or None, taxonomy=taxonomy)
        return _loaded[key]


def _taxonomy_key(taxonomy) -> str:
    if taxonomy is None:
        return ""
    directory = getattr(taxonomy, "directory", None)
    if directory is None:  # built in code: only this very object is this taxonomy
        return f"object:{id(taxonomy)}"
    from ticketing.taxonomy import DATA_DIR

    return "" if Path(directory) == DATA_DIR.resolve() else str(directory)


def reset_default(model_path: str | Path | None = None) -> None:
    """Forget the extractors loaded for ``model_path`` (after `intake train` rewrote it), or all of them."""
    with _lock:
        if model_path is None:
            _loaded.clear()
            return
        key = str(Path(model_path).resolve())
        shipped = key == str(MODEL_PATH.resolve())
        for model_key, tax_key in list(_loaded):
            if model_key == key or (shipped and model_key == ""):
                _loaded.pop((model_key, tax_key), None)


# The frozen blind set (tests/intake/blind, written apart from the project from the scope policy alone):
# only ever scored — by `callcenter bench intake --blind` and the retraining gate — never trained on.
BLIND_PATH = Path(__file__).resolve().parents[2] / "tests" / "intake" / "blind" / "blind.tsv"


def load_blind():
    """The blind set's examples, or None when it is not there (an installed package has no tests)."""
    return load_examples(BLIND_PATH) if BLIND_PATH.exists() else None
