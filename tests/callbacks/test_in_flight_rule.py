"""The pure rules for a callback whose call was placed by a controller that died or lost its AMI
link: the channel mark, the decision (job state + channel present/absent → action) and the retry
policy's answer for an interrupted attempt — plain values, explicit instants."""
from __future__ import annotations

from datetime import timedelta

import pytest

from callcenter.failover.callbacks import (
    ADOPT_ANSWERED, ADOPT_RINGING, NOTHING, RELEASE, SETTLE_INTERRUPTED, WAIT, callback_mark, channel_stage,
    decide, parse_callback_mark,
)
from tests.callbacks.helpers import CALENDAR, cst
from ticketing.callbacks.policy import QUEUE, SATISFACTION, CallbackPolicy, reason_of_hangup
from ticketing.domain.errors import ValidationFailed

POLICY = CallbackPolicy()


def test_mark_round_trips_and_rejects_anything_else():
    """``survey|12|2`` names job 12's second attempt; malformed values and unknown kinds are None."""
    assert callback_mark(SATISFACTION, 12, 2) == "survey|12|2"
    assert parse_callback_mark("survey|12|2") == (SATISFACTION, 12, 2)
    assert parse_callback_mark(callback_mark(QUEUE, 7, 1)) == (QUEUE, 7, 1)
    for bad in (None, "", "survey|12", "fax|1|1", "queue|x|1", "queue|1|2|3"):
        assert parse_callback_mark(bad) is None, bad
    with pytest.raises(ValueError):
        callback_mark("fax", 1, 1)


def test_a_live_channel_is_adopted_answered_or_ringing_whatever_else_is_known():
    """A channel carrying the job's mark means the call is there: adopted, never settled or re-dialled."""
    for dialled in (True, False):
        for pending in (True, False):
            assert decide(in_flight=True, dialled=dialled, channel="up", pending_here=pending) == ADOPT_ANSWERED
            assert decide(in_flight=True, dialled=dialled, channel="ringing", pending_here=pending) == ADOPT_RINGING


def test_no_channel_left_after_a_dial_is_interrupted_never_a_fresh_dial():
    """Dialled, no channel, nobody here waiting on its Originate → interrupted (the policy decides)."""
    assert decide(in_flight=True, dialled=True, channel=None, pending_here=False) == SETTLE_INTERRUPTED


def test_own_pending_originate_waits_and_a_claim_never_dialled_is_released():
    """This process's Originate may still create the channel: wait.  A claim whose Originate was never
    recorded as sent (the worker died in between) is released without counting an attempt."""
    assert decide(in_flight=True, dialled=True, channel=None, pending_here=True) == WAIT
    assert decide(in_flight=True, dialled=False, channel=None, pending_here=True) == WAIT
    assert decide(in_flight=True, dialled=False, channel=None, pending_here=False) == RELEASE
    assert decide(in_flight=False, dialled=True, channel="up", pending_here=False) == NOTHING


def test_channel_stage_is_up_only_when_a_leg_is_answered():
    assert channel_stage([]) is None
    assert channel_stage([{"ChannelState": "0"}, {"ChannelState": "4"}]) == "ringing"
    assert channel_stage([{"ChannelState": "5"}, {"ChannelState": "6"}]) == "up"


def test_interrupted_survey_follows_the_normal_spacing_never_minutes_later():
    """Satisfaction: the interrupted attempt counts; the next call no sooner than 30 minutes, in calling
    hours; after the last attempt, unreachable."""
    now = cst(2026, 11, 24, 10, 0)
    first = POLICY.after_interrupted(SATISFACTION, 1, now, CALENDAR)
    assert first.kind == "retry" and first.at == now + timedelta(minutes=30)
    second = POLICY.after_interrupted(SATISFACTION, 2, now, CALENDAR)
    assert second.kind == "retry" and second.at == now + timedelta(hours=2)
    assert POLICY.after_interrupted(SATISFACTION, 3, now, CALENDAR).kind == "unreachable"
    evening = POLICY.after_interrupted(SATISFACTION, 1, cst(2026, 11, 24, 19, 50), CALENDAR)
    assert evening.at == cst(2026, 11, 25, 8, 0)  # never outside calling hours


def test_interrupted_queue_callback_is_retried_once_promptly_then_normally():
    """Queue callback: the citizen is still owed help — the first interruption is retried after 60 s
    even on the last attempt; a second interruption follows the normal schedule."""
    now = cst(2026, 11, 24, 10, 0)
    prompt = POLICY.after_interrupted(QUEUE, 3, now, CALENDAR)
    assert prompt.kind == "retry" and prompt.at == now + timedelta(seconds=60)
    again = POLICY.after_interrupted(QUEUE, 1, now, CALENDAR, interrupted_before=True)
    assert again.kind == "retry" and again.at == now + timedelta(minutes=30)
    assert POLICY.after_interrupted(QUEUE, 3, now, CALENDAR, interrupted_before=True).kind == "unreachable"
    with pytest.raises(ValidationFailed):
        POLICY.after_interrupted("fax", 1, now, CALENDAR)


def test_hangup_cause_of_an_unanswered_callback_maps_to_its_originate_reason():
    """19 no answer → 3, 17 busy → 5, 34 congestion → 8, anything unknown → 0 (failed)."""
    assert [reason_of_hangup(c) for c in (19, "17", 34, None, "x", 99)] == [3, 5, 8, 0, 0, 0]
