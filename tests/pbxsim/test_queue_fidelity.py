"""app_queue's ring-no-answer sequence, member device states and whole-second figures, replayed
against the real captures (13: a ring-out then an answer; 17: a Redirect out of a bridged queue call)."""
from __future__ import annotations

from callcenter.pbxsim.captures import load
from tests.pbxsim.replay import Replay, epoch_fraction
from tests.pbxsim.test_fidelity import CAPTURE_DIR


def _replay(name, tmp_path):
    cap = load(CAPTURE_DIR / f"{name}.jsonl")
    return cap, Replay(cap, spool_dir=tmp_path).run()


def _agent_story(messages):
    keep = ("AgentCalled", "DialEnd", "AgentRingNoAnswer", "AgentConnect", "AgentComplete", "QueueMemberStatus")
    out = []
    for m in messages:
        d = dict(m)
        name = d.get("Event")
        if name not in keep or (name == "DialEnd" and not d.get("Channel")):
            continue  # the Originate's own DialEnd has no caller channel
        out.append((name, d.get("MemberName") or "", d.get("DialStatus") or d.get("Status") or d.get("TalkTime") or ""))
    return out


def test_ring_no_answer_then_answer_follows_asterisks_order_and_member_states(tmp_path):
    """AgentRingNoAnswer, DialEnd NOANSWER, DialEnd CANCEL, then the member back to 1; a ringing Local
    member is 'in use' (2); no status event at the answer; talk time in whole wall-clock seconds."""
    cap, out = _replay("13-queue-call-agent", tmp_path)
    got, want = _agent_story(out[1]), _agent_story(cap.server_messages(1))
    assert ("DialEnd", "", "CANCEL") in want
    assert got == want


def test_replay_starts_at_the_capture_clocks_fraction_of_a_second():
    cap = load(CAPTURE_DIR / "13-queue-call-agent.jsonl")
    # SuccessfulAuth EventTV 2026-11-23T08:09:04.551+0000 at t=0.00122
    assert abs(epoch_fraction(cap) - 0.54978) < 0.001
