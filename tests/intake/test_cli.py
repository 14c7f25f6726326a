"""`callcenter intake`: text and WAV input, eval on a labeled TSV, train with corrections; `bench intake`."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from datetime import datetime, timezone

from callcenter.cli import build_parser
from callcenter.config import load_config
from tests.conftest import SHARED

HEADER = "id\tlang\ttext\ttype\tdepartment\tdistrict\turgency\n"


def _run(capsys, *argv):
    """The command in-process (as `main` runs it, minus installing log handlers on captured streams)."""
    args = build_parser().parse_args(["intake", *argv])
    args.cfg = load_config(None, environ={})
    code = args.func(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_text_json_entry_point():
    """The installed entry point prints the proposal as JSON."""
    out = subprocess.run(
        [sys.executable, "-m", "callcenter.cli", "intake", "--json", "--text",
         "喂，江北区孔浦街道我们小区停水了，一滴水都没有，麻烦派人来看看"],
        capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert (data["department"], data["district"], data["type"]) == ("water", "jiangbei", "help")
    assert data["address"]["subdistrict"] == "孔浦街道"
    assert set(data["confidence"]) >= {"type", "department", "district", "urgency", "category", "address"}


def test_text_output_is_bilingual(capsys):
    """Human output labels every field in Chinese and English."""
    code, out, _ = _run(capsys, "--text", "我要举报有人在河里电鱼，余姚市牟山镇的")
    assert code == 0
    assert "承办单位 / department" in out and "agriculture" in out and "yuyao" in out


def test_synthetic_call_references_propose_the_right_department(capsys):
    """The reference texts of the shared synthetic hotline recordings (what a Chinese/English model would
    hear) are routed to the departments a dispatcher would choose."""
    refs = {}
    for line in (SHARED / "audio" / "REFERENCES.tsv").read_text("utf-8").splitlines()[1:]:
        cols = line.split("\t")
        if cols[0].startswith("synthetic/"):
            refs[cols[0].split("/")[1].rsplit("_", 1)[0]] = cols[5]
    expected = {"synth_zh_streetlight": "urban-management", "synth_en_streetlight": "urban-management",
                "synth_en_water": "water", "synth_zh_noise": "housing"}
    for name, department in expected.items():
        code, out, _ = _run(capsys, "--json", "--text", refs[name])
        assert code == 0 and json.loads(out)["department"] == department, (name, out)


def test_bad_wav_and_missing_input_are_clear_errors(capsys, tmp_path):
    """Not a WAV, a missing file, or no input at all: exit 2 with a message saying what is wrong."""
    fake = tmp_path / "call.wav"
    fake.write_text("not audio", encoding="utf-8")
    code, out, _ = _run(capsys, str(fake), "--json")
    assert code == 2 and json.loads(out)["error_id"].startswith("asr.")
    code, _, err = _run(capsys, str(tmp_path / "missing.wav"))
    assert code == 2 and "missing.wav" in err
    code, _, err = _run(capsys)
    assert code == 2 and "--text" in err
    code, out, _ = _run(capsys, "--json", "--text", "   ")
    assert code == 2 and json.loads(out)["error_id"] == "intake.invalid_text"


def test_eval_prints_accuracy_per_field(capsys, tmp_path):
    """`intake eval FILE.tsv` reports type/department/district/urgency accuracy; district only where named."""
    tsv = tmp_path / "small.tsv"
    tsv.write_text(HEADER
                   + "a1\tzh\t喂，海曙区西门街道我们楼道里有很浓的煤气味，快派人来\thelp\tgas\thaishu\turgent\n"
                   + "a2\tzh\t请问一下社保卡丢了怎么补办\tconsultation\thuman-resources\t\tnormal\n"
                   + "a3\ten\tI want to complain about a taxi driver who refused to take me to Beilun\tcomplaint"
                     "\ttransport\tbeilun\tnormal\n"
                   + "a4\tzh\t我要表扬宁波市第二医院急诊科的医生\tpraise\thealth\thaishu\turgent\n", encoding="utf-8")
    code, out, _ = _run(capsys, "eval", str(tsv), "--json")
    assert code == 0
    fields = json.loads(out)["fields"]
    assert fields["department"] == {"correct": 4, "total": 4, "accuracy": 1.0}
    assert fields["district"]["total"] == 3
    assert fields["urgency"] == {"correct": 3, "total": 4, "accuracy": 0.75}
    code, out, _ = _run(capsys, "eval", str(tsv))
    assert code == 0 and "department" in out and "100.0%" in out and "(3/4)" in out


def test_eval_misses_lists_exactly_the_rows_a_field_is_wrong_on(capsys, tmp_path):
    """`intake eval FILE.tsv --misses urgency` lists each row whose urgency is wrong, with expected and got,
    and nothing for rows that are right; an unknown field is refused with exit code 2."""
    tsv = tmp_path / "small.tsv"
    tsv.write_text(HEADER
                   + "m1\tzh\t请问一下社保卡丢了怎么补办\tconsultation\thuman-resources\t\tnormal\n"
                   + "m2\tzh\t请问一下社保卡丢了怎么补办呢\tconsultation\thuman-resources\t\turgent\n", encoding="utf-8")
    code, out, _ = _run(capsys, "eval", str(tsv), "--misses", "urgency", "--json")
    assert code == 0
    report = json.loads(out)
    assert [m["id"] for m in report["misses"]] == ["m2"]
    assert report["misses"][0]["wrong"] == {"urgency": {"expected": "urgent", "got": "normal"}}
    assert report["urgent_recall"] == 0.0
    code, out, _ = _run(capsys, "eval", str(tsv), "--misses", "urgency")
    assert code == 0 and "m2\turgency:urgent→normal" in out and "m1\t" not in out
    code, _, err = _run(capsys, "eval", str(tsv), "--misses", "colour")
    assert code == 2 and "colour" in err


def test_eval_refuses_a_malformed_tsv(capsys, tmp_path):
    """An unknown department or a missing column is reported with the line; nothing is evaluated."""
    bad = tmp_path / "bad.tsv"
    bad.write_text(HEADER + "b1\tzh\t路灯坏了\thelp\tstreet-lights\t\tnormal\n", encoding="utf-8")
    code, _, err = _run(capsys, "eval", str(bad))
    assert code == 2 and "line 2" in err and "department" in err
    short = tmp_path / "short.tsv"
    short.write_text("id\ttext\nb1\t路灯坏了\n", encoding="utf-8")
    code, _, err = _run(capsys, "eval", str(short))
    assert code == 2 and "missing columns" in err


def test_train_uses_database_and_tsv_corrections(capsys, tmp_path, sqlite_url):
    """`intake train` adds corrections from the database and an --extra TSV, writes the model and reports the
    held-back accuracy; held-back texts are never used even if a correction names one."""
    from ticketing.intake.corrections import record_correction
    from ticketing.intake.resources import load_examples, load_model
    from ticketing.intake.dataset import split

    _train, held = split(load_examples())
    now = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
    record_correction("小区门口的共享单车堆成山了", "department", "urban-management", url=sqlite_url, now=now)
    record_correction(held[0].text, "department", "tax", url=sqlite_url, now=now)
    extra = tmp_path / "corrections.tsv"
    extra.write_text("text\tfield\tvalue\n楼上空调外机滴水滴到我家阳台\tdepartment\tsubdistrict-office\n", "utf-8")
    out_path = tmp_path / "model.json"
    code, out, err = _run(capsys, "train", "--db-url", sqlite_url, "--extra", str(extra),
                          "--output", str(out_path), "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["corrections_from_db"] == 2
    assert summary["corrections"] == 2  # the held-back text was dropped
    assert summary["held_back_accuracy"]["department"] >= 0.9
    model = load_model(out_path)
    assert model["meta"]["corrections_used"]["department"] == 2


def test_train_refuses_an_unmigrated_database(capsys, tmp_path):
    """Training against a database without the corrections table says how to fix it."""
    code, _, err = _run(capsys, "train", "--db-url", f"sqlite:///{tmp_path / 'none.sqlite3'}",
                        "--output", str(tmp_path / "m.json"))
    assert code == 2 and "db upgrade" in err


def test_bench_reports_throughput_and_held_back_accuracy():
    """`bench intake` yields accuracy per field on the held-back split and texts/s per language."""
    from callcenter.bench import intake as bench

    records = list(bench.run(argparse.Namespace(repeat=1, train=False)))
    accuracy = next(r for r in records if r["metric"] == "accuracy")
    assert accuracy["department_accuracy"] >= 0.9 and accuracy["type_accuracy"] >= 0.85
    splits = {r["split"] for r in records if r["metric"] == "accuracy"}
    assert {"hand-written", "synthetic", "written"} <= splits
    assert ("dev" in splits) == bench.DEV_PATH.exists() and "blind" not in splits
    assert ("dev3" in splits) == bench.DEV3_PATH.exists()
    from ticketing.intake.resources import SOURCES

    assert {name for name, (path, _required) in SOURCES.items() if path.exists()} <= splits   # held back per source
    speeds = {r["lang"]: r["texts_per_s"] for r in records if r["metric"] == "throughput"}
    assert set(speeds) == {"zh", "en"} and min(speeds.values()) > 5
