"""Fidelity pinned to the shipped dialplan: captures of `callcenter serve` driving a real Asterisk
22.10.1 that ran docker/asterisk (tests/captures/asterisk-22.10.1, README there), replayed on the
PBX simulator running the same extensions.conf with the same test phones.

Each capture's controller connections are replayed at their recorded times (the controller's
AGI commands, Setvar/Redirect, Originates); the harness's test calls, written as notes, are placed
again at theirs.  For every channel of the call, the simulator must send the same key events in
the same order with the values that matter: the AsyncAGI arguments and each command's result line,
caller IDs, dial statuses, hang-up causes, Originate reasons and DTMF digits.
"""
from __future__ import annotations

import re
import urllib.parse
from datetime import datetime
from pathlib import Path

import pytest

from callcenter.pbxsim.captures import load, split_messages
from callcenter.pbxsim.dialplan import Dialplan
from tests.pbxsim.replay import Replay, _CHAN, _base
from tests.routing.sim import rendered_sounds

ROOT = Path(__file__).resolve().parents[2]
CAPTURES = ROOT / "tests" / "captures" / "asterisk-22.10.1"
#: the only change to the shipped dialplan besides the appended test-phones.conf (no PJSIP here)
TEST_PHONES = (
    ("Dial(PJSIP/${EXTEN},30,g)", "Dial(Local/${EXTEN}@test-phones,30,g)"),
    ("Dial(PJSIP/${EXTEN},30)", "Dial(Local/${EXTEN}@test-phones,30)"),
    ("Dial(PJSIP/${EXTEN}@citizens-trunk,45)", "Dial(Local/${EXTEN}@test-pstn,45)"),
)
#: captures with an IAX2 channel (the trunk citizen; the supervisor's phone IAX2/3001): the simulator has no
#: IAX2 driver
NOT_REPLAYED = {"h11-iax2-ring-no-answer-requeue", "h07-supervisor-listen"}
NAMES = sorted(p.stem for p in CAPTURES.glob("h*.jsonl"))


def run_dialplan() -> Dialplan:
    """docker/asterisk/extensions.conf as the real run used it."""
    text = (ROOT / "docker" / "asterisk" / "extensions.conf").read_text("utf-8")
    for shipped, test in TEST_PHONES:
        assert shipped in text, shipped
        text = text.replace(shipped, test)
    return Dialplan.parse(text + "\n" + (CAPTURES / "test-phones.conf").read_text("utf-8"))


_CITIZEN = re.compile(r"harness: the citizen (\d+) calls 12345 \((\S+) into test-citizen,keys\): keys (\S+), "
                      r"then stays (\d+) s(.*)$")
_SURVEY = re.compile(r"harness: the callbacks worker's Originate of (\d+) into hotline-survey \(WORKORDER (\d+)\)")


def harness_actions(capture) -> list[tuple[float, bytes]]:
    """The test calls the harness placed (on its own, unrecorded connection), as AMI frames."""
    out = []
    for r in capture.records:
        if r["type"] != "note":
            continue
        lines = None
        m = _CITIZEN.match(r["text"])
        if m:
            caller, chan, keys, stay, extra = m.groups()
            steps = [x.split(":", 1) for x in keys.split("|")] + [["0", ""]] * 3
            lines = []
            for n, (w, k) in enumerate(steps[:3], 1):
                lines += [f"Variable: W{n}={w}", f"Variable: K{n}={k}"]
            lines.append(f"Variable: STAY={stay}")
            lines += [f"{k}: {v}" for k, v in re.findall(r"; (Variable) (\S+)", extra)]
            lines += [f"Channel: {chan}", "Context: test-citizen", "Exten: keys", "Priority: 1",
                      f'CallerID: "Zhang San" <{caller}>', "Timeout: 30000", "Async: true"]
        m = _SURVEY.match(r["text"])
        if m:
            number, order = m.groups()
            lines = [f"Variable: WORKORDER={order}", "Variable: CALLBACK_ID=e15-1",
                     f"Channel: Local/{number}@hotline-pstn", "Context: hotline-survey", "Exten: s",
                     "Priority: 1", 'CallerID: "12345" <12345>', "Timeout: 30000", "Async: true"]
        if lines is not None:
            frame = "\r\n".join(["Action: Originate", f"ActionID: harness-{len(out)}"] + lines) + "\r\n\r\n"
            out.append((r["t"], frame.encode("utf-8")))
    return out


def capture_epoch(capture) -> float:
    """The PBX clock at the capture's t=0 (from the first EventTV)."""
    for r in capture.records:
        if r["type"] == "data" and r["dir"] == "S" and "EventTV: " in r.get("data", ""):
            tv = r["data"].split("EventTV: ", 1)[1].split("\r\n", 1)[0]
            return datetime.strptime(tv, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() - r["t"]
    raise AssertionError("no EventTV in the capture")


def story(messages) -> dict[str, list[tuple]]:
    """Per channel (named by driver, base name and order of appearance): its key events."""
    names: dict[str, str] = {}
    seen: dict[str, int] = {}

    def norm(name):
        if not name or not _CHAN.match(name):
            return name
        if name not in names:
            base = _base(name)
            seen[base] = seen.get(base, 0) + 1
            names[name] = f"{base}#{seen[base]}"
        return names[name]

    out: dict[str, list[tuple]] = {}
    for m in messages:
        d = dict(m)
        event = d.get("Event")
        chan = norm(d.get("Channel", ""))
        if event == "Newchannel":
            continue
        if event == "AsyncAGIStart":
            env = urllib.parse.unquote(d["Env"])
            arg = re.search(r"agi_arg_1: (.*)", env)
            item = (event, arg.group(1) if arg else "", d.get("CallerIDNum"))
        elif event == "AsyncAGIExec":
            line = urllib.parse.unquote(d["Result"]).strip()
            item = (event, re.sub(r" endpos=\d+", "", line))
        elif event in ("AsyncAGIEnd", "MixMonitorStart", "BridgeEnter"):
            item = (event,)
        elif event == "DialBegin":
            item = (event, norm(d.get("DestChannel", "")))
        elif event == "DialEnd":
            item = (event, norm(d.get("DestChannel", "")), d.get("DialStatus"))
        elif event == "Hangup":
            item = (event, d.get("Cause"))
        elif event == "OriginateResponse":
            item = (event, d.get("Response"), d.get("Reason"))
        elif event == "DTMFEnd":
            item = (event, d.get("Digit"), d.get("Direction"))
        else:
            continue
        out.setdefault(chan or "-", []).append(item)
    return out


def played_lengths(capture) -> dict[str, float]:
    """Each sound's length as Asterisk played it to the end (``STREAM FILE`` ``result=0 endpos=N``, 8 kHz):
    the replay plays the prompts the real run had, whatever the flows say today."""
    commands, lengths = {}, {}
    for conn in capture.connections():
        for m in split_messages(capture.wire_bytes(conn, "C")):
            d = dict(m)
            if d.get("Action") == "AGI" and d.get("Command", "").startswith("STREAM FILE "):
                commands[d["CommandID"]] = d["Command"][len("STREAM FILE "):].rsplit(" ", 1)[0]
        for m in capture.server_messages(conn):
            d = dict(m)
            if d.get("Event") == "AsyncAGIExec" and d.get("CommandId") in commands:
                found = re.match(r"200 result=0 endpos=(\d+)", urllib.parse.unquote(d["Result"]))
                if found:
                    lengths[commands[d["CommandId"]]] = int(found.group(1)) / 8000
    return lengths


@pytest.fixture(scope="module")
def replays(tmp_path_factory):
    cache = {}

    def get(name):
        if name not in cache:
            cap = load(CAPTURES / f"{name}.jsonl")
            replay = Replay(cap, spool_dir=tmp_path_factory.mktemp(name), dialplan=run_dialplan(),
                            sounds_dir=rendered_sounds(), epoch=capture_epoch(cap), helper=harness_actions(cap))
            replay.sim.prompt_seconds = {**replay.sim.prompt_seconds, **played_lengths(cap)}
            cache[name] = (cap, replay.run(tail=0.05))   # nothing after the capture ended can be compared
        return cache[name]

    return get


def test_the_captures_ran_the_shipped_dialplan_with_only_the_test_phones_changed():
    plan = run_dialplan()
    assert {"hotline-in", "hotline-connect", "hotline-transfer", "hotline-survey", "hotline-pstn",
            "hotline-agents", "test-phones", "test-pstn", "test-citizen"} <= set(plan.contexts)
    assert NAMES == ["h01-ivr-queue-agent", "h02-ring-no-answer-requeue", "h03-abandon-during-announcements",
                     "h04-callback-offer", "h05-status-lookup", "h06-desk-transfer", "h07-supervisor-listen",
                     "h08-survey-answered", "h09-survey-no-answer", "h10-survey-busy",
                     "h11-iax2-ring-no-answer-requeue", "h12-after-hours-message"]
    for name in NAMES:
        meta = load(CAPTURES / f"{name}.jsonl").meta
        assert meta["asterisk_version"].startswith("Asterisk 22.10.1 built by")
        assert meta["format"] == "ami-capture/1"


@pytest.mark.parametrize("name", [n for n in NAMES if n not in NOT_REPLAYED])
def test_simulator_replays_the_real_asterisk_hotline_capture(name, replays):
    cap, out = replays(name)
    controller = max(cap.connections(), key=lambda c: len(cap.server_messages(c)))
    want = story(cap.server_messages(controller))
    got = story(out[controller])
    assert set(got) == set(want), (sorted(got), sorted(want))
    for channel in want:
        assert got[channel] == want[channel], channel


def test_supervisor_listen_capture_matches_apart_from_the_iax2_phone(replays):
    """h07: the supervisor's phone is IAX2/3001 (no IAX2 in the simulator), so its ChanSpy leg is left
    out; the citizen's and the agent's channels tell the same story as on Asterisk."""
    cap, out = replays("h07-supervisor-listen")
    controller = max(cap.connections(), key=lambda c: len(cap.server_messages(c)))
    want = {k: v for k, v in story(cap.server_messages(controller)).items() if not k.startswith(("IAX2", "-"))}
    got = {k: v for k, v in story(out[controller]).items() if not k.startswith(("IAX2", "-"))}
    assert set(got) == set(want) and len(want) >= 4
    for channel in want:
        assert got[channel] == want[channel], channel
