"""Training the intake models from the labeled set and corrections.

A correction is what an agent or a department said the right value was
(``text, field, value``): an agent editing a draft, or a department
returning a misrouted order that was then re-dispatched.  It overrides the
labeled set's value for the same text and counts double, because it is a
deliberate human decision about a real call.  Pure: rows in, model dict out.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from ticketing.intake.classifier import NaiveBayes
from ticketing.intake.dataset import DEPARTMENTS, Example, accuracy
from ticketing.intake.errors import InvalidCorrection
from ticketing.intake.gazetteer import DISTRICTS
from ticketing.intake.keywords import TYPES, URGENCIES
from ticketing.intake.normalize import clean

MODEL_FORMAT = 1
TRAINED_FIELDS = ("type", "department", "urgency")
CORRECTABLE_FIELDS = ("type", "department", "district", "urgency", "category")
CORRECTION_WEIGHT = 2.0
CORRECTION_SOURCES = ("agent", "misrouted", "import")
MAX_CORRECTION_TEXT = 4000


@dataclass(frozen=True)
class Correction:
    text: str
    field: str
    value: str
    source: str = "agent"


def validate_correction(text, field, value, source="agent", categories: Iterable[str] | None = None,
                        departments: Iterable[str] | None = None) -> Correction:
    """A checked :class:`Correction`, or :class:`InvalidCorrection` saying what is wrong.

    ``departments`` are the deployment taxonomy's codes (default: the labeled set's)."""
    if not isinstance(text, str) or not clean(text):
        raise InvalidCorrection("更正的文本为空 / correction text is empty", {"field": str(field)[:32]})
    if len(text) > MAX_CORRECTION_TEXT:
        raise InvalidCorrection("更正的文本过长 / correction text too long", {"length": len(text), "max": MAX_CORRECTION_TEXT})
    if field not in CORRECTABLE_FIELDS:
        raise InvalidCorrection(f"不能更正的字段 / field {field!r} cannot be corrected",
                                {"field": str(field)[:32], "allowed": list(CORRECTABLE_FIELDS)})
    allowed = {"type": TYPES, "department": tuple(departments) if departments is not None else DEPARTMENTS,
               "district": DISTRICTS, "urgency": URGENCIES}.get(field)
    if field == "category":
        allowed = tuple(categories) if categories is not None else None
        if allowed is None and not (isinstance(value, str) and value.replace("-", "").isalnum()):
            raise InvalidCorrection("分类代码无效 / invalid category code", {"value": str(value)[:64]})
    if allowed is not None and value not in allowed:
        raise InvalidCorrection(f"{field} 的值无效 / invalid {field} value {str(value)[:64]!r}",
                                {"field": field, "value": str(value)[:64], "allowed": list(allowed)})
    if source not in CORRECTION_SOURCES:
        raise InvalidCorrection(f"未知来源 / unknown correction source {str(source)[:32]!r}",
                                {"source": str(source)[:32], "allowed": list(CORRECTION_SOURCES)})
    return Correction(clean(text), field, value, source)


def train_model(extractor, examples: Sequence[Example], corrections: Iterable[Correction] = (),
                *, alpha: float = 1.0) -> dict:
    """A model dict (JSON-ready) for ``Extractor``: one naive Bayes per trained field."""
    override: dict[tuple[str, str], str] = {}
    for c in corrections:
        if c.field in TRAINED_FIELDS:
            override[(clean(c.text), c.field)] = c.value  # the latest correction wins
    rows: dict[str, list] = {f: [] for f in TRAINED_FIELDS}
    used = {f: 0 for f in TRAINED_FIELDS}
    for e in examples:
        feats = extractor.analyse(e.text, e.lang)[-1]
        key = clean(e.text)
        for f in TRAINED_FIELDS:
            corrected = override.pop((key, f), None)
            if corrected is not None:
                used[f] += 1
            rows[f].append((feats, corrected or e.label(f), CORRECTION_WEIGHT if corrected else 1.0))
    for (text, f), value in override.items():
        rows[f].append((extractor.analyse(text)[-1], value, CORRECTION_WEIGHT))
        used[f] += 1
    fields = {f: NaiveBayes.train(r, alpha=alpha).to_dict() for f, r in rows.items() if r}
    return {"format": MODEL_FORMAT,
            "meta": {"examples": len(examples), "corrections_used": used, "alpha": alpha},
            "fields": fields}


def evaluate(extractor, examples: Sequence[Example]) -> dict[str, dict]:
    """Accuracy per field of ``extractor`` on labeled ``examples``."""
    def predictions():
        for e in examples:
            p = extractor.propose(e.text, e.lang)
            yield e, {"type": p.type, "department": p.department, "district": p.district, "urgency": p.urgency}
    return accuracy(predictions())
