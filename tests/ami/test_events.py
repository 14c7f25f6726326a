"""Typed events from real capture frames, and the AsyncAGI helpers."""
from __future__ import annotations

import pytest

from callcenter.ami import events as ev
from callcenter.ami.message import parse_message
from tests.ami.captures import ami_connections, capture_paths, load, server_frames


def _events(prefix):
    path = next(p for p in capture_paths() if p.name.startswith(prefix))
    meta, records = load(path)
    out = []
    for conn in ami_connections(meta, records):
        for frame in server_frames(records, conn)[1:]:
            m = parse_message(frame[:-4])
            if m.kind == "event":
                out.append(ev.from_message(m))
    return out


def test_every_capture_event_converts_and_known_names_are_typed():
    """All ~1,500 capture events convert; names with a class never fall back to GenericEvent."""
    count = 0
    for path in capture_paths():
        for e in _events(path.name[:3]):
            count += 1
            if e.name in ev.EVENT_TYPES:
                assert type(e) is ev.EVENT_TYPES[e.name]
            else:
                assert type(e) is ev.GenericEvent and e.get("Event") == e.name
    assert count > 1000


def test_channel_snapshot_and_chanvariables():
    """The snapshot fields and repeated ChanVariable lines are read [13]."""
    joined = next(e for e in _events("13-") if isinstance(e, ev.QueueCallerJoin))
    assert joined.channel.caller_id_name == "张三"
    assert joined.queue == "hotline-general" and joined.position == 1
    assert joined.channel.var("WORKORDER") == ""
    assert joined.channel.var("HOTLINE_CALLID") == joined.channel.uniqueid


def test_agent_units_and_two_channel_events():
    """AgentRingNoAnswer RingTime is ms, AgentConnect is seconds; Dest snapshot present [13]."""
    es = _events("13-")
    noanswer = next(e for e in es if isinstance(e, ev.AgentRingNoAnswer))
    connect = next(e for e in es if isinstance(e, ev.AgentConnect))
    complete = next(e for e in es if isinstance(e, ev.AgentComplete))
    assert noanswer.ring_time_ms >= 1000 and connect.ring_time < 100
    assert connect.dest is not None and connect.dest.channel.startswith("Local/1001@hotline-agents")
    assert complete.reason == "agent" and complete.talk_time >= 1


def test_originate_dial_has_only_dest_fields_and_failure_reasons():
    """DialBegin of an Originate has no Channel; failed OriginateResponse reasons and dial-string channel [16]."""
    es = _events("16-")
    dial = next(e for e in es if isinstance(e, ev.DialBegin) and e.channel is None)
    assert dial.dest is not None
    reasons = [(e.response, e.reason) for e in es if isinstance(e, ev.OriginateResponse)]
    assert ("Failure", 3) in reasons and ("Failure", 5) in reasons and ("Failure", 8) in reasons and ("Failure", 0) in reasons
    failed = next(e for e in es if isinstance(e, ev.OriginateResponse) and e.reason == 3)
    assert failed.channel == "Local/13800000002@hotline-pstn" and not failed.answered


def test_hangup_causes_and_dtmf():
    """Hangup Cause/Cause-txt and DTMFEnd duration/direction are typed [10, 11]."""
    es = _events("11-")
    ends = [e for e in es if isinstance(e, ev.DTMFEnd)]
    assert {e.direction for e in ends} == {"Received", "Sent"} and all(e.duration_ms is not None for e in ends)
    begin = next(e for e in es if isinstance(e, ev.DTMFBegin))
    assert begin.get("DurationMs") is None
    hang = next(e for e in es if isinstance(e, ev.Hangup))
    assert hang.cause == 16 and hang.cause_txt == "Normal Clearing"


def test_asyncagi_start_env_and_exec_results():
    """Env is URL-decoded with agi_arg_N; AsyncAGIExec results parse per command [10]."""
    es = _events("10-")
    start = next(e for e in es if isinstance(e, ev.AsyncAGIStart))
    assert start.env["agi_callerid"] == "13900000001" and start.env["agi_calleridname"] == "Zhang San"
    assert start.args == ["ivr-main"] and start.env["agi_accountcode"] == ""
    results = {e.command_id: e.result for e in es if isinstance(e, ev.AsyncAGIExec)}
    assert results["ivr-2"].data == "13900000001" and results["ivr-2"].value == 1
    assert results["ivr-4"].endpos == 3404 and results["ivr-4"].value == 0
    assert results["ivr-5"].result == "12"
    assert results["ivr-6"].digit == "9"
    assert results["ivr-8"].code == 510 and not results["ivr-8"].ok


@pytest.mark.parametrize(
    "text,code,result,data,endpos",
    [
        ("200%20result%3D12%0A", 200, "12", None, None),
        ("200%20result%3D-1%0A", 200, "-1", None, None),
        ("200%20result%3D1%20(timeout)%0A", 200, "1", "timeout", None),
        ("200%20result%3D0%20endpos%3D3404%0A", 200, "0", None, 3404),
        ("200%20result%3D49%20(dtmf)%20endpos%3D1600%0A", 200, "49", "dtmf", 1600),
        ("510%20Invalid%20or%20unknown%20command%0A", 510, None, None, None),
        ("garbage", 0, None, None, None),
    ],
)
def test_parse_agi_result(text, code, result, data, endpos):
    """Every AGI answer shape parses without raising."""
    r = ev.parse_agi_result(text)
    assert (r.code, r.result, r.data, r.endpos) == (code, result, data, endpos)


def test_user_event_headers_and_events_are_frozen():
    """UserEvent keeps the user's own headers; typed events cannot be modified [15]."""
    survey = next(e for e in _events("15-") if isinstance(e, ev.UserEvent))
    assert survey.user_event == "SurveyResult"
    assert dict(survey.headers)["Score"] == "4"
    with pytest.raises(Exception):
        survey.user_event = "x"
