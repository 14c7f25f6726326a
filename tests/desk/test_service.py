"""DeskService against the real ACD driven by AMI bytes: the screen follows the call."""
from __future__ import annotations

import pytest
from twisted.internet import defer

from callcenter.desk.service import DeskError, DeskService
from callcenter.routing.acd import CallHandle
from callcenter.routing.agent import AgentState
from callcenter.routing.skills import Agent
from tests.desk.helpers import AGENT_LEG, CALLID, SPEECH, InlineIntake, Listener, make_acd, ring_and_answer


@pytest.fixture(scope="module")
def intake():
    return InlineIntake()


def desk_for(acd, clock, **kw):
    return DeskService(acd, clock, db=defer.maybeDeferred, **kw)


def test_ringing_connected_transcript_and_draft_reach_only_that_agents_screen(intake):
    """The agent's stream gets ringing, connected, transcript and a draft prefilled from speech;
    the screen shows the waiting time and the number (masked for a role without phone access)."""
    pbx, acd = make_acd()
    desk = desk_for(acd, pbx.clock, intake=intake)
    acd.add_agent(Agent("1002", {"general": 10}, device="PJSIP/1002"))
    mine, other = Listener(desk.stream_for("1001")), Listener(desk.stream_for("1002"))
    desk.change_state("1001", "login")
    desk.change_state("1001", "ready")
    ring_and_answer(pbx, acd)
    desk.attach_speech("uuid-1", CALLID)
    desk.on_partial("uuid-1", "我住在海曙")
    desk.on_final("uuid-1", SPEECH)
    names = mine.names()
    assert names[:4] == ["state", "state", "state", "ringing"] and "connected" in names
    assert names.count("transcript") == 2 and "draft" in names
    draft = dict(mine.events())["draft"]["draft"]
    assert draft["category"] == "illegal-construction" and draft["district"] == "haishu"
    assert other.names() == []
    screen = desk.screen("1001", show_number=False)
    assert screen["call"]["number"] == "138****1234" and screen["call"]["waited_seconds"] == 4.0
    assert desk.screen("1001", show_number=True)["call"]["number"] == "13812341234"
    assert screen["call"]["transcript"] == [SPEECH]
    pbx.hangup(AGENT_LEG, "1795420800.2")
    assert mine.names()[-1] == "ended" and desk.current("1001").state == "ended"
    assert acd.sessions["1001"].state is AgentState.WRAP_UP


def test_state_changes_need_a_valid_reason_and_the_right_state():
    """Pause needs a known reason, wrap-up done only in wrap-up, unknown actions and non-agents are
    refused, and a refused request changes nothing."""
    pbx, acd = make_acd()
    desk = desk_for(acd, pbx.clock)
    assert desk.change_state("1001", "login")["state"] == "paused"
    with pytest.raises(DeskError) as bad:
        desk.change_state("1001", "pause", "nap")
    assert bad.value.error_id == "desk.bad_pause_reason"
    with pytest.raises(DeskError) as early:
        desk.change_state("1001", "wrap_up_done")
    assert early.value.error_id == "desk.not_in_wrap_up" and early.value.http_status == 409
    with pytest.raises(DeskError) as unknown:
        desk.change_state("1001", "sleep")
    assert unknown.value.error_id == "desk.unknown_action"
    with pytest.raises(DeskError) as stranger:
        desk.change_state("9999", "ready")
    assert stranger.value.http_status == 403
    assert acd.sessions["1001"].state is AgentState.PAUSED
    view = desk.change_state("1001", "pause", "training")
    assert (view["state"], view["reason"]) == ("paused", "training")


def test_missed_ring_clears_the_screen():
    """A ring the agent lets go leaves no call on that desk; the caller rings the next agent's desk."""
    pbx, acd = make_acd()
    desk = desk_for(acd, pbx.clock)
    acd.add_agent(Agent("1002", {"general": 10}, device="PJSIP/1002"))
    listener = Listener(desk.stream_for("1001"))
    desk.change_state("1001", "login")
    desk.change_state("1001", "ready")
    ring_and_answer(pbx, acd, answer=False)
    desk.change_state("1002", "login")
    desk.change_state("1002", "ready")
    assert desk.current("1001").state == "ringing"
    pbx.event("DialEnd", "PJSIP/trunk-00000001", CALLID, CALLID, dest=(AGENT_LEG, "1795420800.2"),
              extra=[("DialStatus", "NOANSWER")])
    pbx.agi_start("PJSIP/trunk-00000001", CALLID, CALLID, "requeue")
    assert desk.current("1001") is None
    assert desk.current("1002").state == "ringing"
    assert ("ended", {"call_id": CALLID, "state": "missed"}) in listener.events()


def test_corrections_are_the_fields_changed_from_the_draft(intake):
    """Only correctable fields that differ from the speech draft count as corrections."""
    pbx, acd = make_acd()
    desk = desk_for(acd, pbx.clock, intake=intake)
    desk.change_state("1001", "login")
    desk.change_state("1001", "ready")
    ring_and_answer(pbx, acd)
    desk.on_final(CALLID, SPEECH)  # without attach_speech the uuid is the call id
    call = desk.current("1001")
    assert desk.corrections(call, dict(call.draft)) == []
    changed = dict(call.draft, type="complaint", district="jiangbei", summary="其他文字")
    assert sorted(desk.corrections(call, changed)) == [("district", "jiangbei"), ("type", "complaint")]


def test_connected_call_is_spied_to_audiosocket_and_its_transcript_lands_on_the_call():
    """With an AudioSocket address, answering Originates ChanSpy (caller leg, quiet) on a fresh uuid,
    and the recogniser's results for that uuid join the call's transcript; a bad address is refused."""
    pbx, acd = make_acd()
    desk = desk_for(acd, pbx.clock, audiosocket="127.0.0.1:9092")
    desk.change_state("1001", "login")
    desk.change_state("1001", "ready")
    ring_and_answer(pbx, acd)
    [originate] = [m for m in pbx.take() if m.name == "Originate"]
    channel = originate["Channel"]
    assert channel.startswith("AudioSocket/127.0.0.1:9092/")
    assert (originate["Application"], originate["Data"]) == ("ChanSpy", "PJSIP/trunk-00000001,qE")
    uuid = channel.rsplit("/", 1)[1]
    desk.on_final(uuid, SPEECH)
    assert desk.current("1001").transcript == [SPEECH]
    with pytest.raises(DeskError) as bad:
        desk_for(acd, pbx.clock, audiosocket="127.0.0.1:9092\r\nAction: Hangup")
    assert bad.value.error_id == "desk.bad_audiosocket"


def test_an_ended_call_stays_on_the_desk_for_its_order_when_the_next_call_rings():
    """After a call ends (timed wrap-up over) the next call rings, and the ended one can still get its
    work order; the screen shows the newest call."""
    pbx, acd = make_acd()
    desk = desk_for(acd, pbx.clock)
    desk.change_state("1001", "login")
    desk.change_state("1001", "ready")
    ring_and_answer(pbx, acd)
    pbx.hangup(AGENT_LEG, "1795420800.2")
    pbx.clock.advance(10)  # wrap-up over: ready again
    acd.enqueue(CallHandle("second", "PJSIP/trunk-00000009", "13900000000"), "hotline-general")
    assert desk.current("1001").call_id == "second"
    assert desk.call_for_order("1001", CALLID).state == "ended"
    with pytest.raises(DeskError) as ringing:
        desk.call_for_order("1001", "second")
    assert ringing.value.error_id == "desk.no_such_call"
