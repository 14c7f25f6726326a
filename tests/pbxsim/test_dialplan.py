"""The dialplan reader and evaluator, and the contract with the shipped extensions.conf."""
from __future__ import annotations

import pytest

from callcenter.pbxsim.dialplan import Dialplan, DialplanError, evaluate, hotline_dialplan, substitute
from tests.conftest import ROOT

SHIPPED = ROOT / "docker" / "asterisk" / "extensions.conf"
#: contexts the simulator runs differently on purpose: citizens' phones are scripted participants
SIMULATED_CONTEXTS = {"hotline-pstn"}


def test_simulator_runs_the_shipped_hotline_dialplan():
    """Every context of docker/asterisk/extensions.conf has the same steps in the simulator (except hotline-pstn)."""
    shipped = Dialplan.parse(SHIPPED.read_text(encoding="utf-8"))
    mine = hotline_dialplan()
    assert set(shipped.contexts) == set(mine.contexts)
    assert shipped.globals == mine.globals
    for context, exts in shipped.contexts.items():
        if context in SIMULATED_CONTEXTS:
            continue
        assert set(exts) == set(mine.contexts[context]), context
        for pattern, ext in exts.items():
            got = [(s.priority, s.label, s.app, s.data) for s in mine.contexts[context][pattern].steps]
            want = [(s.priority, s.label, s.app, s.data) for s in ext.steps]
            assert got == want, (context, pattern)


def test_pattern_matching_prefers_exact_and_specific():
    """Exact extensions beat patterns; _1XXX beats _X. for 1001; '.' needs at least one more digit."""
    plan = Dialplan.parse("""
[c]
exten => _X.,1,NoOp(any)
exten => _1XXX,1,NoOp(desk)
exten => 1001,1,NoOp(exact)
exten => _[2-3]!,1,NoOp(set)
""")
    assert plan.find("c", "1001").steps[0].data == "exact"
    assert plan.find("c", "1002").steps[0].data == "desk"
    assert plan.find("c", "12345").steps[0].data == "any"
    assert plan.find("c", "2").steps[0].data == "set"
    assert plan.find("c", "5") is None
    assert plan.find("nope", "1") is None


def test_labels_and_priorities():
    """'n' counts on from the previous priority; labels resolve to their priority."""
    plan = hotline_dialplan()
    ext = plan.find("hotline-connect", "s")
    assert [s.priority for s in ext.steps] == list(range(1, 10))
    assert ext.label("answered") == 8 and ext.label("requeue") == 5


def test_substitution_and_expressions():
    """${VAR}, functions, nested IF with $[…] comparisons, innermost first."""
    values = {"RING_TIMEOUT": "", "HOTLINE_RING_TIMEOUT": "15", "X": "hangup"}
    look = lambda name, arg: f"<{arg}>" if arg is not None else values.get(name, "")  # noqa: E731
    text = "${IF($[\"${RING_TIMEOUT}\" = \"\"]?${HOTLINE_RING_TIMEOUT}:${RING_TIMEOUT})}"
    assert substitute(text, look) == "15"
    values["RING_TIMEOUT"] = "8"
    assert substitute(text, look) == "8"
    assert substitute('$["${X}" = "hangup"]', look) == "1"
    assert substitute("${CALLERID(num)}-${X:0:4}", look) == "<num>-hang"
    assert evaluate("3 > 20") == "0" and evaluate('"a" != "b"') == "1"


def test_bad_dialplan_is_refused():
    """An unreadable line is reported with its line number."""
    with pytest.raises(DialplanError) as err:
        Dialplan.parse("[c]\nexten => 1,one,NoOp()\n")
    assert err.value.details["line"] == 2
