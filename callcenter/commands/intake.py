"""`callcenter intake`: propose work-order fields from text or a recording,
train the intake model, and measure it on a labeled TSV.

    callcenter intake --text TEXT [--json]
    callcenter intake FILE.wav [--json] [--model NAME_OR_DIR]
    callcenter intake eval FILE.tsv [--json] [--misses [FIELDS]]
    callcenter intake train [--extra FILE.tsv] [--db-url URL | --no-db] [--output PATH]
    callcenter intake retrain [--db-url URL] [--output PATH] [--json]
"""
from __future__ import annotations

import json
import sys
import time

USAGE = ("callcenter intake (--text TEXT | FILE.wav) [--json] | intake eval FILE.tsv [--misses [FIELDS]] | "
         "intake train [--extra FILE.tsv] | intake retrain [--db-url URL] [--output PATH]")


def register(sub) -> None:
    parser = sub.add_parser("intake", help="propose work-order fields from speech or text / 语音或文本生成工单草稿",
                            usage=USAGE)
    parser.add_argument("target", nargs="*", metavar="FILE.wav | eval FILE.tsv | train",
                        help="a WAV recording, or `eval FILE.tsv`, or `train`")
    parser.add_argument("--text", help="the caller's request as text / 来电内容文本")
    parser.add_argument("--lang", choices=("zh", "en"), help="language of the text (detected when omitted)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--model", help="speech model name or directory for FILE.wav")
    parser.add_argument("--intake-model", help="intake model file (default: the shipped one)")
    parser.add_argument("--extra", action="append", default=[], metavar="FILE.tsv",
                        help="train: extra rows, labeled (id, lang, text, type, department, district, urgency) "
                             "or corrections (text, field, value)")
    parser.add_argument("--db-url", help="train: database with recorded corrections (default: database.url)")
    parser.add_argument("--no-db", action="store_true", help="train: ignore corrections in the database")
    parser.add_argument("--output", help="train: where to write the model (default: [intake] model_path, "
                                         "else the shipped model file)")
    parser.add_argument("--misses", nargs="?", const="type,department,district,urgency", default=None,
                        metavar="FIELDS",
                        help="eval: also list every row a field is wrong on (comma-separated fields; default all four)")
    parser.add_argument("--kind", choices=("linear", "nb"), default="linear",
                        help="train: linear (logistic regression, calibrated; the default) or nb (naive Bayes)")
    parser.set_defaults(func=_run)


def _fail(message: str, error_id: str = "intake.usage", details: dict | None = None, as_json: bool = False) -> int:
    if as_json:
        print(json.dumps({"error_id": error_id, "message": message, "details": details or {}}, ensure_ascii=False))
    else:
        print(f"callcenter intake: {message}", file=sys.stderr)
    return 2


def _run(args) -> int:
    from ticketing.domain.errors import TaxonomyError
    from ticketing.intake.errors import IntakeError

    target = list(args.target)
    try:
        if target and target[0] == "eval":
            if len(target) != 2 or args.text:
                return _fail("用法 / usage: callcenter intake eval FILE.tsv", as_json=args.json)
            return _eval(args, target[1])
        if target and target[0] == "retrain":
            if len(target) != 1 or args.text:
                return _fail("用法 / usage: callcenter intake retrain [--db-url URL] [--output PATH]", as_json=args.json)
            return _retrain(args)
        if target and target[0] == "train":
            if len(target) != 1 or args.text:
                return _fail("用法 / usage: callcenter intake train [--extra FILE.tsv]", as_json=args.json)
            return _train(args)
        if args.text is not None and not target:
            return _propose(args, args.text, None)
        if len(target) == 1 and args.text is None:
            return _from_audio(args, target[0])
        return _fail(f"需要 --text 或一个 WAV 文件 / give --text TEXT or one FILE.wav ({USAGE})", as_json=args.json)
    except (IntakeError, TaxonomyError) as exc:  # a bad sla.taxonomy_dir is reported like bad input
        return _fail(exc.message, exc.error_id, exc.details, args.json)


def _model_path(args) -> str | None:
    """--intake-model, else [intake] model_path, else the shipped model."""
    return args.intake_model or args.cfg.get("intake.model_path") or None


def _taxonomy(args):
    """The deployment's taxonomy (``sla.taxonomy_dir``), the one the work-order service uses."""
    from ticketing.taxonomy import from_config

    return from_config(args.cfg)


def _extractor(args):
    from ticketing.intake.resources import default_extractor

    return default_extractor(_model_path(args), _taxonomy(args))


def _propose(args, text: str, transcript) -> int:
    proposal = _extractor(args).propose(text, args.lang)
    if args.json:
        out = proposal.as_dict()
        if transcript is not None:
            out["transcript"] = {"text": transcript.text, "duration": round(transcript.duration, 3),
                                 "model": transcript.model, "language": transcript.language}
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    c = proposal.confidence
    a = proposal.address
    lines = [
        ("语言 / lang", proposal.lang, c["lang"]),
        ("类型 / type", proposal.type, c["type"]),
        ("分类 / category", proposal.category or "-", c["category"]),
        ("承办单位 / department", proposal.department or "-", c["department"]),
        ("区县 / district", proposal.district or "-", c["district"]),
        ("地址 / address", a.text or "-", c["address"]),
        ("紧急程度 / urgency", proposal.urgency, c["urgency"]),
        ("诉求摘要 / summary", proposal.summary, c["summary"]),
    ]
    if transcript is not None:
        print(f"转写 / transcript: {transcript.text}")
    for label, value, conf in lines:
        print(f"{label:<24} {value}  ({conf:.2f})")
    for r in proposal.repairs:
        print(f"纠正 / repaired: {r.heard} → {r.term}")
    return 0


def _from_audio(args, path: str) -> int:
    try:
        from callcenter.asr import AsrError, transcribe_file
    except ImportError:
        return _fail("语音识别不可用 / speech recognition (callcenter.asr) is not installed", "intake.no_asr",
                     as_json=args.json)
    try:
        transcript = transcribe_file(path, args.model)
    except AsrError as exc:
        return _fail(str(exc), exc.error_id, {k: str(v) for k, v in exc.details.items()}, args.json)
    if not transcript.text.strip():
        return _fail("录音中没有识别出语音 / no speech recognised in the recording", "intake.no_speech",
                     {"path": path}, args.json)
    if transcript.language and transcript.language not in ("zh", "en"):
        return _fail(f"语音模型识别的是 {transcript.language}，工单草稿需要中文或英文模型（callcenter models install "
                     f"vosk-model-small-cn-0.22）/ the speech model recognises {transcript.language!r}; intake needs a "
                     "Chinese or English model (callcenter models install vosk-model-small-cn-0.22)",
                     "intake.unsupported_language", {"language": transcript.language, "model": transcript.model},
                     args.json)
    lang = transcript.language if transcript.language in ("zh", "en") else None
    if args.lang is None and lang is not None:
        args.lang = lang
    return _propose(args, transcript.text, transcript)


def _eval(args, path: str) -> int:
    from callcenter.bench.intake import score
    from ticketing.intake.dataset import EVAL_FIELDS
    from ticketing.intake.resources import load_examples
    from ticketing.intake.training import evaluate

    fields = None
    if args.misses is not None:
        fields = [f.strip() for f in args.misses.split(",") if f.strip()]
        unknown = [f for f in fields if f not in EVAL_FIELDS]
        if unknown or not fields:
            return _fail(f"--misses: 未知字段 / unknown fields {unknown}; allowed: {', '.join(EVAL_FIELDS)}",
                         as_json=args.json, details={"unknown": unknown, "allowed": list(EVAL_FIELDS)})
    examples = load_examples(path)
    extractor = _extractor(args)
    started = time.perf_counter()
    report = evaluate(extractor, examples)
    elapsed = time.perf_counter() - started
    figures = score(extractor, examples)
    urgent = {k: figures[k] for k in ("urgent_recall", "urgent_precision", "needs_dispatcher_share",
                                      "auto_dispatch_department_accuracy")}
    misses = []
    if fields:
        for e in examples:
            p = extractor.propose(e.text, e.lang)
            got = {"type": p.type, "department": p.department, "district": p.district, "urgency": p.urgency}
            wrong = {f: {"expected": e.label(f), "got": got[f]} for f in fields
                     if got[f] != e.label(f) and not (f == "district" and e.district is None)}
            if wrong:
                misses.append({"id": e.id, "text": e.text, "wrong": wrong,
                               "confidence": {f: p.confidence.get(f) for f in wrong}})
    if args.json:
        out = {"file": path, "examples": len(examples), "seconds": round(elapsed, 3), "fields": report, **urgent,
               "department_confusions": figures["department_confusions"], "type_confusions": figures["type_confusions"]}
        if fields:
            out["misses"] = misses
        print(json.dumps(out, ensure_ascii=False))
        return 0
    print(f"{path}: {len(examples)} 条 / examples, {elapsed:.2f} s")
    for field, r in report.items():
        acc = "n/a" if r["accuracy"] is None else f"{100 * r['accuracy']:.1f}%"
        print(f"  {field:<12} {acc:>7}  ({r['correct']}/{r['total']})")
    pct = lambda v: "n/a" if v is None else f"{100 * v:.1f}%"  # noqa: E731
    print(f"  紧急 / urgent recall {pct(urgent['urgent_recall'])}, precision {pct(urgent['urgent_precision'])}; "
          f"needs dispatcher {pct(urgent['needs_dispatcher_share'])} "
          f"(auto-dispatched right {pct(urgent['auto_dispatch_department_accuracy'])})")
    if figures["department_confusions"]:
        print("  部门混淆 / department confusions: " + ", ".join(f"{k} {v}" for k, v in figures["department_confusions"].items()))
    if figures["type_confusions"]:
        print("  类型混淆 / type confusions: " + ", ".join(f"{k} {v}" for k, v in figures["type_confusions"].items()))
    if fields:
        print(f"  错例 / misses ({len(misses)}):")
        for m in misses:
            wrong = " ".join(f"{f}:{w['expected']}→{w['got']}" for f, w in m["wrong"].items())
            print(f"  {m['id']}\t{wrong}\t{m['text']}")
    return 0


def _train(args) -> int:
    from callcenter.db import default_url
    from ticketing.intake.corrections import load_corrections, read_corrections_tsv
    from ticketing.intake.dataset import examples_from_rows, split
    from ticketing.intake.resources import (MODEL_PATH, default_extractor, load_examples, read_tsv, reset_default,
                                            save_model)
    from ticketing.intake.normalize import clean
    from ticketing.intake.training import evaluate, train_model

    taxonomy = _taxonomy(args)
    train, held = split(load_examples())
    corrections = []
    for path in args.extra:
        header = read_tsv(path)
        if header and "field" in header[0] and "value" in header[0]:
            corrections += read_corrections_tsv(path, list(taxonomy.categories), list(taxonomy.departments))
        else:
            extra = examples_from_rows(header)
            train += [e for e in extra if clean(e.text) not in {clean(h.text) for h in held}]
    from_db = 0
    if not args.no_db:
        db_corrections = load_corrections(args.db_url or default_url(args.cfg))
        from_db = len(db_corrections)
        corrections = db_corrections + corrections
    held_texts = {clean(e.text) for e in held}
    corrections = [c for c in corrections if clean(c.text) not in held_texts]  # never train on the held-back split
    blank = default_extractor(taxonomy=taxonomy).with_model(None)  # the gazetteer and taxonomy, loaded once
    model = train_model(blank, train, corrections, kind=args.kind)
    path = save_model(model, args.output or _model_path(args) or MODEL_PATH)
    reset_default(path)
    from ticketing.intake.resources import held_back_sets

    sets = held_back_sets()
    trained = blank.with_model(model)
    report = evaluate(trained, sets["hand-written"])
    synthetic = evaluate(trained, sets["synthetic"])
    by_source = {"hand-written": report, "synthetic": synthetic}
    by_source.update({name: evaluate(trained, examples) for name, examples in sets.items() if name not in by_source})
    summary = {"model": str(path), "kind": args.kind, "examples": len(train), "corrections": len(corrections),
               "corrections_from_db": from_db, "held_back": len(sets["hand-written"]),
               "held_back_accuracy": {f: r["accuracy"] for f, r in report.items()},
               "held_back_synthetic": len(sets["synthetic"]),
               "held_back_synthetic_accuracy": {f: r["accuracy"] for f, r in synthetic.items()},
               "held_back_by_source": {name: {f: r["accuracy"] for f, r in rep.items()} for name, rep in by_source.items()}}
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print(f"模型已写入 / model written: {path}")
        print(f"  训练样本 / training rows: {len(train)}, 更正 / corrections: {len(corrections)} (数据库 / db: {from_db})")
        for name, rep in ((f"留出集 / held-back ({source})", rep) for source, rep in by_source.items()):
            for field, r in rep.items():
                print(f"  {name} {field:<12} {100 * (r['accuracy'] or 0):.1f}% ({r['correct']}/{r['total']})")
    return 0


def _retrain(args) -> int:
    """Learning from the floor once: corrections (agents' edits, accepted returns) → candidate →
    promoted to --output (default [intake] model_path, else retrain_model_path) only if no worse
    on the gate set (the blind set when present)."""
    from callcenter.db import default_url, make_engine
    from ticketing.intake.corrections import CorrectionStore
    from ticketing.intake.resources import default_extractor, reset_default
    from ticketing.intake.retrain import corrections_from_returns, retrain

    taxonomy = _taxonomy(args)
    path = args.output or args.cfg.get("intake.model_path") or args.cfg.get("intake.retrain_model_path")
    if not path:
        return _fail("需要 --output / give --output PATH", as_json=args.json)
    engine = make_engine(args.db_url or default_url(args.cfg))
    try:
        from sqlalchemy import inspect

        if not inspect(engine).has_table("intake_correction"):
            return _fail("数据库中没有更正表，请先运行 `callcenter db upgrade` / no intake_correction table: run "
                         "`callcenter db upgrade`", "intake.data_error", as_json=args.json)
        corrections = CorrectionStore(engine, categories=()).all()
        if inspect(engine).has_table("work_order_history"):
            corrections += corrections_from_returns(engine, departments=list(taxonomy.departments))
    finally:
        engine.dispose()
    from pathlib import Path

    current = default_extractor(path if Path(path).exists() else _model_path(args), taxonomy)
    result = retrain(current, corrections, model_path=path)
    if result.promoted:
        reset_default(path)
    if args.json:
        print(json.dumps(result.as_dict(), ensure_ascii=False))
    else:
        verdict = "已替换 / promoted" if result.promoted else "保留当前模型 / kept the current model (candidate worse)"
        print(f"{verdict}: gate {result.gate}, corrections {result.corrections}")
        print(f"  candidate {result.candidate}")
        print(f"  current   {result.current}")
    return 0
