"""The labeled set: reading, validating, the fixed held-back split, accuracy.

TSV columns: id, lang, text, type, department, district, urgency (district
empty when no place is named).  The split is fixed by id, so what is held
back never changes between runs and is never trained on: an id whose number
is a multiple of 5 (um05, um10, ...) is held back — 20%, every department.
"""
from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import Iterable, Mapping

from ticketing.intake.errors import DataError
from ticketing.intake.gazetteer import DISTRICTS
from ticketing.intake.keywords import TYPES, URGENCIES

COLUMNS = ("id", "lang", "text", "type", "department", "district", "urgency")
DEPARTMENTS = (
    "urban-management", "housing", "transport", "traffic-police", "public-security", "environment",
    "market-regulation", "human-resources", "health", "medical-insurance", "education", "civil-affairs",
    "water", "power", "gas", "natural-resources", "emergency-management", "agriculture", "tax",
    "subdistrict-office",
)
LANGS = ("zh", "en")
EVAL_FIELDS = ("type", "department", "district", "urgency")


@dataclass(frozen=True)
class Example:
    id: str
    lang: str
    text: str
    type: str
    department: str
    district: str | None
    urgency: str

    def label(self, field: str) -> str | None:
        return getattr(self, field)


def parse_tsv(lines: Iterable[str]) -> list[dict[str, str]]:
    """Rows of a TSV with a header line; ``#`` lines and blank lines are skipped."""
    header: list[str] | None = None
    rows = []
    for number, line in enumerate(lines, 1):
        line = line.rstrip("\r\n")
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split("\t")
        if header is None:
            header = [c.strip().lower() for c in cells]
            continue
        if len(cells) != len(header):
            raise DataError(f"第 {number} 行列数不对 / line {number}: {len(cells)} columns, header has {len(header)}",
                            {"line": number, "columns": len(cells), "expected": len(header)})
        row = dict(zip(header, (c.strip() for c in cells)))
        row["_line"] = str(number)
        rows.append(row)
    if header is None:
        raise DataError("缺少表头 / no header line", {})
    return rows


def _check(row: Mapping[str, str], name: str, allowed, *, empty_ok: bool = False) -> str | None:
    value = row.get(name, "")
    if value == "" and empty_ok:
        return None
    if value not in allowed:
        raise DataError(f"第 {row.get('_line')} 行取值无效 / line {row.get('_line')}: {name} {value!r} is not one of "
                        "the allowed values",
                        {"line": int(row.get("_line", 0)), "column": name, "value": value[:64]})
    return value


def examples_from_rows(rows: Iterable[Mapping[str, str]]) -> list[Example]:
    rows = list(rows)
    if rows:
        missing = [c for c in COLUMNS if c not in rows[0]]
        if missing:
            raise DataError(f"缺少列 / missing columns: {', '.join(missing)}",
                            {"missing": missing, "required": list(COLUMNS)})
    out, seen = [], set()
    for row in rows:
        ident = row["id"]
        if not ident or ident in seen:
            raise DataError(f"第 {row.get('_line')} 行编号为空或重复 / line {row.get('_line')}: id {ident!r} is empty "
                            "or repeated", {"line": int(row.get("_line", 0))})
        seen.add(ident)
        if not row["text"]:
            raise DataError(f"第 {row.get('_line')} 行文本为空 / line {row.get('_line')}: empty text",
                            {"line": int(row.get("_line", 0))})
        out.append(Example(
            id=ident, lang=_check(row, "lang", LANGS), text=row["text"], type=_check(row, "type", TYPES),
            department=_check(row, "department", DEPARTMENTS),
            district=_check(row, "district", DISTRICTS, empty_ok=True),
            urgency=_check(row, "urgency", URGENCIES)))
    return out


def is_held_back(example_id: str) -> bool:
    m = re.search(r"(\d+)$", example_id)
    if m:
        return int(m.group(1)) % 5 == 0
    return zlib.crc32(example_id.encode("utf-8")) % 5 == 0


def split(examples: Iterable[Example]) -> tuple[list[Example], list[Example]]:
    """(train, held_back) by the fixed rule.  A text held back under one id is not trained on under
    another (several hands wrote the same short call: 停水了, 路灯不亮)."""
    from ticketing.intake.normalize import clean

    train, held = [], []
    for e in examples:
        (held if is_held_back(e.id) else train).append(e)
    held_texts = {clean(e.text) for e in held}
    return [e for e in train if clean(e.text) not in held_texts], held


def accuracy(predictions: Iterable[tuple[Example, Mapping[str, str | None]]]) -> dict[str, dict]:
    """Per field: correct, total, accuracy.  District counts only where a place is named."""
    stats = {f: [0, 0] for f in EVAL_FIELDS}
    for example, predicted in predictions:
        for f in EVAL_FIELDS:
            gold = example.label(f)
            if f == "district" and gold is None:
                continue
            stats[f][1] += 1
            stats[f][0] += int(predicted.get(f) == gold)
    return {f: {"correct": c, "total": t, "accuracy": round(c / t, 4) if t else None}
            for f, (c, t) in stats.items()}
