"""Intake: proposals per second and accuracy per field on the held-back split."""
from __future__ import annotations

import time


def add_arguments(parser) -> None:
    parser.add_argument("--repeat", type=int, default=5,
                        help="passes over the held-back texts for the throughput figure (default 5)")
    parser.add_argument("--train", action="store_true", help="also time training on the training split")


def _percentile(values, pct):
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(round(pct / 100 * (len(values) - 1))))]


def run(args):
    from ticketing.intake.dataset import split
    from ticketing.intake.extractor import Extractor
    from ticketing.intake.resources import build_extractor, load_examples
    from ticketing.intake.training import evaluate, train_model

    if args.repeat < 1:
        raise SystemExit("callcenter bench intake: --repeat must be at least 1")
    started = time.perf_counter()
    extractor = build_extractor()
    extractor.propose("预热 / warm-up: 路灯坏了")  # jieba builds its prefix dictionary on first use
    load_seconds = time.perf_counter() - started
    train, held = split(load_examples())
    report = evaluate(extractor, held)
    yield {"bench": "intake", "metric": "accuracy", "split": "held-back", "examples": len(held),
           "load_seconds": round(load_seconds, 3),
           **{f"{field}_accuracy": r["accuracy"] for field, r in report.items()},
           "district_named": report["district"]["total"],
           "targets": {"department": 0.9, "district": 0.9, "type": 0.85}}
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
        blank = Extractor(extractor.gazetteer, None, extractor.taxonomy)  # a cold analysis cache
        t0 = time.perf_counter()
        train_model(blank, train)
        yield {"bench": "intake", "metric": "train", "examples": len(train),
               "seconds": round(time.perf_counter() - t0, 3)}
