"""Shape of the intake development set ``tests/intake/dev/dev.tsv`` (issue 18).

These tests check the file only — columns, that every label is a code the project knows, unique ids and
the balance the issue asks for — never intake's accuracy on it (the tuner measures that)."""
from __future__ import annotations

import collections
import csv
import re
from pathlib import Path

import pytest

from ticketing.domain.workorder import ORDER_TYPES
from ticketing.taxonomy import URGENCIES, load_taxonomy

DEV = Path(__file__).parent / "dev" / "dev.tsv"
COLUMNS = ["id", "lang", "text", "type", "department", "district", "urgency"]
MIN_ROWS = 450
MIN_PER_DEPARTMENT = 8
MIN_PER_TYPE = 25
MIN_ZH, MIN_EN = 340, 70
URGENT_SHARE = (0.15, 0.25)


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    with DEV.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


@pytest.fixture(scope="module")
def taxonomy():
    return load_taxonomy()


def test_header_is_exactly_the_seven_columns():
    header = DEV.read_text(encoding="utf-8").splitlines()[0]
    assert header.split("\t") == COLUMNS


def test_every_row_has_seven_fields_and_a_text(rows):
    for row in rows:
        assert None not in row and all(row[c] is not None for c in COLUMNS), row
        assert row["text"].strip() == row["text"] and row["text"], row["id"]


def test_ids_are_unique_and_numbered(rows):
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"d\d{4}", i) for i in ids)


def test_texts_are_not_repeated(rows):
    texts = collections.Counter(r["text"] for r in rows)
    assert [t for t, n in texts.items() if n > 1] == []


def test_labels_are_codes_of_the_taxonomy(rows, taxonomy):
    districts = set(taxonomy.districts)
    for row in rows:
        assert row["lang"] in ("zh", "en"), row["id"]
        assert row["type"] in ORDER_TYPES, row["id"]
        assert row["department"] in taxonomy.departments, row["id"]
        assert row["district"] == "" or row["district"] in districts, row["id"]
        assert row["urgency"] in URGENCIES, row["id"]


def test_praise_consultation_and_suggestion_are_never_urgent(rows):
    """scope.md §4: questions, suggestions and praise about a danger are normal."""
    wrong = [r["id"] for r in rows
             if r["type"] in ("praise", "consultation", "suggestion") and r["urgency"] == "urgent"]
    assert wrong == []


def test_size_and_language_mix(rows):
    langs = collections.Counter(r["lang"] for r in rows)
    assert len(rows) >= MIN_ROWS
    assert langs["zh"] >= MIN_ZH and langs["en"] >= MIN_EN


def test_every_department_appears_at_least_eight_times(rows, taxonomy):
    counts = collections.Counter(r["department"] for r in rows)
    short = {d: counts[d] for d in taxonomy.departments if counts[d] < MIN_PER_DEPARTMENT}
    assert short == {}


def test_every_type_appears_at_least_twenty_five_times(rows):
    counts = collections.Counter(r["type"] for r in rows)
    short = {t: counts[t] for t in ORDER_TYPES if counts[t] < MIN_PER_TYPE}
    assert short == {}


def test_about_a_fifth_is_urgent(rows):
    share = sum(r["urgency"] == "urgent" for r in rows) / len(rows)
    assert URGENT_SHARE[0] <= share <= URGENT_SHARE[1], share
