"""Corrections become training data, and retraining with them improves the held-back split."""
from __future__ import annotations

import pytest

from ticketing.intake.errors import InvalidCorrection
from ticketing.intake.training import Correction, evaluate, train_model, validate_correction


def test_retraining_with_corrections_improves_held_back_accuracy(extractor, labeled):
    """A model that saw a third of the training split improves once agents' corrections of the
    other rows (training-side texts only, never held-back ones) are added and it is retrained."""
    train, held = labeled
    blank = extractor.with_model(None)
    seen = [e for i, e in enumerate(train) if i % 3 == 0]
    corrected = [e for i, e in enumerate(train) if i % 3 != 0]
    before = extractor.with_model(train_model(blank, seen, calibrate=False))
    corrections = [Correction(e.text, field, getattr(e, field), "agent")
                   for e in corrected for field in ("department", "type")]
    after = extractor.with_model(train_model(blank, seen, corrections, calibrate=False))
    assert not {c.text for c in corrections} & {e.text for e in held}
    b, a = evaluate(before, held), evaluate(after, held)
    assert a["department"]["accuracy"] > b["department"]["accuracy"], (b, a)
    assert a["type"]["accuracy"] >= b["type"]["accuracy"] - 0.005, (b, a)  # type labels were already there


def test_a_correction_overrides_the_label_of_the_same_text(extractor, labeled):
    """A misrouted order corrected to another department is learnt for that text (latest correction wins)."""
    train, _held = labeled
    blank = extractor.with_model(None)
    text = "我们小区门口的共享单车堆成山了，占了半条人行道"
    rows = [Correction(text, "department", "traffic-police", "misrouted"),
            Correction(text, "department", "transport", "misrouted")]
    model = train_model(blank, train, rows, calibrate=False)
    assert model["meta"]["corrections_used"]["department"] == 1
    assert extractor.with_model(model).propose(text).department == "transport"
    nb = train_model(blank, train, rows, kind="nb")
    counts = nb["fields"]["department"]["classes"]["transport"]["docs"]
    assert counts > sum(1 for e in train if e.department == "transport")


@pytest.mark.parametrize("args, error", [
    (("", "department", "gas"), "empty"),
    (("路灯坏了", "colour", "red"), "cannot be corrected"),
    (("路灯坏了", "department", "police"), "invalid department"),
    (("路灯坏了", "type", "rant"), "invalid type"),
    (("路灯坏了", "district", "shanghai"), "invalid district"),
    (("路灯坏了", "urgency", "asap"), "invalid urgency"),
])
def test_invalid_corrections_are_refused(args, error):
    """Unknown fields and values are refused with error_id intake.invalid_correction."""
    with pytest.raises(InvalidCorrection, match=error) as info:
        validate_correction(*args)
    assert info.value.error_id == "intake.invalid_correction"


def test_category_corrections_are_checked_against_the_taxonomy():
    """A category correction must name a taxonomy category."""
    assert validate_correction("路灯坏了", "category", "garbage-collection", "agent", ["garbage-collection"]).value
    with pytest.raises(InvalidCorrection):
        validate_correction("路灯坏了", "category", "street-lights", "agent", ["garbage-collection"])
