"""The runner over the real AMI client, against Asterisk's recorded bytes (capture 10).

The client talks to a StringTransport; every AGI action it writes is answered
with the frames Asterisk sent for the same command in capture 10 (ActionID and
CommandId rewritten to the ones we used), so the runner sees exactly what a
real Asterisk 22 says: AGIExecStart/End, DTMF events, URL-encoded results,
``AsyncAGIEnd``, the missing-channel error.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from callcenter.ami.client import AMIClient, AMIFactory
from callcenter.ami.message import parse_message
from ivr.flow import parse_flow
from ivr.library import FlowLibrary
from ivr.runner import IvrRunner
from tests.ami.captures import CAPTURES, load, record_bytes

CHANNEL = "Local/100@hotline-in-00000006;2"

FLOW = """\
name: capture
start: number
on_error: bye
prompts:
  enter: {sound: vm-enter-num-to-call}
  beep: {sound: beep}
nodes:
  number:
    kind: collect
    prompt: enter
    var: n
    pattern: '\\d{1,4}'
    max_digits: 4
    timeout: 8
    retries: 0
    next: bye
    fallback: bye
  bye:
    kind: hangup
    prompt: beep
"""


def _frames(records):
    return [(r, record_bytes(r)) for r in records if r["type"] == "data" and r["conn"] == 1]


class Capture10:
    """Asterisk's side of capture 10, indexed by AGI command."""

    def __init__(self):
        meta, records = load(CAPTURES / "10-asyncagi-ivr.jsonl")
        frames = _frames(records)
        self.greeting = frames[0][1]
        self.exchanges: dict[str, list[bytes]] = {}
        self.start_frame = next(b for r, b in frames if b.startswith(b"Event: AsyncAGIStart"))
        self.hangup_frame = next(b for r, b in frames
                                 if b.startswith(b"Event: Hangup\r\n") and CHANNEL.encode() in b)
        self.agi_end_frame = next(b for r, b in frames if b.startswith(b"Event: AsyncAGIEnd"))
        for i, (r, data) in enumerate(frames):
            if r["dir"] != "C" or not data.startswith(b"Action: AGI\r\n"):
                continue
            action = parse_message(data[:-4])
            command, action_id, command_id = action["Command"], action["ActionID"], action["CommandID"]
            answer = []
            for r2, data2 in frames[i + 1:]:
                if r2["dir"] == "C":
                    break
                answer.append(data2)
                if b"CommandId: " + command_id.encode() + b"\r\n" in data2 and data2.startswith(b"Event: AsyncAGIExec"):
                    if command != "ASYNCAGI BREAK":
                        break
            # only frames about this command: its response, and events up to its AsyncAGIExec (+ AsyncAGIEnd)
            self.exchanges[command] = [(action_id, command_id, answer)]

    def answer(self, command: str, action_id: str, command_id: str) -> bytes:
        key = command if command in self.exchanges else next(
            (k for k in self.exchanges if k.split()[:2] == command.split()[:2]), None)
        assert key is not None, f"capture 10 has no exchange like {command!r}"
        old_action, old_command, frames = self.exchanges[key][0]
        out = b""
        for frame in frames:
            frame = frame.replace(f"ActionID: {old_action}\r\n".encode(), f"ActionID: {action_id}\r\n".encode())
            frame = frame.replace(f"CommandId: {old_command}\r\n".encode(), f"CommandId: {command_id}\r\n".encode())
            frame = frame.replace(f"Command: {key}\r\n".encode(), f"Command: {command}\r\n".encode())
            out += frame
        return out


class Harness:
    """A logged-in AMIClient on a StringTransport, and the runner under test."""

    def __init__(self, tmp_path: Path, **runner_kw):
        self.capture = Capture10()
        self.clock = Clock()
        self.clock.advance(1795421328)
        self.client = AMIClient(None, "hotline", "hotline-secret", clock=self.clock, auth="plain", resync=False,
                                ping_interval=None)
        self.transport = StringTransport()
        self.proto = AMIFactory(self.client).buildProtocol(None)
        self.proto.makeConnection(self.transport)
        self.proto.dataReceived(self.capture.greeting)
        login = self.written()
        assert login[0]["Action"] == "Login"
        self.proto.dataReceived(f"Response: Success\r\nActionID: {login[0]['ActionID']}\r\n"
                                f"Message: Authentication accepted\r\n\r\n".encode())
        assert self.client.ready
        flows = tmp_path / "flows"
        flows.mkdir()
        (flows / "capture.yaml").write_text(FLOW, "utf-8")
        parse_flow(FLOW)  # fail early if the test flow itself is wrong
        self.outcomes, self.finished, self.commands = [], [], []
        kw = dict(clock=self.clock, sounds_dir=tmp_path / "snd", recordings_dir=tmp_path / "rec",
                  on_finished=self.finished.append)
        kw.update(runner_kw)
        self.runner = IvrRunner(self.client, FlowLibrary(flows, aliases={"ivr-main": "capture"}), **kw)
        self.runner.start()

    def written(self) -> list:
        data = self.transport.value()
        self.transport.clear()
        return [parse_message(chunk) for chunk in data.split(b"\r\n\r\n") if chunk]

    def pump(self, replies=None, stop_after: int | None = None) -> None:
        """Answer written AGI actions from the capture until the client goes quiet."""
        replies = replies or {}
        while True:
            actions = self.written()
            if not actions:
                return
            for action in actions:
                assert action["Action"] == "AGI" and action["Channel"] == CHANNEL
                command = action["Command"]
                self.commands.append(command)
                if stop_after is not None and len(self.commands) >= stop_after:
                    return
                reply = replies.get(command.split()[0])
                data = reply(action) if reply else self.capture.answer(command, action["ActionID"],
                                                                         action["CommandID"])
                self.proto.dataReceived(data)


def test_capture_commands_and_results(tmp_path):
    """AsyncAGIStart (URL-encoded Env) starts a session; the runner writes the same AGI commands as
    the capture (GET DATA, STREAM FILE, SET VARIABLE IVR_ACTION hangup, ASYNCAGI BREAK), reads the
    caller's ``12#`` from the URL-encoded result, and records the path; no session is left behind."""
    h = Harness(tmp_path)
    h.proto.dataReceived(h.capture.start_frame)
    assert CHANNEL in h.runner.sessions
    h.pump()
    assert h.commands == [
        "GET DATA vm-enter-num-to-call 8000 4",
        'STREAM FILE beep ""',
        'SET VARIABLE IVR_PATH "number:12>bye"',
        "SET VARIABLE IVR_ACTION hangup",
        "ASYNCAGI BREAK",
    ]
    assert h.runner.sessions == {}
    (call,) = h.finished
    assert call.caller == "13900000001" and call.masked_caller == "139****0001"
    assert call.uniqueid == "1795421328.13" and call.outcome == "hangup" and call.vars["n"] == "12"
    assert [(p["node"], p["keys"]) for p in call.path] == [("number", "12"), ("bye", "")]


def test_capture_client_bytes_match_asterisk_format(tmp_path):
    """The bytes of our GET DATA action are the capture's, apart from the two ids we choose."""
    h = Harness(tmp_path)
    h.proto.dataReceived(h.capture.start_frame)
    raw = h.transport.value()
    meta, records = load(CAPTURES / "10-asyncagi-ivr.jsonl")
    recorded = next(record_bytes(r) for r in records
                    if r["type"] == "data" and r["dir"] == "C" and b"GET DATA" in record_bytes(r))
    ours = parse_message(raw[:-4])
    expected = recorded.replace(b"ActionID: a1-7", f"ActionID: {ours['ActionID']}".encode()).replace(
        b"CommandID: ivr-5", f"CommandID: {ours['CommandID']}".encode())
    assert raw == expected


def test_unknown_agi_argument_is_left_alone(tmp_path):
    """An AsyncAGIStart for another service's AGI (e.g. requeue) starts no session and writes nothing."""
    h = Harness(tmp_path)
    h.proto.dataReceived(h.capture.start_frame.replace(b"agi_arg_1%3A%20ivr-main", b"agi_arg_1%3A%20requeue"))
    assert h.runner.sessions == {} and h.transport.value() == b""


def test_hangup_mid_flow_ends_session(tmp_path):
    """The caller hangs up while GET DATA waits: the pending command fails, the session ends as
    caller_hangup with its path, nothing else is written."""
    h = Harness(tmp_path)
    h.proto.dataReceived(h.capture.start_frame)
    assert h.written()[0]["Command"].startswith("GET DATA")
    h.proto.dataReceived(h.capture.agi_end_frame + h.capture.hangup_frame)
    assert h.runner.sessions == {} and h.transport.value() == b""
    (call,) = h.finished
    assert call.outcome == "caller_hangup" and call.path[-1]["result"] == "caller_hangup"
    assert h.client._agi == {}  # no pending command leaked in the client either


def test_vanished_channel_ends_session(tmp_path):
    """An AGI action on a channel that no longer exists (Response: Error) ends the session as vanished."""
    h = Harness(tmp_path)
    h.proto.dataReceived(h.capture.start_frame)
    action = h.written()[0]
    h.proto.dataReceived(f"Response: Error\r\nActionID: {action['ActionID']}\r\n"
                         f"Message: Channel {CHANNEL} does not exist.\r\n\r\n".encode())
    assert h.runner.sessions == {} and h.transport.value() == b""
    assert h.finished[0].outcome == "vanished"


def test_510_result_goes_to_on_error(tmp_path):
    """A 510 answer (as captured for an unknown command) is a Failure: the flow's on_error node runs."""
    h = Harness(tmp_path)
    h.proto.dataReceived(h.capture.start_frame)

    def unknown(action):
        return h.capture.answer("NO SUCH AGI COMMAND", action["ActionID"], action["CommandID"])

    h.pump(replies={"GET": unknown})
    assert h.commands[1:] == ['STREAM FILE beep ""', 'SET VARIABLE IVR_PATH "number>bye"',
                              "SET VARIABLE IVR_ACTION hangup", "ASYNCAGI BREAK"]
    assert h.finished[0].path[0]["result"] == "agi_failure:510"


def test_silent_channel_times_out_and_is_released(tmp_path):
    """A command Asterisk queued but never finished is given up after its timeout (task.Clock),
    freeing the session."""
    h = Harness(tmp_path)
    h.runner.command_grace = 30
    h.proto.dataReceived(h.capture.start_frame)
    action = h.written()[0]
    h.proto.dataReceived(f"Response: Success\r\nActionID: {action['ActionID']}\r\n"
                         "Message: Added AGI command to queue\r\n\r\n".encode())
    h.clock.advance(h.runner.max_prompt_seconds + 8 + 29)
    assert CHANNEL in h.runner.sessions
    h.clock.advance(2)
    assert h.runner.sessions == {} and h.finished[0].outcome == "vanished"


def test_transfer_sets_queue_variables_or_hands_to_acd(tmp_path):
    """Without on_transfer the runner sets IVR_ACTION=queue/IVR_QUEUE/… and breaks; with it, the ACD
    callback gets (call, queue, skill, priority) and the AGI session is kept (no BREAK)."""
    flow = FLOW.replace("next: bye\n    fallback: bye", "next: q\n    fallback: bye") + (
        "  q:\n    kind: transfer\n    queue: hotline-urgent\n    skill: urgent\n    priority: 10\n")
    for handoff in (None, []):
        (tmp_path / ("a" if handoff is None else "b")).mkdir()
        h = Harness(tmp_path / ("a" if handoff is None else "b"),
                    on_transfer=None if handoff is None else (lambda *a: handoff.append(a)))
        (h.runner.library.directory / "capture.yaml").write_text(flow, "utf-8")
        h.runner.library.reload()
        h.proto.dataReceived(h.capture.start_frame)
        h.pump()
        if handoff is None:
            assert h.commands[1:] == ['SET VARIABLE IVR_PATH "number:12>q"', "SET VARIABLE IVR_ACTION queue",
                                      "SET VARIABLE IVR_QUEUE hotline-urgent", "SET VARIABLE IVR_PRIORITY 10",
                                      "SET VARIABLE IVR_SKILL urgent", "ASYNCAGI BREAK"]
        else:
            assert h.commands[1:] == ['SET VARIABLE IVR_PATH "number:12>q"']
            ((call, queue, skill, priority),) = handoff
            assert (call.channel, queue, skill, priority) == (CHANNEL, "hotline-urgent", "urgent", 10)
        assert h.finished[0].outcome == "transfer" and h.runner.sessions == {}


@pytest.mark.parametrize("value", ["a\r\nAction: Originate", "x\ny"])
def test_crlf_never_reaches_ami(value):
    """A value with CR/LF is refused when the AGI command is built."""
    from ivr import agi

    with pytest.raises(agi.AgiArgumentError):
        agi.set_variable("IVR_PATH", value)


MESSAGE_FLOW = """\
name: capture
start: msg
prompts:
  beep: {sound: beep}
nodes:
  msg:
    kind: message
    prompt: beep
    max_seconds: 30
    next: bye
  bye:
    kind: hangup
"""


def _message_harness(tmp_path, messages):
    h = Harness(tmp_path, on_message=lambda call, path: messages.append((call.uniqueid, path)))
    (h.runner.library.directory / "capture.yaml").write_text(MESSAGE_FLOW, "utf-8")
    h.runner.library.reload()
    return h


@pytest.mark.parametrize("file_exists", [True, False])
def test_hangup_during_recording_keeps_the_message(tmp_path, file_exists):
    """A caller who hangs up to finish a message still has it handed to on_message; if the PBX's
    file is not visible (recordings dir not shared), nothing is submitted."""
    messages = []
    h = _message_harness(tmp_path, messages)
    h.proto.dataReceived(h.capture.start_frame)
    h.pump(stop_after=2)  # STREAM FILE answered, RECORD FILE left pending
    record = h.commands[-1]
    assert record.startswith(f"RECORD FILE {tmp_path / 'rec'}/ivr-1795421328.13-msg-1 wav")
    assert record.endswith(" 30000 BEEP s=5")
    path = tmp_path / "rec" / "ivr-1795421328.13-msg-1.wav"
    if file_exists:
        path.write_bytes(b"RIFF")
    h.clock.advance(7)
    h.proto.dataReceived(h.capture.agi_end_frame + h.capture.hangup_frame)
    assert h.runner.sessions == {}
    assert messages == ([("1795421328.13", str(path))] if file_exists else [])
    assert h.finished[0].outcome == "caller_hangup"


def _reply(h, action, result: str):
    """Asterisk's answer to an AGI action with a given (URL-encoded) result line."""
    return (f"Response: Success\r\nActionID: {action['ActionID']}\r\nMessage: Added AGI command to queue\r\n\r\n"
            f"Event: AsyncAGIExec\r\nPrivilege: agi,all\r\nChannel: {CHANNEL}\r\n"
            f"Result: {result}\r\nCommandId: {action['CommandID']}\r\n\r\n").encode()


def test_missing_prompt_file_does_not_strand_the_caller(tmp_path):
    """``200 result=-1`` (Asterisk's answer when it cannot open a prompt) is a failure: the flow's
    on_error runs and the caller is not left waiting in the AGI."""
    h = Harness(tmp_path)
    h.proto.dataReceived(h.capture.start_frame)
    h.pump(replies={"GET": lambda a: _reply(h, a, "200%20result%3D-1%0A")})
    assert h.commands[-1] == "ASYNCAGI BREAK" and h.finished[0].outcome == "hangup"
    assert h.finished[0].path[0]["result"] == "agi_failure:-1"


def test_record_hangup_result_keeps_the_message(tmp_path):
    """``200 result=-1 (hangup) endpos=N`` from RECORD FILE is a message left by a caller who hung up."""
    messages = []
    h = _message_harness(tmp_path, messages)
    (tmp_path / "rec").mkdir(exist_ok=True)
    (tmp_path / "rec" / "ivr-1795421328.13-msg-1.wav").write_bytes(b"RIFF")
    h.proto.dataReceived(h.capture.start_frame)
    h.pump(replies={"RECORD": lambda a: _reply(h, a, "200%20result%3D-1%20(hangup)%20endpos%3D48000%0A")
                    + h.capture.agi_end_frame})
    assert len(messages) == 1 and h.finished[0].outcome == "caller_hangup"
    assert h.finished[0].path[0]["result"] == "recorded:6.0s"


def test_full_ivr_sends_callers_to_the_dialplan(tmp_path):
    """Beyond max_sessions a new caller gets ASYNCAGI BREAK at once (the dialplan queues them)."""
    h = Harness(tmp_path)
    h.runner.max_sessions = 0
    h.proto.dataReceived(h.capture.start_frame)
    assert [a["Command"] for a in h.written()] == ["ASYNCAGI BREAK"] and h.runner.sessions == {}


def test_a_bug_in_a_session_hands_the_caller_to_the_dialplan(tmp_path):
    """If the runner itself fails mid-call, the session is ended (reported as error) and the caller
    leaves the AGI with ASYNCAGI BREAK, so the dialplan's queue serves them."""

    class BrokenRunner(IvrRunner):
        def _execute(self, session, commands):
            raise RuntimeError("injected fault")

    h = Harness(tmp_path)
    h.runner.stop()
    broken = BrokenRunner(h.client, h.runner.library, clock=h.clock, sounds_dir=tmp_path / "s",
                          recordings_dir=tmp_path / "r", on_finished=h.finished.append)
    broken.start()
    h.proto.dataReceived(h.capture.start_frame)
    assert [a["Command"] for a in h.written()] == ["ASYNCAGI BREAK"]
    assert broken.sessions == {} and h.finished[0].outcome == "error"


SPEECH_FLOW = """\
name: capture
start: say
prompts:
  p: {sound: beep}
nodes:
  say:
    kind: speech
    prompt: p
    grammar: {q: [water, 停水]}
    retries: 0
    fallback: bye
  q:
    kind: transfer
    queue: hotline-urgent
  bye:
    kind: hangup
"""


@pytest.mark.parametrize("heard,queue", [("there is a water leak", "hotline-urgent"), (5, None), (None, None)])
def test_speech_goes_through_the_recognizer_hook(tmp_path, heard, queue):
    """After the speech prompt the recogniser is asked with the grammar's words; a match routes,
    garbage or silence falls back to the key menu."""
    asked = []

    def recognizer(call, words, timeout):
        asked.append((call.channel, set(words), timeout))
        return heard

    h = Harness(tmp_path, recognizer=recognizer)
    (h.runner.library.directory / "capture.yaml").write_text(SPEECH_FLOW, "utf-8")
    h.runner.library.reload()
    h.proto.dataReceived(h.capture.start_frame)
    h.pump()
    assert asked == [(CHANNEL, {"water", "停水"}, 5)]
    assert h.finished[0].queue == queue
    assert h.finished[0].outcome == ("transfer" if queue else "hangup")
