"""The labeled sets and the shipped model's accuracy on the held-back split (never trained on).

Two sources: ``labeled.tsv`` (600 hand-written calls) and ``synthetic.tsv`` (composed from the
scope policy's lexicon, ticketing.intake.synth).  The synthetic held-back rows are whole
situations the model never saw in any phrasing, so its department figure there is the honest,
lower one; the blind set (README) is the measure that counts.
"""
from __future__ import annotations

import hashlib
from collections import Counter

from ticketing.intake.dataset import DEPARTMENTS, is_held_back, split
from ticketing.intake.keywords import TYPES
from ticketing.intake.resources import LABELED_PATH, SYNTHETIC_PATH, load_examples
from ticketing.intake.training import evaluate


def test_labeled_set_covers_every_department_and_type(labeled):
    """Several thousand spoken-style examples, Chinese and English, every department and type in both splits."""
    train, held = labeled
    assert len(train) + len(held) >= 3500
    for part in (train, held):
        assert {e.department for e in part} == set(DEPARTMENTS)
        assert {e.type for e in part} == set(TYPES)
        assert {e.lang for e in part} == {"zh", "en"}
        assert Counter(e.urgency for e in part)["urgent"] >= 30
    assert sum(1 for e in train + held if e.district) >= 2000


def test_held_back_split_is_fixed_by_id(labeled):
    """The split is a rule on ids (trailing number divisible by 5): about 20%, identical on every run,
    no text on both sides; in the synthetic set the number is the situation, so a held-back situation
    has no phrasing in training."""
    train, held = labeled
    assert 0.15 <= len(held) / (len(train) + len(held)) <= 0.25
    assert all(is_held_back(e.id) for e in held) and not any(is_held_back(e.id) for e in train)
    assert not {e.text for e in held} & {e.text for e in train}
    groups = lambda part: {e.id.split("g")[-1] for e in part if e.id.startswith("sy")}  # noqa: E731
    assert groups(train) and not groups(train) & groups(held)


def test_shipped_model_was_trained_on_the_training_split_only(extractor, labeled):
    """The shipped model records the ids it was trained on: exactly the training split's."""
    train, _held = labeled
    digest = hashlib.sha256("\n".join(sorted(e.id for e in train)).encode()).hexdigest()
    assert extractor.model_info["training_ids_sha256"] == digest
    assert extractor.model_info["examples"] == len(train)
    assert extractor.model_info["kind"] == "linear"


def test_held_back_accuracy_meets_targets(extractor):
    """Hand-written held-back calls: ≥ 90% department, ≥ 90% district where named, ≥ 85% type.
    Synthetic held-back situations (never seen in any phrasing): the floor measured when the
    model was chosen, so a regression shows."""
    _train, held = split(load_examples(LABELED_PATH))
    report = evaluate(extractor, held)
    assert report["department"]["accuracy"] >= 0.90, report
    assert report["district"]["accuracy"] >= 0.90, report
    assert report["type"]["accuracy"] >= 0.85, report
    assert report["urgency"]["accuracy"] >= 0.90, report
    english = [e for e in held if e.lang == "en"]
    assert evaluate(extractor, english)["department"]["accuracy"] >= 0.75
    _train, unseen = split(load_examples(SYNTHETIC_PATH))
    report = evaluate(extractor, unseen)
    assert report["department"]["accuracy"] >= 0.75, report
    assert report["type"]["accuracy"] >= 0.92, report
    assert report["district"]["accuracy"] >= 0.95, report


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


def test_needs_dispatcher_marks_the_uncertain_proposals(extractor, labeled):
    """Proposals below the calibrated threshold are marked needs_dispatcher; the ones left for
    automatic dispatch are right far more often than the ones marked."""
    _train, held = labeled
    below = extractor.models["department"].meta["needs_dispatcher_below"]
    assert 0.3 <= below <= 0.95
    auto, manual = [], []
    for e in held:
        p = extractor.propose(e.text, e.lang)
        assert p.needs_dispatcher == (p.confidence["department"] < below)
        assert p.as_dict()["needs_dispatcher"] is p.needs_dispatcher
        (manual if p.needs_dispatcher else auto).append(p.department == e.department)
    assert manual and auto
    assert sum(auto) / len(auto) >= 0.90
    assert sum(auto) / len(auto) > sum(manual) / len(manual) + 0.2


def test_second_hand_and_dev_set_accuracy_floors(extractor):
    """Regression floors, a few points under what the shipped model measured when it was chosen:
    the held-back split of written.tsv (hand-written by E18data) and the development set
    tests/intake/dev/dev.tsv (written by another hand; tuned on, so its figures flatter)."""
    import pytest

    from callcenter.bench.intake import DEV_PATH, score
    from ticketing.intake.resources import WRITTEN_PATH

    written = score(extractor, split(load_examples(WRITTEN_PATH))[1])
    assert written["department_accuracy"] >= 0.92 and written["type_accuracy"] >= 0.86, written
    assert written["urgent_recall"] >= 0.93 and written["urgent_precision"] >= 0.70, written
    if not DEV_PATH.exists():
        pytest.skip("no development set")
    dev = score(extractor, load_examples(DEV_PATH))
    assert dev["department_accuracy"] >= 0.95 and dev["type_accuracy"] >= 0.86, dev
    assert dev["district_accuracy"] >= 0.96, dev
    assert dev["urgent_recall"] >= 0.97 and dev["urgent_precision"] >= 0.85, dev
