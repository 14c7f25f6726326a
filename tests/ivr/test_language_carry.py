"""The caller's language carries over: choosing English in the main flow sets HOTLINE_LANG on the channel,
and the rating after the agent (same channel) and the satisfaction callback (the variable set by the
callback worker) speak English from their first prompt."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from ivr.engine import LANGUAGE_VAR, CollectDigits, Digits, Engine, Play, SetVar
from ivr.flow import load_flow

FLOWS = Path(__file__).resolve().parents[2] / "ivr" / "flows"
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)


def test_choosing_english_sets_the_channel_language_variable():
    engine = Engine(load_flow(FLOWS / "hotline.yaml"))
    state, _ = engine.start("13800001234", NOW)
    state, commands = engine.step(state, Digits("2"), NOW)
    assert SetVar(LANGUAGE_VAR, "en") in commands and state.lang == "en"


@pytest.mark.parametrize("flow", ["rating", "survey"])
def test_later_flows_start_in_the_language_the_caller_chose(flow):
    engine = Engine(load_flow(FLOWS / f"{flow}.yaml"))
    assert LANGUAGE_VAR in engine.flow.channel_vars   # the runner reads it off the channel first
    state, commands = engine.start("13800001234", NOW, {LANGUAGE_VAR: "en"})
    first = next(c for c in commands if isinstance(c, (Play, CollectDigits)))
    assert state.lang == "en" and first.lang == "en"


def test_an_unknown_or_missing_language_falls_back_to_the_flows_default():
    engine = Engine(load_flow(FLOWS / "rating.yaml"))
    assert engine.start("13800001234", NOW, {LANGUAGE_VAR: "fr"})[0].lang == "zh"
    assert engine.start("13800001234", NOW, {})[0].lang == "zh"
