"""The hotline dialplan contract, acted out by scripted participants on a Clock.

These are the flows the controller relies on (common brief, "Shared
architecture decisions"): the IVR inside AsyncAGI, the connect/requeue/
rating dance through ``hotline-connect``, transfers, satisfaction callbacks
and recordings.
"""
from __future__ import annotations

import wave

import pytest

from callcenter.pbxsim import CallerScript, ScriptError
from tests.conftest import SHARED
from tests.pbxsim.harness import Peer, advance, make

SPEECH = SHARED / "audio" / "real_8k" / "zh_aishell_BAC009S0764W0121_8k.wav"


def _agi_channel(peer, arg: str) -> str:
    for ev in peer.events("AsyncAGIStart"):
        if f"agi_arg_1%3A%20{arg}%0A" in ev["Env"]:
            return ev["Channel"]
    raise AssertionError(f"no AsyncAGIStart for {arg}: {[e['Env'][-40:] for e in peer.events('AsyncAGIStart')]}")


def _in_ivr(sim, clock, **dial):
    """A logged-in AMI peer and a citizen's call (13900000001) parked in the IVR's AsyncAGI."""
    peer = Peer(sim, clock)
    peer.login()
    caller = sim.dial_in("13900000001", **dial)
    advance(clock, 0.5)
    return peer, caller, _agi_channel(peer, "ivr")


def test_inbound_call_waits_in_asyncagi(tmp_path):
    """A citizen's call is answered, tagged with HOTLINE_CALLID and parked in AGI(agi:async,ivr)."""
    sim, clock = make(tmp_path)
    peer = Peer(sim, clock)
    peer.login()
    ch = sim.dial_in("13900000001", exten="12345", caller_name="张三")
    advance(clock, 0.5)
    name = _agi_channel(peer, "ivr")
    assert name == ch.name and name.startswith("PJSIP/trunk-")
    start = [e for e in peer.events("AsyncAGIStart")][0]
    assert start["CallerIDName"] == "张三" and "ChanVariable" in start
    assert ch.variables["HOTLINE_CALLID"] == ch.uniqueid
    states = [e["ChannelStateDesc"] for e in peer.events("Newstate") if e["Channel"] == name]
    assert states == ["Up"]
    apps = [e["Application"] for e in peer.events("Newexten") if e["Channel"] == name]
    assert apps == ["NoOp", "Answer", "Set", "Set", "AGI"]


def test_agi_commands_and_scripted_keys(tmp_path):
    """GET DATA / WAIT FOR DIGIT get the caller's scripted keys; errors give 510/520."""
    sim, clock = make(tmp_path)
    peer = Peer(sim, clock)
    peer.login()
    sim.dial_in("13900000001", script=CallerScript(keys=["12#", "9"], key_delay=0.3))
    advance(clock, 0.5)
    ch = _agi_channel(peer, "ivr")
    assert peer.agi(ch, "ANSWER") == "200 result=0"
    assert peer.agi(ch, "GET FULL VARIABLE ${CALLERID(num)}") == "200 result=1 (13900000001)"
    assert peer.agi(ch, "GET DATA vm-enter-num-to-call 5000 4") == "200 result=12"
    assert peer.agi(ch, "WAIT FOR DIGIT 5000") == "200 result=57"
    assert peer.agi(ch, "WAIT FOR DIGIT 1000") == "200 result=0"
    assert peer.agi(ch, "GET DATA vm-enter-num-to-call 1000 2") == "200 result= (timeout)"
    assert peer.agi(ch, 'STREAM FILE beep ""') == "200 result=0 endpos=3404"
    assert peer.agi(ch, "SET VARIABLE IVR_LANG zh") == "200 result=1"
    assert peer.agi(ch, "GET VARIABLE IVR_LANG") == "200 result=1 (zh)"
    assert peer.agi(ch, "GET VARIABLE NOT_THERE") == "200 result=0"
    assert peer.agi(ch, "SAY DIGITS 123 #") == "200 result=0"
    assert peer.agi(ch, "NO SUCH COMMAND") == "510 Invalid or unknown command"
    assert peer.agi(ch, "SET VARIABLE ONLY_NAME").startswith("520 ")
    assert peer.agi(ch, "EXEC MusicOnHold default,2") == "200 result=0"
    assert [e["Class"] for e in peer.events("MusicOnHoldStart")] == ["default"]
    dtmf = [e["Digit"] for e in peer.events("DTMFEnd") if e["Channel"] == ch]
    assert dtmf == ["1", "2", "#", "9"]


def test_agi_on_missing_channel_and_not_in_agi(tmp_path):
    """The AGI action on a missing channel, or one not in AsyncAGI, is an error and changes nothing."""
    sim, clock = make(tmp_path)
    peer = Peer(sim, clock)
    peer.login()
    aid = peer.send("AGI", Channel="PJSIP/none-00000000", Command="ANSWER", CommandID="x")
    assert peer.response(aid)["Message"] == "Channel PJSIP/none-00000000 does not exist."
    sim.add_device("PJSIP/1001", answer_after=None)
    assert sim.channels == {}


def test_record_file_writes_the_callers_speech(tmp_path):
    """RECORD FILE stores the caller's scripted speech as the recording (IVR messages)."""
    sim, clock = make(tmp_path)
    peer = Peer(sim, clock)
    peer.login()
    sim.dial_in("13900000001", script=CallerScript(speech_wav=SPEECH))
    advance(clock, 0.5)
    ch = _agi_channel(peer, "ivr")
    result = peer.agi(ch, "RECORD FILE msg-1 wav # 20000 0 BEEP s=3")
    assert result.startswith("200 result=0 (timeout) endpos=")
    path = tmp_path / "spool" / "recordings" / "msg-1.wav"
    with wave.open(str(path)) as got, wave.open(str(SPEECH)) as want:
        assert got.getframerate() == 8000
        assert got.readframes(got.getnframes()) == want.readframes(want.getnframes())
    assert peer.agi(ch, "RECORD FILE ../../etc/x wav # 1000").startswith("200 result=-1")


def _connect(peer, clock, ch, device, ring_timeout="10"):
    peer.send("Setvar", Channel=ch, Variable="AGENT_DEVICE", Value=device)
    peer.send("Setvar", Channel=ch, Variable="RING_TIMEOUT", Value=ring_timeout)
    aid = peer.send("Redirect", Channel=ch, Context="hotline-connect", Exten="s", Priority="1")
    assert peer.response(aid)["Message"] == "Redirect successful"


def test_connect_to_agent_then_rating(tmp_path):
    """Redirect to hotline-connect: MixMonitor, Dial, bridge; after the agent hangs up, AGI rating."""
    sim, clock = make(tmp_path)
    sim.add_device("PJSIP/1001", answer_after=2.0, talk_seconds=5.0)
    peer, caller, ch = _in_ivr(sim, clock, script=CallerScript(speech_wav=SPEECH))
    _connect(peer, clock, ch, "PJSIP/1001")
    advance(clock, 1.0)
    assert [e["Channel"] for e in peer.events("AsyncAGIEnd")] == [ch]
    assert peer.events("MixMonitorStart")[0]["Channel"] == ch
    begin = peer.events("DialBegin")[0]
    assert begin["Channel"] == ch and begin["DestChannel"].startswith("PJSIP/1001-")
    advance(clock, 2.0)
    assert [e["DialStatus"] for e in peer.events("DialEnd")] == ["ANSWER"]
    assert len(peer.events("BridgeEnter")) == 2
    advance(clock, 6.0)
    assert _agi_channel(peer, "rating") == ch
    assert caller.variables["DIALSTATUS"] == "ANSWER"
    recording = sim.recording_path(f"{caller.uniqueid}.wav")
    assert caller.variables["MIXMONITOR_FILENAME"] == str(recording)
    peer.agi(ch, "HANGUP")
    advance(clock, 0.5)
    assert recording.is_file()
    assert ch not in sim.channels
    log = {e["channel"]: e for e in sim.calls_log}
    assert log[ch]["answered"] and log[ch]["cause"] == 0   # AGI HANGUP sets no cause [real capture h04]


@pytest.mark.parametrize("behaviour, status", [(None, "NOANSWER"), ("busy", "BUSY")])
def test_unanswered_agent_requeues(tmp_path, behaviour, status):
    """An agent who does not answer (or is busy) sends the caller back to AGI requeue, keeping the call."""
    sim, clock = make(tmp_path)
    sim.add_device("PJSIP/1002", answer_after=behaviour)
    peer, caller, ch = _in_ivr(sim, clock)
    _connect(peer, clock, ch, "PJSIP/1002", ring_timeout="3")
    advance(clock, 4.0)
    assert [e["DialStatus"] for e in peer.events("DialEnd")] == [status]
    assert caller.variables["DIALSTATUS"] == status
    assert _agi_channel(peer, "requeue") == ch
    assert ch in sim.channels
    agent_hangups = [e for e in peer.events("Hangup") if e["Channel"].startswith("PJSIP/1002-")]
    # a ring timeout hangs the agent's leg up with no cause (0), as app_dial does [h02-ring-no-answer-requeue]
    assert [e["Cause"] for e in agent_hangups] == ["0" if behaviour is None else "17"]


def test_unknown_device_is_chanunavail(tmp_path):
    """Dialling a device the simulator does not know gives DIALSTATUS=CHANUNAVAIL and requeue."""
    sim, clock = make(tmp_path)
    peer, caller, ch = _in_ivr(sim, clock)
    _connect(peer, clock, ch, "PJSIP/9999")
    advance(clock, 1.0)
    assert caller.variables["DIALSTATUS"] == "CHANUNAVAIL"
    assert _agi_channel(peer, "requeue") == ch


def test_impatient_caller_hangs_up_while_waiting(tmp_path):
    """Patience runs out: the caller hangs up inside AsyncAGI (AsyncAGIEnd, Hangup cause 16)."""
    sim, clock = make(tmp_path)
    peer = Peer(sim, clock)
    peer.login()
    caller = sim.dial_in("13900000001", script=CallerScript(patience=5))
    advance(clock, 4.9)
    assert caller.name in sim.channels
    advance(clock, 0.2)
    assert caller.name not in sim.channels
    names = [m[0][1] for m in peer.read_all() if m[0][0] == "Event"]
    assert names.index("AsyncAGIEnd") < names.index("Hangup")
    assert peer.events("Hangup")[0]["Cause-txt"] == "Normal Clearing"
    assert peer.events("Cdr")[0]["Disposition"] == "ANSWERED"


def test_scripted_dtmf_at_times(tmp_path):
    """dtmf=[(t, digits)] presses keys at those times (DTMFBegin/DTMFEnd, Direction Received)."""
    sim, clock = make(tmp_path)
    peer = Peer(sim, clock)
    peer.login()
    sim.dial_in("13900000001", script=CallerScript(dtmf=[(2.0, "5"), (3.0, "0")]))
    advance(clock, 1.9)
    assert peer.events("DTMFBegin") == []
    advance(clock, 2.0)
    assert [(e["Digit"], e["Direction"]) for e in peer.events("DTMFEnd")] == [("5", "Received"), ("0", "Received")]


def test_transfer_redirect_ends_the_agent_leg(tmp_path):
    """Redirect of a bridged caller to hotline-transfer hangs the agent up and dials the department line."""
    sim, clock = make(tmp_path)
    sim.add_device("PJSIP/1001", answer_after=1.0)
    sim.add_device("PJSIP/2001", answer_after=1.0, talk_seconds=2.0)
    peer = Peer(sim, clock)
    peer.login()
    sim.dial_in("13900000001")
    advance(clock, 0.5)
    ch = _agi_channel(peer, "ivr")
    _connect(peer, clock, ch, "PJSIP/1001")
    advance(clock, 2.0)
    aid = peer.send("Redirect", Channel=ch, Context="hotline-transfer", Exten="2001", Priority="1")
    assert peer.response(aid)["Message"] == "Redirect successful"
    advance(clock, 0.5)
    gone = [e["Channel"] for e in peer.events("Hangup")]
    assert any(c.startswith("PJSIP/1001-") for c in gone)
    advance(clock, 2.0)
    dests = [e["DestChannel"].split("-")[0] for e in peer.events("DialBegin")]
    assert dests == ["PJSIP/1001", "PJSIP/2001"]
    advance(clock, 3.0)
    assert ch not in sim.channels   # hotline-transfer hangs up after an answered transfer


@pytest.mark.parametrize("behaviour, reason", [("answer", "4"), ("noanswer", "3"), ("busy", "5"),
                                                ("congestion", "8")])
def test_callback_originate_reasons(tmp_path, behaviour, reason):
    """Satisfaction callbacks: OriginateResponse reasons 4/3/5/8 as scripted for the citizen's phone."""
    sim, clock = make(tmp_path)
    sim.add_pstn("13800000001", behaviour=behaviour, answer_after=2, digits="1")
    peer = Peer(sim, clock)
    peer.login()
    aid = peer.send("Originate", ("Variable", "WORKORDER=WO-1"), ("Variable", "CALLBACK_ID=7"),
                    Channel="Local/13800000001@hotline-pstn", Context="hotline-survey", Exten="s", Priority="1",
                    CallerID='"12345 Hotline" <12345>', Timeout="8000", Async="true")
    assert peer.response(aid)["Message"] == "Originate successfully queued"
    advance(clock, 12.0)
    responses = peer.events("OriginateResponse")
    assert [(r["ActionID"], r["Reason"]) for r in responses] == [(aid, reason)]
    if reason == "4":
        ch = _agi_channel(peer, "survey")
        assert responses[0]["Channel"] == ch and ch.endswith(";1")
        assert sim.channels[ch].variables["WORKORDER"] == "WO-1"
    else:
        assert responses[0]["Channel"] == "Local/13800000001@hotline-pstn"
        assert responses[0]["Response"] == "Failure"


def test_callback_citizen_presses_a_digit(tmp_path):
    """The answering citizen presses the scripted digit; the survey AGI reads it."""
    sim, clock = make(tmp_path)
    sim.add_pstn("13800000001", behaviour="answer", answer_after=1, digits="4", digit_after=3)
    peer = Peer(sim, clock)
    peer.login()
    peer.send("Originate", Channel="Local/13800000001@hotline-pstn", Context="hotline-survey", Exten="s",
              Priority="1", Async="true", Variable="WORKORDER=WO-9")
    advance(clock, 2.5)
    ch = _agi_channel(peer, "survey")
    assert peer.agi(ch, "WAIT FOR DIGIT 5000") == f"200 result={ord('4')}"


def test_originate_unknown_technology_and_sync(tmp_path):
    """Unknown tech → reason 0; a synchronous Originate answers only once answered, or 'Originate failed'."""
    sim, clock = make(tmp_path)
    sim.add_pstn("13800000001", behaviour="answer", answer_after=2)
    sim.add_pstn("13800000003", behaviour="busy")
    peer = Peer(sim, clock)
    peer.login()
    aid = peer.send("Originate", Channel="Bogus/1", Context="hotline-survey", Exten="s", Async="true")
    advance(clock, 0.1)
    assert peer.events("OriginateResponse")[0]["Reason"] == "0"
    aid = peer.send("Originate", Channel="Local/13800000001@hotline-pstn", Application="Wait", Data="1",
                    Async="false")
    advance(clock, 1.0)
    assert not [m for m in peer.read_all() if dict(m).get("ActionID") == aid]
    advance(clock, 1.5)
    msgs = peer.read_all()
    idx = [i for i, m in enumerate(msgs) if dict(m).get("ActionID") == aid][0]
    assert dict(msgs[idx])["Message"] == "Originate successfully queued"
    # events that happened while the action ran come after its response
    assert any(m[0] == ("Event", "Newchannel") for m in msgs[idx:])
    aid = peer.send("Originate", Channel="Local/13800000003@hotline-pstn", Application="Wait", Data="1",
                    Async="false")
    advance(clock, 1.0)
    assert peer.response(aid)["Message"] == "Originate failed"


def test_mixmonitor_actions_on_a_live_call(tmp_path):
    """MixMonitor / MixMonitorMute / StopMixMonitor answer without Message; a second stop is an error."""
    sim, clock = make(tmp_path)
    peer, caller, ch = _in_ivr(sim, clock, script=CallerScript(speech_wav=SPEECH))
    aid = peer.send("MixMonitor", Channel=ch, File="manual.wav", Options="b")
    assert peer.response(aid) == {"Response": "Success", "ActionID": aid}
    aid = peer.send("MixMonitorMute", Channel=ch, Direction="read", State="1")
    assert peer.response(aid) == {"Response": "Success", "ActionID": aid}
    aid = peer.send("StopMixMonitor", Channel=ch)
    assert peer.response(aid) == {"Response": "Success", "ActionID": aid}
    aid = peer.send("StopMixMonitor", Channel=ch)
    assert peer.response(aid)["Message"] == "Could not stop monitoring channel"
    assert [e["State"] for e in peer.events("MixMonitorMute")] == ["1"]
    assert len(peer.events("MixMonitorStop")) == 1
    assert (tmp_path / "spool" / "monitor" / "manual.wav").is_file()
    aid = peer.send("MixMonitor", Channel=ch, File="../escape.wav")
    assert peer.response(aid)["Response"] == "Error"
    assert caller.mixmonitor is None


def test_status_getvar_and_coreshowchannels_during_a_call(tmp_path):
    """Status with Variables, Getvar of a function, CoreShowChannels list the live call."""
    sim, clock = make(tmp_path)
    peer = Peer(sim, clock)
    peer.login(events="off")
    caller = sim.dial_in("13900000001")
    advance(clock, 0.5)
    aid = peer.send("Status", Channel=caller.name, Variables="HOTLINE_CALLID,CDR(userfield)")
    items = [dict(m) for m in peer.read_all() if m[0] == ("Event", "Status")]
    assert items[0]["Application"] == "AGI"
    variables = [v for k, v in [m for m in peer.log if m[0] == ("Event", "Status")][0] if k == "Variable"]
    assert variables == [f"HOTLINE_CALLID={caller.uniqueid}", f"CDR(userfield)={caller.uniqueid}"]
    aid = peer.send("Getvar", Channel=caller.name, Variable="CALLERID(num)")
    assert peer.response(aid)["Value"] == "13900000001"
    peer.send("CoreShowChannels")
    listed = [dict(m)["Channel"] for m in peer.read_all() if m[0] == ("Event", "CoreShowChannel")]
    assert listed == [caller.name]
    aid = peer.send("Hangup", Channel=caller.name)
    assert peer.response(aid)["Message"] == "Channel Hungup"
    assert sim.channels == {}


def test_script_validation():
    """Bad scripts are refused with a clear error (and nothing is dialled)."""
    with pytest.raises(ScriptError):
        CallerScript(dtmf=[(1.0, "x")])
    with pytest.raises(ScriptError):
        CallerScript(patience=-1)
    with pytest.raises(ScriptError):
        CallerScript(speech_wav="/nonexistent.wav")


def test_dial_in_refuses_crlf_and_unknown_extension(tmp_path):
    """Caller data with CR/LF could forge AMI headers: refused; so is a number with no dialplan."""
    sim, _clock = make(tmp_path)
    with pytest.raises(ScriptError):
        sim.dial_in("139\r\nEvent: Fake")
    with pytest.raises(ScriptError):
        sim.dial_in("13900000001", exten="12345", caller_name="x\ny")
    with pytest.raises(ScriptError):
        sim.dial_in("13900000001", exten="abc")
    assert sim.channels == {}


@pytest.mark.parametrize("options", ["q", "qw", "qB"])
def test_supervisor_listen_whisper_barge(tmp_path, options):
    """Originate of the supervisor's phone with ChanSpy on the agent leg: spies until the call ends."""
    sim, clock = make(tmp_path)
    sim.add_device("PJSIP/1001", answer_after=1.0)
    sim.add_device("PJSIP/9001", answer_after=0.5)
    peer, caller, ch = _in_ivr(sim, clock)
    _connect(peer, clock, ch, "PJSIP/1001")
    advance(clock, 2.0)
    agent = peer.events("DialBegin")[0]["DestChannel"]
    aid = peer.send("Originate", Channel="PJSIP/9001", Application="ChanSpy", Data=f"{agent},{options}",
                    CallerID="Supervisor <9001>", Async="true")
    advance(clock, 1.0)
    assert [(e["ActionID"], e["Reason"]) for e in peer.events("OriginateResponse")] == [(aid, "4")]
    start = peer.events("ChanSpyStart")[0]
    assert start["SpyeeChannel"] == agent and start["SpyerChannel"].startswith("PJSIP/9001-")
    spy = start["SpyerChannel"]
    assert spy in sim.channels
    sim.hangup(caller)
    advance(clock, 0.5)
    assert spy not in sim.channels and agent not in sim.channels
    assert len(peer.events("ChanSpyStop")) == 1


def test_caller_hanging_up_mid_message_keeps_the_partial_recording(tmp_path):
    """RECORD FILE interrupted by the caller's hangup still leaves what was said so far."""
    sim, clock = make(tmp_path)
    peer, caller, ch = _in_ivr(sim, clock, script=CallerScript(speech_wav=SPEECH, hangup_after=3.0))
    peer.send("AGI", Channel=ch, Command="RECORD FILE msg-2 wav # 60000", CommandID="rec")
    advance(clock, 3.0)
    assert caller.hungup
    with wave.open(str(tmp_path / "spool" / "recordings" / "msg-2.wav")) as got:
        seconds = got.getnframes() / got.getframerate()
    assert 2.0 < seconds < 3.0


def test_caller_leaving_while_agent_rings_stops_the_ringing(tmp_path):
    """A caller who hangs up while the agent's phone rings: DialEnd CANCEL and the agent leg ends at once."""
    sim, clock = make(tmp_path)
    sim.add_device("PJSIP/1001", answer_after=None)
    peer, caller, ch = _in_ivr(sim, clock)
    _connect(peer, clock, ch, "PJSIP/1001", ring_timeout="20")
    advance(clock, 2.0)
    sim.hangup(caller)
    advance(clock, 0.1)
    assert [e["DialStatus"] for e in peer.events("DialEnd")] == ["CANCEL"]
    assert sim.channels == {}


def test_redirect_while_agent_rings_goes_where_asked(tmp_path):
    """Redirecting a caller whose agent is still ringing cancels the ring and moves the caller."""
    sim, clock = make(tmp_path)
    sim.add_device("PJSIP/1001", answer_after=None)
    peer = Peer(sim, clock)
    peer.login()
    sim.dial_in("13900000001")
    advance(clock, 0.5)
    ch = _agi_channel(peer, "ivr")
    _connect(peer, clock, ch, "PJSIP/1001", ring_timeout="20")
    advance(clock, 2.0)
    peer.send("Redirect", Channel=ch, Context="hotline-in", Exten="12345", Priority="5")
    advance(clock, 0.5)
    assert [e["DialStatus"] for e in peer.events("DialEnd")] == ["CANCEL"]
    assert len(peer.events("AsyncAGIStart")) == 2 and list(sim.channels) == [ch]


def test_a_new_dial_does_not_see_the_previous_answer(tmp_path):
    """Dial blanks ANSWEREDTIME, ANSWEREDTIME_MS, DIALEDTIME, DIALEDTIME_MS first, as Asterisk does (capture 06):
    a caller connected again after an answered call, to an agent who does not answer, goes back to the
    queue (requeue) instead of on to the rating an earlier answer would have sent them to."""
    sim, clock = make(tmp_path)
    sim.add_device("PJSIP/1001", answer_after=1.0, talk_seconds=2.0)
    sim.add_device("PJSIP/1002", answer_after=None)
    peer, caller, ch = _in_ivr(sim, clock)
    _connect(peer, clock, ch, "PJSIP/1001")
    advance(clock, 5.0)
    assert _agi_channel(peer, "rating") == ch
    assert caller.variables["ANSWEREDTIME"] != "" and caller.variables["ANSWEREDTIME_MS"].isdigit()
    _connect(peer, clock, ch, "PJSIP/1002", ring_timeout="3")
    advance(clock, 4.0)
    assert _agi_channel(peer, "requeue") == ch
    assert caller.variables["ANSWEREDTIME"] == "" and caller.variables["DIALSTATUS"] == "NOANSWER"
    times = ("ANSWEREDTIME", "ANSWEREDTIME_MS", "DIALEDTIME", "DIALEDTIME_MS")
    sets = [(e["Variable"], e["Value"] == "") for e in peer.events("VarSet") if e["Channel"] == ch and e["Variable"] in times]
    assert sets == [(t, True) for t in times] + [(t, False) for t in times] + [(t, True) for t in times]
