"""Intake: accuracy per field on the held-back split (and, with --blind, on the frozen blind set),
proposals per second, and with --compare the candidate classifiers side by side.

    callcenter bench intake [--repeat N] [--train] [--compare] [--blind]

The held-back splits (hand-written, synthetic, written, written2 … written6) and, when present, the
development sets tests/intake/dev/dev.tsv, tests/intake/dev2/dev2.tsv and tests/intake/dev3/dev3.tsv
are always scored.

``--blind`` scores tests/intake/blind/blind.tsv, written apart from the project from the scope
policy alone (E18b).  It is only ever scored, never trained or tuned on: the figures are
reported (README) and used to choose between candidates already built, nothing else.
"""
from __future__ import annotations

import time
from collections import Counter

from ticketing.intake.resources import BLIND_PATH, load_blind  # noqa: F401 - the bench's --blind set

# The development set (tests/intake/dev, written by another hand from scope.md for tuning): scored
# with the held-back splits when present.  Tuning reads its misses (`callcenter intake eval FILE
# --misses`); the blind set stays the one never looked at.
DEV_PATH = BLIND_PATH.parent.parent / "dev" / "dev.tsv"
# The second development set (tests/intake/dev2, a third hand): the generalisation check, scored
# the same way (its first-look figure, before its misses were read, is in README Intake).
DEV2_PATH = BLIND_PATH.parent.parent / "dev2" / "dev2.tsv"
# The third development set (tests/intake/dev3, a fourth hand, issue 18): scored the same way (its
# first-look figure, before its misses were read, is in README Intake).
DEV3_PATH = BLIND_PATH.parent.parent / "dev3" / "dev3.tsv"

TARGETS = {"department": 0.9, "district": 0.92, "type": 0.85}


def add_arguments(parser) -> None:
    parser.add_argument("--repeat", type=int, default=5,
                        help="passes over the held-back texts for the throughput figure (default 5)")
    parser.add_argument("--train", action="store_true", help="also time training on the training split")
    parser.add_argument("--compare", action="store_true",
                        help="train each candidate classifier (naive Bayes, linear) and score it on every set")
    parser.add_argument("--blind", action="store_true",
                        help="also score the frozen blind set tests/intake/blind/blind.tsv (never trained on)")


def _percentile(values, pct):
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(round(pct / 100 * (len(values) - 1))))]


def score(extractor, examples) -> dict:
    """Accuracy per field, urgent recall/precision, needs-dispatcher share and the department confusions."""
    from ticketing.intake.dataset import accuracy

    pairs, confusions, types = [], Counter(), Counter()
    tp = fp = fn = 0
    flagged = flagged_right = auto = auto_right = 0
    for e in examples:
        p = extractor.propose(e.text, e.lang)
        pairs.append((e, {"type": p.type, "department": p.department, "district": p.district, "urgency": p.urgency}))
        if p.department != e.department:
            confusions[f"{e.department}→{p.department}"] += 1
        if p.type != e.type:
            types[f"{e.type}→{p.type}"] += 1
        tp += p.urgency == "urgent" and e.urgency == "urgent"
        fp += p.urgency == "urgent" and e.urgency != "urgent"
        fn += p.urgency != "urgent" and e.urgency == "urgent"
        if p.needs_dispatcher:
            flagged += 1
            flagged_right += p.department == e.department
        else:
            auto += 1
            auto_right += p.department == e.department
    report = accuracy(pairs)
    return {"examples": len(examples),
            **{f"{field}_accuracy": r["accuracy"] for field, r in report.items()},
            "district_named": report["district"]["total"],
            "urgent_recall": round(tp / (tp + fn), 4) if tp + fn else None,
            "urgent_precision": round(tp / (tp + fp), 4) if tp + fp else None,
            "needs_dispatcher_share": round(flagged / len(examples), 4) if examples else None,
            "auto_dispatch_department_accuracy": round(auto_right / auto, 4) if auto else None,
            "needs_dispatcher_department_accuracy": round(flagged_right / flagged, 4) if flagged else None,
            "department_confusions": dict(confusions.most_common(12)),
            "type_confusions": dict(types.most_common(8))}


def run(args):
    from ticketing.intake.dataset import split
    from ticketing.intake.extractor import Extractor
    from ticketing.intake.resources import build_extractor, held_back_sets, load_examples
    from ticketing.intake.training import KINDS, train_model

    if args.repeat < 1:
        raise SystemExit("callcenter bench intake: --repeat must be at least 1")
    started = time.perf_counter()
    extractor = build_extractor()
    extractor.propose("预热 / warm-up: 路灯坏了")  # jieba builds its prefix dictionary on first use
    load_seconds = time.perf_counter() - started
    sets = held_back_sets()
    if DEV_PATH.exists():
        sets["dev"] = load_examples(DEV_PATH)
    if DEV2_PATH.exists():
        sets["dev2"] = load_examples(DEV2_PATH)
    if DEV3_PATH.exists():
        sets["dev3"] = load_examples(DEV3_PATH)
    if getattr(args, "blind", False):
        blind = load_blind()
        if blind is None:
            raise SystemExit(f"callcenter bench intake: no blind set at {BLIND_PATH}")
        sets["blind"] = blind
    for name, examples in sets.items():
        yield {"bench": "intake", "metric": "accuracy", "split": name, "model": extractor.model_info.get("kind", "nb"),
               "load_seconds": round(load_seconds, 3), **score(extractor, examples), "targets": TARGETS}
    if getattr(args, "compare", False):
        train, _held = split(load_examples())
        blank = extractor.with_model(None)
        for kind in KINDS:
            t0 = time.perf_counter()
            candidate = extractor.with_model(train_model(blank, train, kind=kind))
            seconds = round(time.perf_counter() - t0, 1)
            for name, examples in sets.items():
                yield {"bench": "intake", "metric": "candidate", "model": kind, "split": name, "train_seconds": seconds,
                       **score(candidate, examples)}
    held = [e for name, examples in sets.items() if name not in ("dev", "dev2", "dev3", "blind") for e in examples]
    for lang in ("zh", "en"):
        texts = [e.text for e in held if e.lang == lang]
        if not texts:
            continue
        times = []
        chars = 0
        t0 = time.perf_counter()
        for _ in range(args.repeat):
            for text in texts:
                extractor.clear_cache()  # measure the whole pipeline, not a cache hit
                t = time.perf_counter()
                extractor.propose(text, lang)
                times.append(time.perf_counter() - t)
                chars += len(text)
        elapsed = time.perf_counter() - t0
        yield {"bench": "intake", "metric": "throughput", "lang": lang, "texts": len(times),
               "texts_per_s": round(len(times) / elapsed, 1), "chars_per_s": round(chars / elapsed),
               "p50_ms": round(_percentile(times, 50) * 1e3, 2), "p99_ms": round(_percentile(times, 99) * 1e3, 2)}
    if args.train:
        train, _held = split(load_examples())
        blank = Extractor(extractor.gazetteer, None, extractor.taxonomy)  # a cold analysis cache
        t0 = time.perf_counter()
        train_model(blank, train)
        yield {"bench": "intake", "metric": "train", "examples": len(train),
               "seconds": round(time.perf_counter() - t0, 3)}
