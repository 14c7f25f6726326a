"""The labeled set and the shipped model's accuracy on the held-back split (never trained on)."""
from __future__ import annotations

from collections import Counter

from ticketing.intake.dataset import DEPARTMENTS, is_held_back
from ticketing.intake.keywords import TYPES
from ticketing.intake.training import evaluate, train_model


def test_labeled_set_covers_every_department_and_type(labeled):
    """≥ 400 spoken-style examples, Chinese and English, every department and type in both splits."""
    train, held = labeled
    assert len(train) + len(held) >= 400
    for part in (train, held):
        assert {e.department for e in part} == set(DEPARTMENTS)
        assert {e.type for e in part} == set(TYPES)
        assert {e.lang for e in part} == {"zh", "en"}
        assert Counter(e.urgency for e in part)["urgent"] >= 10
    assert sum(1 for e in train + held if e.district) >= 300


def test_held_back_split_is_fixed_at_twenty_percent(labeled):
    """The split is a rule on ids (number divisible by 5): 20%, identical on every run."""
    train, held = labeled
    assert len(held) * 5 == len(train) + len(held)
    assert all(is_held_back(e.id) for e in held) and not any(is_held_back(e.id) for e in train)
    assert not {e.text for e in held} & {e.text for e in train}


def test_shipped_model_was_trained_on_the_training_split_only(extractor, labeled):
    """Retraining on the training split reproduces the shipped model exactly: no held-back row is in it."""
    train, _held = labeled
    model = train_model(extractor.with_model(None), train)
    shipped = {name: nb.to_dict() for name, nb in extractor.models.items()}
    assert model["fields"] == shipped
    assert extractor.model_info["examples"] == len(train)


def test_held_back_accuracy_meets_targets(extractor, labeled):
    """≥ 90% department, ≥ 90% district where a place is named, ≥ 85% type on the held-back split."""
    _train, held = labeled
    report = evaluate(extractor, held)
    assert report["department"]["accuracy"] >= 0.90, report
    assert report["district"]["accuracy"] >= 0.90, report
    assert report["district"]["total"] >= 60
    assert report["type"]["accuracy"] >= 0.85, report
    assert report["urgency"]["accuracy"] >= 0.85, report
    english = [e for e in held if e.lang == "en"]
    assert evaluate(extractor, english)["department"]["accuracy"] >= 0.75


def test_confidence_separates_right_from_wrong(extractor, labeled):
    """On the held-back split, right department and type guesses carry clearly higher confidence than
    wrong ones: the desk can trust high-confidence fields and check low ones."""
    _train, held = labeled
    for field in ("department", "type"):
        right, wrong = [], []
        for e in held:
            p = extractor.propose(e.text, e.lang)
            (right if getattr(p, field) == getattr(e, field) else wrong).append(p.confidence[field])
        assert wrong, field
        assert sum(right) / len(right) > sum(wrong) / len(wrong) + 0.15, field
