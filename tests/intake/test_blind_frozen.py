"""The blind evaluation set (tests/intake/blind) is frozen and well-formed.

These tests never score intake (issue 18's scoring does that); they prove the file
is the one its README names by checksum and that every label is one the taxonomy
knows, so a silent edit or a renamed department code is caught.
"""
from __future__ import annotations

import csv
import hashlib
import re
from pathlib import Path

import pytest

from ticketing.domain.workorder import ORDER_TYPES
from ticketing.taxonomy import URGENCIES, load_taxonomy

BLIND = Path(__file__).parent / "blind"
HEADER = ["id", "lang", "text", "type", "department", "district", "urgency"]


def _rows() -> list[dict[str, str]]:
    with open(BLIND / "blind.tsv", encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader)
        assert header == HEADER
        return [dict(zip(HEADER, row, strict=True)) for row in reader]


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    return _rows()


def test_blind_set_sha256_matches_the_line_in_its_readme():
    readme = (BLIND / "README.md").read_text(encoding="utf-8")
    frozen = re.findall(r"^sha256 ([0-9a-f]{64})  blind\.tsv$", readme, re.MULTILINE)
    assert len(frozen) == 1, "README.md must carry exactly one 'sha256 <hex>  blind.tsv' line"
    actual = hashlib.sha256((BLIND / "blind.tsv").read_bytes()).hexdigest()
    assert actual == frozen[0], "blind.tsv changed: the blind set is frozen, never edit or tune on it"


def test_blind_set_has_sequential_ids_and_at_least_300_rows_in_both_languages(rows):
    assert [r["id"] for r in rows] == [f"b{i:03d}" for i in range(1, len(rows) + 1)]
    assert len(rows) >= 300
    langs = [r["lang"] for r in rows]
    assert set(langs) == {"zh", "en"}
    assert langs.count("zh") >= 250 and langs.count("en") >= 50


def test_blind_set_texts_are_non_empty_and_distinct(rows):
    texts = [r["text"] for r in rows]
    assert all(t and t == t.strip() for t in texts)
    assert len(set(texts)) == len(texts)


def test_every_blind_label_is_valid_per_the_taxonomy(rows):
    taxonomy = load_taxonomy()
    bad = [
        (r["id"], field, r[field])
        for r in rows
        for field, ok in (
            ("type", r["type"] in ORDER_TYPES),
            ("department", r["department"] in taxonomy.departments),
            ("district", r["district"] == "" or r["district"] in taxonomy.districts),
            ("urgency", r["urgency"] in URGENCIES),
        )
        if not ok
    ]
    assert bad == []


def test_blind_set_covers_every_department_type_and_district(rows):
    taxonomy = load_taxonomy()
    assert {r["department"] for r in rows} == set(taxonomy.departments)
    assert {r["type"] for r in rows} == set(ORDER_TYPES)
    assert {r["district"] for r in rows} - {""} == set(taxonomy.districts)
    assert {r["urgency"] for r in rows} == set(URGENCIES)
