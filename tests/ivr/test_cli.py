"""`callcenter ivr check` and `callcenter ivr prompts build`, run in-process."""
from __future__ import annotations

import subprocess
import sys
import wave

class Result:
    def __init__(self, proc):
        self.out, self.err, self.code = proc.stdout, proc.stderr, proc.returncode


def cli(*args: str) -> Result:
    """Run the real entry point in a subprocess (logging set-up stays out of the test process)."""
    proc = subprocess.run([sys.executable, "-m", "callcenter.cli", *args], capture_output=True, text=True,
                          timeout=120)
    return Result(proc)

TINY = """\
name: tiny
start: hello
prompts:
  hello: {zh: 您好, en: Hello}
  look: {zh: '状态{status}', en: 'Status {status}'}
  beep: {sound: beep}
nodes:
  hello:
    kind: play
    prompt: beep
    next: menu
  menu:
    kind: menu
    prompt: hello
    options: {1: bye, 2: lookup}
    fallback: bye
  lookup:
    kind: lookup
    var: n
    prompt: look
    next: bye
    not_found: bye
  bye:
    kind: hangup
"""


def test_check_ok_for_shipped_flows():
    """Shipped flows by name check clean and exit 0."""
    r = cli("ivr", "check", "hotline", "survey", "rating")
    assert r.code == 0 and r.out.count(": ok") == 3


def test_check_prints_every_problem_and_fails(tmp_path):
    """A file with several problems prints each (file:line, error id) and exits 1."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(TINY.replace("1: bye", "1: nowhere").replace("kind: hangup", "kind: explode"), "utf-8")
    r = cli("ivr", "check", str(bad))
    assert r.code == 1
    assert "ivr.flow.missing_target" in r.err and "ivr.flow.unknown_kind" in r.err
    assert f"{bad}:24: [bye] ivr.flow.unknown_kind" in r.err  # the line of the bad kind


def test_check_missing_file_fails(tmp_path):
    """A flow file that does not exist is an error, not a crash."""
    r = cli("ivr", "check", str(tmp_path / "none.yaml"))
    assert r.code == 1 and "ivr.flow.unreadable" in r.err and "Traceback" not in r.err


def test_prompts_build_renders_8khz_mono_and_skips_unchanged(tmp_path):
    """Text prompts become 8 kHz mono 16-bit WAVs per language -- the flow's and the queue
    announcements the ACD plays; templates and sound names are not rendered; a second build renders
    nothing; a broken flow directory builds nothing."""
    from callcenter.routing.announce import prompt_entries

    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "tiny.yaml").write_text(TINY, "utf-8")
    out = tmp_path / "sounds"
    r = cli("ivr", "prompts", "build", "--flows-dir", str(flows), "--out", str(out))
    assert r.code == 0 and f"{2 + len(prompt_entries())} rendered" in r.out, r.err
    for name in ("tiny/{lang}/hello", "queue/{lang}/queue_all_busy", "queue/{lang}/queue_callback_offer"):
        for lang in ("zh", "en"):
            with wave.open(str(out / f"{name.format(lang=lang)}.wav")) as w:
                assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
    for lang in ("zh", "en"):
        with wave.open(str(out / "tiny" / lang / "hello.wav")) as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
            assert w.getnframes() > 1600  # more than 0.2 s of speech
    assert not (out / "tiny" / "zh" / "look.wav").exists()
    r = cli("ivr", "prompts", "build", "--flows-dir", str(flows), "--out", str(out))
    assert r.code == 0 and "0 rendered" in r.out
    (flows / "tiny.yaml").write_text(TINY.replace("kind: hangup", "kind: nope"), "utf-8")
    r = cli("ivr", "prompts", "build", "--flows-dir", str(flows), "--out", str(tmp_path / "o2"))
    assert r.code == 1 and "ivr.flow.unknown_kind" in r.err
    assert not (tmp_path / "o2").exists()


def test_runner_reports_prompts_missing_until_built(tmp_path):
    """A runner whose sounds directory lacks the rendered prompts lists them; after
    `prompts build` into that directory nothing is missing."""
    from twisted.internet.task import Clock

    from ivr.library import FlowLibrary
    from ivr.runner import IvrRunner

    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "tiny.yaml").write_text(TINY, "utf-8")
    runner = IvrRunner(None, FlowLibrary(flows), clock=Clock(), sounds_dir=tmp_path / "snd",
                       recordings_dir=tmp_path / "rec")
    assert sorted(p.name for p in runner.missing_prompts()) == ["hello.wav", "hello.wav"]
    assert cli("ivr", "prompts", "build", "--flows-dir", str(flows), "--out", str(tmp_path / "snd")).code == 0
    assert runner.missing_prompts() == []


def test_check_reports_an_inline_or_list_prompt_instead_of_crashing(tmp_path):
    """A node whose prompt is written inline ({zh: …}) or as a list is reported as ivr.flow.bad_field with
    its line, exit 1 — no TypeError traceback."""
    inline = tmp_path / "inline.yaml"
    inline.write_text(TINY.replace("    prompt: hello\n", "    prompt: {zh: 您好, en: Hello}\n"), "utf-8")
    listed = tmp_path / "listed.yaml"
    listed.write_text(TINY.replace("    prompt: look\n", "    prompt: [look, hello]\n"), "utf-8")
    for path, line, node in ((inline, 14, "menu"), (listed, 20, "lookup")):
        r = cli("ivr", "check", str(path))
        assert r.code == 1 and "Traceback" not in r.err and "TypeError" not in r.err, r.err
        assert f"{path}:{line}: [{node}] ivr.flow.bad_field: prompt:" in r.err, r.err
