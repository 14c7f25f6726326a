"""The simulator plays sounds as strictly as Asterisk 22 (res_agi.c, file.c, app_playback.c).

A sound is a file under Asterisk's sounds directory (``<sounds>/<lang>/NAME``, then
``<sounds>/NAME``, then ``<sounds>/en/NAME``) or an absolute path, in any known format; the
core sounds are always there.  ``STREAM FILE`` of anything else answers
``200 result=-1 endpos=0`` and *ends the AsyncAGI session* (RESULT_FAILURE): the dialplan goes
on with ``AGISTATUS=FAILURE`` -- in the hotline dialplan to the next ``AGI(agi:async,requeue)``,
or to ``Hangup()``.  ``GET DATA`` of a missing prompt answers ``200 result=-1`` and the session
stays.  Local Originates name both halves with the caller ID given.
"""
from __future__ import annotations

import urllib.parse
import wave

from tests.pbxsim.harness import Peer, advance, make


def _wav(path, seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * int(8000 * seconds))


def _agi_starts(peer, channel):
    return [urllib.parse.unquote(e["Env"]) for e in peer.events("AsyncAGIStart") if e["Channel"] == channel]


def _in_ivr(tmp_path, sounds_dir=None):
    sim, clock = make(tmp_path, sounds_dir=sounds_dir)
    peer = Peer(sim, clock)
    peer.login()
    caller = sim.dial_in("13900000001")
    advance(clock, 0.5)
    return sim, clock, peer, caller


def test_stream_file_of_a_missing_sound_ends_the_agi_session_like_res_agi(tmp_path):
    """200 result=-1 endpos=0; AGIExecEnd ResultCode -1 / Failure; AsyncAGIEnd; AGISTATUS=FAILURE; the
    hotline dialplan goes on to its next AsyncAGI (requeue) instead of waiting for more commands."""
    sim, clock, peer, caller = _in_ivr(tmp_path, sounds_dir=tmp_path / "sounds")
    assert peer.agi(caller.name, 'STREAM FILE hotline/queue/zh/queue_all_busy ""') == "200 result=-1 endpos=0"
    advance(clock, 0.5)
    (end,) = [e for e in peer.events("AGIExecEnd") if e["Channel"] == caller.name]
    assert (end["ResultCode"], end["Result"]) == ("-1", "Failure")
    names = [e["Event"] for e in peer.events() if e.get("Channel") == caller.name]
    assert names.index("AsyncAGIEnd") > names.index("AsyncAGIExec")
    assert caller.variables["AGISTATUS"] == "FAILURE"
    starts = _agi_starts(peer, caller.name)
    assert [s.split("agi_arg_1: ")[1].split("\n")[0] for s in starts] == ["ivr", "requeue"]
    # the new session takes commands again
    assert peer.agi(caller.name, "ANSWER") == "200 result=0"


def test_a_sound_that_exists_plays_for_its_length_by_language_then_plain_then_english(tmp_path):
    sounds = tmp_path / "sounds"
    _wav(sounds / "hotline" / "queue" / "zh" / "queue_wait.wav", 2.5)
    _wav(sounds / "en" / "only-english.wav", 0.5)
    sim, clock, peer, caller = _in_ivr(tmp_path, sounds_dir=sounds)
    started = clock.seconds()
    assert peer.agi(caller.name, 'STREAM FILE hotline/queue/zh/queue_wait ""') == "200 result=0 endpos=20000"
    assert clock.seconds() - started >= 2.5
    assert peer.agi(caller.name, 'STREAM FILE only-english ""') == "200 result=0 endpos=4000"  # language en fallback
    assert peer.agi(caller.name, 'STREAM FILE beep ""').startswith("200 result=0")            # a core sound
    absolute = tmp_path / "elsewhere" / "note"
    _wav(absolute.with_suffix(".wav"), 1.0)
    assert peer.agi(caller.name, f'STREAM FILE {absolute} ""') == "200 result=0 endpos=8000"
    assert [e["Event"] for e in peer.events("AsyncAGIEnd")] == []


def test_without_a_sounds_directory_only_the_core_sounds_exist(tmp_path):
    sim, clock, peer, caller = _in_ivr(tmp_path)
    assert peer.agi(caller.name, 'STREAM FILE vm-goodbye ""').startswith("200 result=0")
    assert peer.agi(caller.name, 'STREAM FILE hotline/hotline/zh/welcome ""') == "200 result=-1 endpos=0"


def test_get_data_of_a_missing_prompt_answers_minus_one_and_keeps_the_session(tmp_path):
    sim, clock, peer, caller = _in_ivr(tmp_path, sounds_dir=tmp_path / "sounds")
    assert peer.agi(caller.name, "GET DATA hotline/queue/zh/queue_callback_offer 5000 1") == "200 result=-1"
    assert peer.events("AsyncAGIEnd") == []
    assert peer.agi(caller.name, "ANSWER") == "200 result=0"


def test_playback_of_a_missing_file_sets_failed_and_the_dialplan_goes_on(tmp_path):
    sim, clock, peer, caller = _in_ivr(tmp_path, sounds_dir=tmp_path / "sounds")
    assert peer.agi(caller.name, "EXEC Playback hotline/nothing") == "200 result=0"
    assert caller.variables["PLAYBACKSTATUS"] == "FAILED"
    assert peer.agi(caller.name, "EXEC Playback hello-world") == "200 result=0"
    assert caller.variables["PLAYBACKSTATUS"] == "SUCCESS"


def test_local_originate_gives_both_halves_the_caller_id_not_a_variable_name(tmp_path):
    """The ;2 half of an Originate with Variables keeps CallerIDName (the loop variable no longer
    overwrites it) and runs the dialplan with the Local channel's name."""
    sim, clock = make(tmp_path)
    peer = Peer(sim, clock)
    peer.login()
    aid = peer.send("Originate", ("Variable", "WORKORDER=2026112300001"), ("Variable", "CALLBACK_ID=cb-1"),
                    Channel="Local/12345@hotline-in", Application="Wait", Data="5",
                    CallerID='"张三" <13900000001>', Async="true")
    assert peer.response(aid)["Response"] == "Success"
    advance(clock, 1.0)
    two = [e for e in peer.events("AsyncAGIStart") if e["Channel"].endswith(";2")]
    assert two and two[0]["Channel"].startswith("Local/12345@hotline-in-")
    assert (two[0]["CallerIDNum"], two[0]["CallerIDName"]) == ("13900000001", "张三")
    env = urllib.parse.unquote(two[0]["Env"])
    assert "agi_calleridname: 张三\n" in env and "agi_callerid: 13900000001\n" in env
    ch = sim.find_channel(two[0]["Channel"])
    assert ch.variables["WORKORDER"] == "2026112300001" and ch.variables["CALLBACK_ID"] == "cb-1"
