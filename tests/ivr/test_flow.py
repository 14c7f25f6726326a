"""Flow loading and validation: every class of broken file is caught with its
error id and line, and the shipped flows are valid."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ivr.flow import FlowError, key_presses, load_flow, parse_flow

FLOWS = Path(__file__).resolve().parents[2] / "ivr" / "flows"

GOOD = """\
name: t
languages: [zh, en]
start: menu
prompts:
  hello: {zh: 你好, en: Hello}
  bye: {zh: 再见, en: Bye}
nodes:
  menu:
    kind: menu
    prompt: hello
    options: {1: queue, 2: bye}
    fallback: queue
  queue:
    kind: transfer
    queue: q1
    skill: general
    priority: 3
  bye:
    kind: hangup
    prompt: bye
"""


def problems(text: str) -> list:
    with pytest.raises(FlowError) as info:
        parse_flow(textwrap.dedent(text), "t.yaml")
    return info.value.problems


def ids(text: str) -> set[str]:
    return {p.error_id for p in problems(text)}


def test_good_flow_loads_with_normalised_options():
    """A valid flow loads; integer YAML keys become DTMF strings and defaults are filled."""
    flow = parse_flow(GOOD, "t.yaml")
    assert flow.node("menu").options == {"1": "queue", "2": "bye"}
    assert flow.node("menu").get("retries") == 2
    assert flow.node("queue").get("priority") == 3


@pytest.mark.parametrize("name", ["hotline", "survey", "rating"])
def test_shipped_flows_are_valid(name):
    """The flows the project ships load without a single problem."""
    assert load_flow(FLOWS / f"{name}.yaml").name == name


def test_unknown_kind_reports_line():
    """An unknown node kind is reported with the line of its ``kind:``."""
    found = problems(GOOD.replace("kind: hangup", "kind: teleport"))
    (p,) = [p for p in found if p.error_id == "ivr.flow.unknown_kind"]
    assert p.node == "bye" and p.line == 19 and p.file == "t.yaml"


def test_missing_target():
    """An option leading to a node that does not exist is an error naming the node."""
    found = problems(GOOD.replace("2: bye}", "2: nowhere}"))
    assert any(p.error_id == "ivr.flow.missing_target" and "nowhere" in p.message for p in found)


def test_unreachable_node():
    """A node no path from the start reaches is reported."""
    text = GOOD + "  orphan:\n    kind: hangup\n"
    found = problems(text)
    assert [p.node for p in found if p.error_id == "ivr.flow.unreachable"] == ["orphan"]


def test_loop_without_exit():
    """Plays that lead only to each other trap callers: each is reported."""
    text = GOOD.replace("2: bye}", "2: a}") + (
        "  a:\n    kind: play\n    prompt: bye\n    next: b\n"
        "  b:\n    kind: play\n    prompt: bye\n    next: a\n")
    found = problems(text)
    assert {p.node for p in found if p.error_id == "ivr.flow.loop_without_exit"} == {"a", "b"}


def test_missing_prompt_language_and_missing_prompt():
    """A prompt without English text, and a node naming an undefined prompt, are both caught."""
    text = GOOD.replace("bye: {zh: 再见, en: Bye}", "bye: {zh: 再见}").replace("prompt: hello", "prompt: hullo")
    found = problems(text)
    assert {p.error_id for p in found} >= {"ivr.flow.missing_prompt"}
    messages = " ".join(p.message for p in found)
    assert "'en'" in messages and "hullo" in messages


@pytest.mark.parametrize("key", ["10", "a", "''"])
def test_bad_option_keys(key):
    """Option keys must be single DTMF keys."""
    assert "ivr.flow.bad_option_key" in ids(GOOD.replace("2: bye}", f"{key}: bye}}"))


def test_duplicate_node_ids_report_both_lines():
    """A node id defined twice is an error (PyYAML would silently keep the last)."""
    text = GOOD + "  bye:\n    kind: hangup\n"
    (p,) = [p for p in problems(text) if p.error_id == "ivr.flow.duplicate_id"]
    assert p.line == 21 and "line 18" in p.message


def test_yaml_syntax_error_has_line():
    """Broken YAML is one problem with its line, not a traceback."""
    (p,) = problems("name: t\nnodes: [\n")
    assert p.error_id == "ivr.flow.yaml" and p.line is not None


def test_unknown_field_and_missing_required_field():
    """Typos in field names and missing required fields are caught per node."""
    text = GOOD.replace("    fallback: queue\n", "    fallbak: queue\n")
    assert {"ivr.flow.bad_field", "ivr.flow.missing_field"} <= ids(text)


def test_lookup_template_fields_are_checked():
    """A read-back template may only use fields the lookup provides."""
    text = GOOD.replace("hello: {zh: 你好, en: Hello}", "hello: {zh: 你好, en: Hello}\n  res: {zh: '{status}', en: '{phone}'}")
    text = text.replace("2: bye}", "2: look}") + "  look:\n    kind: lookup\n    var: n\n    prompt: res\n    next: bye\n    not_found: bye\n"
    found = problems(text)
    assert any(p.error_id == "ivr.flow.bad_field" and "phone" in p.message for p in found)


@pytest.mark.parametrize("fields, message", [
    ("    var: n\n    by: caller\n", "either var"),
    ("", "either var"),
    ("    by: callee\n", "only 'caller'"),
])
def test_a_lookup_names_either_a_keyed_number_or_the_caller(fields, message):
    """A lookup reads a keyed-in number (var) or the caller's own latest order (by: caller), never both or
    neither, and `by` knows only the caller."""
    text = GOOD.replace("2: bye}", "2: look}") + (
        "  look:\n    kind: lookup\n" + fields + "    prompt: bye\n    next: bye\n    not_found: bye\n")
    found = problems(text)
    assert any(p.error_id == "ivr.flow.bad_field" and message in p.message for p in found), found
    good = GOOD.replace("2: bye}", "2: look}") + (
        "  look:\n    kind: lookup\n    by: caller\n    prompt: bye\n    next: bye\n    not_found: bye\n")
    assert parse_flow(textwrap.dedent(good), "t.yaml").node("look").get("by") == "caller"


def test_hotline_reaches_an_agent_in_two_key_presses():
    """GB/T 33358: from the start, every queue is reachable pressing at most two keys
    during business hours, without relying on timeouts or invalid input."""
    flow = load_flow(FLOWS / "hotline.yaml")
    chosen = lambda e: e.label.startswith("key") or e.label in ("next", "open", "allowed")  # noqa: E731
    presses = key_presses(flow, chosen)
    transfers = {n for n, node in flow.nodes.items() if node.kind == "transfer"}
    assert transfers == {"urgent_queue", "general_queue"}
    assert all(presses[t] <= 2 for t in transfers), presses
    # and the after-hours branch leads to both a message and a callback
    closed = key_presses(flow, lambda e: e.label not in ("open", "restricted"))
    assert closed["leave_message"] <= 2 and closed["callback"] <= 2
    # a restricted caller reaches the message, and no queue, whatever the keys and the hours
    restricted = key_presses(flow, lambda e: e.label != "allowed")
    assert "leave_message" in restricted and transfers.isdisjoint(restricted) and "callback" not in restricted


def test_key_presses_counts_a_deeper_menu():
    """The graph search is not vacuous: adding a menu level in front of the queue makes it 3 presses."""
    flow = load_flow(FLOWS / "hotline.yaml")
    text = (FLOWS / "hotline.yaml").read_text("utf-8").replace(
        "      3: general_queue\n", "      3: extra\n").replace(
        "  urgent_queue:\n", "  extra:\n    kind: menu\n    prompt: no_input\n    options: {1: urgent_queue}\n"
        "    fallback: goodbye\n  urgent_queue:\n", 1).replace("      1: urgent_queue\n", "      1: extra\n", 1)
    deeper = parse_flow(text, "deeper.yaml")
    chosen = lambda e: e.label.startswith("key") or e.label in ("next", "open", "allowed")  # noqa: E731
    assert key_presses(deeper, chosen)["urgent_queue"] == 3
    assert key_presses(flow, chosen)["urgent_queue"] == 2


def test_library_reload_refuses_broken_files_and_keeps_serving(tmp_path):
    """A reload that meets a broken file raises and keeps the flows in service; aliases map AGI args."""
    from ivr.library import FlowLibrary

    (tmp_path / "t.yaml").write_text(GOOD, "utf-8")
    library = FlowLibrary(tmp_path, aliases={"ivr": "t"})
    serving = library.get("ivr")
    assert serving is not None and library.get("requeue") is None
    (tmp_path / "t.yaml").write_text(GOOD.replace("kind: hangup", "kind: boom"), "utf-8")
    with pytest.raises(FlowError):
        library.reload()
    assert library.get("ivr") is serving
