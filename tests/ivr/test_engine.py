"""The pure stepping logic: events in, commands out, on the shipped flows."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from ivr.engine import (
    CollectDigits, Digits, Engine, Failure, Hangup, HangupSeen, IvrError, Lookup, Outcome, Play, Record,
    Recorded, RequestCallback, Result, SetVar, SubmitMessage, Timeout, Transfer, Understand,
)
from ivr.flow import load_flow
from callcenter.personal_data import mask_text
from ivr.prompts import OrderStatus, match_grammar

FLOWS = Path(__file__).resolve().parents[2] / "ivr" / "flows"
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)  # 10:00 in Beijing, a Monday


@pytest.fixture(scope="module")
def hotline():
    return load_flow(FLOWS / "hotline.yaml")


def run(engine, events, caller="13800001234", vars=None):
    """Start a call and feed events; return the final state and every command batch."""
    state, commands = engine.start(caller, NOW, vars)
    batches = [commands]
    for event in events:
        state, commands = engine.step(state, event, NOW)
        batches.append(commands)
    return state, batches


def test_greeting_then_language_menu(hotline):
    """The call starts with the welcome prompt and the language menu collecting one key."""
    state, (first,) = run(Engine(hotline), [])
    assert first == [Play("welcome", "zh"), CollectDigits("language_menu", "zh", 1, 3, "#")]
    assert state.node == "language" and [p.node for p in state.path] == ["welcome", "language"]


def test_english_caller_reaches_urgent_queue_in_two_keys(hotline):
    """Keys 2 (English) then 1 (urgent fault) transfer to the urgent queue with skill and priority."""
    state, batches = run(Engine(hotline), [Digits("2"), Digits("1")])
    assert batches[1] == [SetVar("HOTLINE_LANG", "en"), CollectDigits("main_menu", "en", 1, 5, "#")]
    last = batches[2]
    assert last[0] == Play("urgent_transfer", "en")
    assert last[-1] == Transfer("hotline-urgent", "urgent", 10)
    assert SetVar("IVR_PATH", "welcome>language:2>screen>hours>main_menu:1>urgent_queue") in last
    assert state.done and state.outcome == "transfer" and state.lang == "en"
    assert [(p.node, p.keys) for p in state.path][1:5] == [("language", "2"), ("screen", ""), ("hours", ""),
                                                            ("main_menu", "1")]
    assert state.path[2].result == "allowed"


def test_language_timeout_defaults_to_chinese(hotline):
    """Silence at the language menu continues in Chinese."""
    state, batches = run(Engine(hotline), [Timeout()])
    assert state.lang == "zh" and batches[1] == [CollectDigits("main_menu", "zh", 1, 5, "#")]


def test_invalid_key_retries_then_falls_back_to_an_agent(hotline):
    """A key outside the menu replays the menu with an apology; after the retries the caller gets an agent."""
    engine = Engine(hotline)
    state, batches = run(engine, [Digits("1"), Digits("7"), Timeout(), Digits("#")])
    assert batches[2] == [Play("invalid_key", "zh"), CollectDigits("main_menu", "zh", 1, 5, "#")]
    assert batches[3] == [Play("no_input", "zh"), CollectDigits("main_menu", "zh", 1, 5, "#")]
    assert batches[4][-1] == Transfer("hotline-general", "general", 0)
    assert state.path[4].result == "retries_exhausted"


def test_a_restricted_caller_hears_the_notice_and_leaves_a_message_without_reaching_a_queue(hotline):
    """The screen node asks about the caller's own number: a restricted one is told why and may leave a
    message (submitted like any other), and no transfer or callback is ever offered; others go on."""
    asked = []

    def is_restricted(caller, now):
        asked.append((caller, now))
        return caller == "13900009999"

    engine = Engine(hotline, is_restricted=is_restricted)
    state, batches = run(engine, [Digits("1"), Recorded("/rec/r.wav", 9.0)], caller="13900009999")
    assert asked == [("13900009999", NOW)]
    assert batches[1] == [Play("restricted_notice", "zh"), Play("leave_message", "zh"),
                          Record("leave_message-1", 120)]
    assert batches[2][0] == SubmitMessage("/rec/r.wav", 9.0) and batches[2][-1] == Hangup()
    assert not any(isinstance(c, (Transfer, RequestCallback)) for batch in batches for c in batch)
    assert state.path[2].node == "screen" and state.path[2].result == "restricted"
    other, batches = run(engine, [Digits("1")], caller="13800001234")
    assert batches[1] == [CollectDigits("main_menu", "zh", 1, 5, "#")] and other.path[2].result == "allowed"


def test_a_caller_without_a_number_is_never_restricted(hotline):
    """Withheld caller ID is not looked up (an empty number must not match anything on the list)."""
    engine = Engine(hotline, is_restricted=lambda caller, now: True)
    state, batches = run(engine, [Digits("1")], caller="")
    assert batches[1] == [CollectDigits("main_menu", "zh", 1, 5, "#")] and state.path[2].result == "allowed"


def test_after_hours_goes_to_message_menu(hotline):
    """Outside business hours (per the injected calendar) the after-hours menu is offered."""
    closed = Engine(hotline, is_open=lambda now: False)
    state, batches = run(closed, [Digits("1")])
    assert batches[1] == [CollectDigits("after_hours", "zh", 1, 5, "#")]
    assert state.path[3].result == "closed"


def test_after_hours_message_becomes_submitted_recording(hotline):
    """Key 1 after hours records a message; the recording is submitted, thanks are played, the IVR hangs up."""
    closed = Engine(hotline, is_open=lambda now: False)
    state, batches = run(closed, [Digits("1"), Digits("1"), Recorded("/rec/m.wav", 12.5)])
    assert batches[2] == [Play("leave_message", "zh"), Record("leave_message-1", 120)]
    assert batches[3][0] == SubmitMessage("/rec/m.wav", 12.5)
    assert batches[3][-1] == Hangup() and Play("message_saved", "zh") in batches[3]
    assert state.outcome == "hangup"


def test_message_left_then_hangup_still_submits(hotline):
    """A caller who hangs up to end the message still has it submitted (the usual way to finish)."""
    closed = Engine(hotline, is_open=lambda now: False)
    state, batches = run(closed, [Digits("1"), Digits("1"), Recorded("/rec/m.wav", 8.0, hung_up=True)])
    assert batches[3] == [SubmitMessage("/rec/m.wav", 8.0)]
    assert state.done and state.outcome == "caller_hangup"


def test_empty_message_is_not_submitted(hotline):
    """Silence instead of a message submits nothing."""
    closed = Engine(hotline, is_open=lambda now: False)
    state, batches = run(closed, [Digits("1"), Digits("1"), Recorded("/rec/m.wav", 0.0)])
    assert not any(isinstance(c, SubmitMessage) for c in batches[3])
    assert batches[3][-1] == Hangup()


def test_callback_request_keeps_the_callers_number(hotline):
    """Key 2 after hours books a callback for the caller's own number and queue."""
    closed = Engine(hotline, is_open=lambda now: False)
    state, batches = run(closed, [Digits("1"), Digits("2"), Result(True)], caller="13800001234")
    assert batches[2] == [RequestCallback("13800001234", "hotline-general", "general", 0)]
    assert Play("callback_booked", "zh") in batches[3] and state.outcome == "hangup"


def test_key_2_reads_the_callers_latest_open_order_without_a_number_to_key_in(hotline):
    """Key 2 first looks up the calling number's latest open order and reads its status and deadline;
    the caller never needs the 13-digit number. Key 1 then asks for another order's number."""
    engine = Engine(hotline)
    order = OrderStatus("2026112300001", "in_progress", datetime(2026, 11, 25, 9, 30, tzinfo=timezone.utc))
    state, batches = run(engine, [Digits("1"), Digits("2"), Result(order), Digits("1")], caller="13812345678")
    assert batches[2] == [Lookup(caller="13812345678")]
    play = batches[3][0]
    assert play.prompt == "my_latest_order" and play.text == (
        "您最近反映的工单2 0 2 6 1 1 2 3 0 0 0 0 1，目前状态：正在办理，办理期限：2026年11月25日17点30分。")
    assert batches[3][1] == CollectDigits("after_lookup", "zh", 1, 5, "#")
    assert batches[4] == [CollectDigits("order_number", "zh", 13, 10, "#")]
    assert {p.node: p.result for p in state.path}["my_orders"] == "found:in_progress"


def test_status_lookup_by_number_reads_status_and_deadline(hotline):
    """With no open order for the calling number, key 2 collects a 13-digit number, looks it up and reads
    state and deadline back in text; a withheld number goes straight to the number entry."""
    engine = Engine(hotline)
    order = OrderStatus("2026112300001", "in_progress", datetime(2026, 11, 25, 9, 30, tzinfo=timezone.utc),
                        summary="联系电话13812345678")
    state, batches = run(engine, [Digits("1"), Digits("2"), Result(None), Digits("2026112300001"), Result(order)])
    assert batches[2] == [Lookup(caller="13800001234")]
    assert batches[3] == [CollectDigits("order_number", "zh", 13, 10, "#")]
    assert batches[4] == [Lookup("2026112300001")]
    play = batches[5][0]
    assert play.prompt == "lookup_result" and play.text == (
        "工单2 0 2 6 1 1 2 3 0 0 0 0 1，目前状态：正在办理，办理期限：2026年11月25日17点30分。")
    assert batches[5][1] == CollectDigits("after_lookup", "zh", 1, 5, "#")
    state, batches = run(engine, [Digits("1"), Digits("2")], caller="")
    assert batches[2] == [CollectDigits("order_number", "zh", 13, 10, "#")]
    assert {p.node: p.result for p in state.path}["my_orders"] == "no_caller_id"


def test_lookup_with_bad_number_reprompts_and_unknown_order_says_so(hotline):
    """A 5-digit entry is rejected before any lookup; an unknown order plays the not-found prompt."""
    engine = Engine(hotline)
    state, batches = run(engine, [Digits("1"), Digits("2"), Result(None), Digits("12345"), Digits("2026112300009#"),
                                  Result(None)])
    assert batches[4] == [Play("bad_order_number", "zh"), CollectDigits("order_number", "zh", 13, 10, "#")]
    assert batches[5] == [Lookup("2026112300009")]
    assert batches[6][0] == Play("lookup_not_found", "zh")


def test_describe_node_records_then_routes_what_the_caller_said(hotline):
    """Key 9 records the caller's description (silence ends it), asks for it to be understood in the
    caller's language, and routes by the proposal: urgent → the urgent queue, else the general one."""
    engine = Engine(hotline)
    state, batches = run(engine, [Digits("1"), Digits("9"), Recorded("/r/d.wav", 6.0)])
    assert batches[2] == [Play("describe_problem", "zh"), Record("describe-1", 30, 2)]
    assert batches[3] == [Understand("/r/d.wav", "zh")] and state.node == "describe"
    state, cmds = engine.step(state, Result({"understood": True, "urgency": "urgent", "department": "water"}), NOW)
    assert cmds[-1] == Transfer("hotline-urgent", "urgent", 10)
    assert state.path[-2].node == "describe" and state.path[-2].result == "heard:urgent"
    state, batches = run(engine, [Digits("2"), Digits("9"), Recorded("/r/e.wav", 4.0),
                                  Result({"understood": True, "urgency": "normal", "department": "housing"})])
    assert batches[3] == [Understand("/r/e.wav", "en")]
    assert batches[4][-1] == Transfer("hotline-general", "general", 0)


def test_describe_node_falls_back_to_keys_when_not_understood(hotline):
    """Low confidence, no recogniser or nothing said: back to the key menu; a hang-up ends the call."""
    engine = Engine(hotline)
    menu = CollectDigits("main_menu", "zh", 1, 5, "#")
    for answer in ({"understood": False, "text": "嗯", "confidence": 0.2}, None):
        state, batches = run(engine, [Digits("1"), Digits("9"), Recorded("/r/d.wav", 3.0), Result(answer)])
        assert batches[4][-1] == menu
        assert state.path[-2].result == ("not_understood" if answer else "no_recognizer")
    state, batches = run(engine, [Digits("1"), Digits("9"), Recorded("/r/d.wav", 0.0)])
    assert batches[3][-1] == menu and state.path[-2].result == "no_speech"
    state, _ = run(engine, [Digits("1"), Digits("9"), Recorded("/r/d.wav", 2.0, hung_up=True)])
    assert state.done and state.outcome == "caller_hangup"


def test_describe_node_without_a_recogniser_goes_straight_back_to_the_keys(hotline):
    """No speech model installed: key 9 does not ask the caller to speak for nothing; the main menu
    comes again at once and the path says why."""
    engine = Engine(hotline, can_understand=lambda: False)
    state, batches = run(engine, [Digits("1"), Digits("9")])
    assert batches[2] == [CollectDigits("main_menu", "zh", 1, 5, "#")]
    assert [(p.node, p.result) for p in state.path][-2] == ("describe", "no_recognizer")


def test_describe_node_department_skill_overrides_the_transfer_skill(hotline):
    """A describe node's skills map sends a water complaint to agents with the water skill."""
    nodes = dict(hotline.nodes)
    describe = nodes["describe"]
    nodes["describe"] = replace(describe, spec={**describe.spec, "skills": {"water": "topic:water"}})
    engine = Engine(replace(hotline, nodes=nodes))
    state, batches = run(engine, [Digits("1"), Digits("9"), Recorded("/r/d.wav", 6.0),
                                  Result({"understood": True, "urgency": "normal", "department": "water"})])
    assert batches[4][-1] == Transfer("hotline-general", "topic:water", 0)
    assert "speech_skill" not in state.vars


def test_hangup_mid_flow_ends_without_commands(hotline):
    """A caller hanging up at a menu ends the call with the path kept."""
    state, batches = run(Engine(hotline), [Digits("1"), HangupSeen()])
    assert batches[-1] == [] and state.done and state.outcome == "caller_hangup"
    assert state.path[-1].node == "main_menu" and state.path[-1].result == "caller_hangup"
    # further events are ignored once done
    assert Engine(hotline).step(state, Digits("1"), NOW) == (state, [])


def test_agi_failure_recovers_once_then_hangs_up(hotline):
    """A 510/520 result sends the caller to on_error (an agent); a second failure hangs up."""
    engine = Engine(hotline)
    state, batches = run(engine, [Failure(510, "Invalid or unknown command")])
    assert batches[1][-1] == Transfer("hotline-general", "general", 0)
    state2, cmds = engine.step(replace(state, done=False), Failure(520), NOW)
    assert cmds == [Hangup()] and state2.outcome == "error"


def test_unexpected_event_is_a_programming_error(hotline):
    """Feeding a recording to a menu raises a stable error id instead of guessing."""
    state, _ = Engine(hotline).start("1", NOW)
    with pytest.raises(IvrError) as info:
        Engine(hotline).step(state, Recorded("/x.wav", 1), NOW)
    assert info.value.error_id == "ivr.engine.unexpected_input"


def test_survey_flow_reads_summary_and_reports_score():
    """The callback survey reads the order summary (masked) and reply, then key 3 reports dissatisfied."""
    survey = load_flow(FLOWS / "survey.yaml")
    engine = Engine(survey)
    order = OrderStatus("2026112300001", "callback_pending", summary="路灯不亮，电话13912345678", reply="已修复")
    state, batches = run(engine, [Result(order), Digits("3"), Timeout()], vars={"WORKORDER": "2026112300001"})
    assert batches[0] == [Play("intro", "zh"), Lookup("2026112300001")]
    assert batches[1][0].text == "您反映的问题：路灯不亮，电话139****5678。办理结果：已修复。"
    assert batches[2][0] == Outcome("survey", "dissatisfied")
    assert batches[3][-1] == Hangup() and state.vars["survey"] == "dissatisfied"


def test_survey_comment_is_reported_as_outcome():
    """A survey comment recording is reported as the ``survey_comment`` outcome, not a new work order."""
    engine = Engine(load_flow(FLOWS / "survey.yaml"))
    state, batches = run(engine, [Result(None), Digits("1"), Digits("1"), Recorded("/r/c.wav", 4)],
                         vars={"WORKORDER": "x"})
    assert Outcome("survey_comment", "/r/c.wav") in batches[4]
    assert not any(isinstance(c, SubmitMessage) for b in batches for c in b)


def test_rating_flow_one_key():
    """After a call, one key rates it; silence just says goodbye with no outcome."""
    engine = Engine(load_flow(FLOWS / "rating.yaml"))
    _, batches = run(engine, [Digits("1")])
    assert batches[1][0] == Outcome("rating", "satisfied")
    _, batches = run(engine, [Timeout()])
    assert not any(isinstance(c, Outcome) for c in batches[1]) and batches[1][-1] == Hangup()


def test_mask_and_grammar_helpers():
    """Phone masking keeps 3+4 digits; an ambiguous utterance matches nothing."""
    assert mask_text("call 13812341234 or 0574-87654321") == "call 138****1234 or 0574-****4321"
    grammar = {"a": ("停水",), "b": ("人工",)}
    assert match_grammar("停水了", grammar) == "a"
    assert match_grammar("停水了转人工", grammar) is None


def test_engine_benchmark_runs_every_call_to_an_end():
    """The benchmark's scripted callers all finish (so its steps/s figure measures whole calls)."""
    from callcenter.bench.ivr import bench_engine

    result = bench_engine(200, seed=1)
    assert result["calls"] == 200 and result["unfinished"] == 0 and result["steps"] >= 600 and result["steps_per_s"] > 0
