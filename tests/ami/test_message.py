"""The AMI message codec: parsing, lookup rules and injection-safe serialising."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from callcenter.ami.message import (
    AMIInjectionError,
    AMIParseError,
    Message,
    parse_message,
    serialize_action,
    serialize_message,
)


def test_split_at_first_colon_space_and_keep_empty_values():
    """Values containing ': ' stay whole and empty values stay empty strings [03, 15]."""
    m = parse_message(b"Event: RequestNotAllowed\r\nRequestType: Action: Ping\r\nAccountCode: ")
    assert m.pairs == (("Event", "RequestNotAllowed"), ("RequestType", "Action: Ping"), ("AccountCode", ""))
    assert m.name == "RequestNotAllowed" and m.kind == "event"


def test_repeated_keys_kept_in_order_and_lookup_is_case_insensitive():
    """ChanVariable repeats are all kept; get() returns the first; keys fold case."""
    m = parse_message("Event: AsyncAGIExec\r\nCommandId: c-1\r\nChanVariable: HOTLINE_CALLID=1.2\r\nChanVariable: WORKORDER=")
    assert m.getall("chanvariable") == ["HOTLINE_CALLID=1.2", "WORKORDER="]
    assert m.get("CommandID") == "c-1" and m["commandid"] == "c-1"
    assert "COMMANDID" in m and "Missing" not in m
    assert m.get("Missing", "d") == "d"
    with pytest.raises(KeyError):
        m["Missing"]


def test_utf8_values_decoded_once_per_message():
    """Raw UTF-8 names survive; undecodable bytes are replaced, not fatal."""
    m = parse_message("Event: Newchannel\r\nCallerIDName: 张三".encode())
    assert m.get("CallerIDName") == "张三"
    bad = parse_message(b"Event: Newchannel\r\nCallerIDName: \xff\xfe")
    assert bad.get("CallerIDName") == "\ufffd\ufffd"


def test_message_is_immutable_and_hashable():
    """Messages are shared between subscribers, so none can modify one."""
    m = Message([("Response", "Success")])
    with pytest.raises(AttributeError):
        m.pairs = ()
    assert hash(m) == hash(Message((("Response", "Success"),)))
    assert m.name == "Success" and m.is_response and m.action_id is None


def test_malformed_lines_raise_typed_error():
    """A line without a colon or an empty frame is a parse error, not a crash."""
    with pytest.raises(AMIParseError) as info:
        parse_message(b"Response: Success\r\njunk line")
    assert info.value.error_id == "ami.malformed"
    with pytest.raises(AMIParseError):
        parse_message(b"")


def test_lenient_colon_without_space():
    """'Key:Value' (no space) is accepted as Asterisk itself accepts it."""
    assert parse_message(b"Action:Ping\r\nActionID:x").pairs == (("Action", "Ping"), ("ActionID", "x"))


def test_serialize_action_order_and_repeats():
    """Action comes first, then headers in order; lists and pairs repeat keys."""
    wire = serialize_action("Originate", [("ActionID", "o-1"), ("Variable", "A=1"), ("Variable", "B=2")])
    assert wire == b"Action: Originate\r\nActionID: o-1\r\nVariable: A=1\r\nVariable: B=2\r\n\r\n"
    wire = serialize_action("Originate", {"Async": True, "Variable": ["A=1", "B=2"], "Skip": None, "Timeout": 30000})
    assert wire == b"Action: Originate\r\nAsync: true\r\nVariable: A=1\r\nVariable: B=2\r\nTimeout: 30000\r\n\r\n"


@pytest.mark.parametrize(
    "headers",
    [
        {"CallerID": "x\r\nAction: Hangup"},
        {"Value": "line\nbreak"},
        {"Value": "cr\ronly"},
        [("Bad\r\nKey", "v")],
        [("Bad: Key", "v")],
        [("", "v")],
        {"Action": "Hangup"},
    ],
)
def test_injection_refused(headers):
    """CR/LF in any key or value (or a second Action) is refused before any byte is written."""
    with pytest.raises(AMIInjectionError) as info:
        serialize_action("Setvar", headers)
    assert info.value.error_id == "ami.injection"


def test_serialize_message_round_trip_server_side():
    """The simulator's writer produces exactly what the parser reads back."""
    pairs = [("Response", "Success"), ("ActionID", "a1"), ("Output", ""), ("Output", "x: y ")]
    wire = serialize_message(pairs)
    assert wire.endswith(b"\r\n\r\n")
    assert parse_message(wire[:-4]).pairs == tuple(pairs)
    assert Message(pairs).to_bytes() == wire


_key = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FFF, blacklist_characters=":"), min_size=1, max_size=12)
_value = st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=40)


@given(st.lists(st.tuples(_key, _value), min_size=1, max_size=10))
def test_round_trip_property(pairs):
    """Any safe pairs survive serialise → parse unchanged (values with ': ' included)."""
    wire = serialize_message(pairs)
    parsed = parse_message(wire[:-4])
    assert parsed.pairs == tuple((k, v) for k, v in pairs)


@given(_value.filter(lambda v: v != ""), st.sampled_from(["\r", "\n", "\r\n"]), _value)
def test_any_crlf_in_value_refused_property(head, brk, tail):
    """Wherever CR or LF sits in a value, serialising refuses it."""
    with pytest.raises(AMIInjectionError):
        serialize_action("UserEvent", [("UserEvent", "X"), ("Text", head + brk + tail)])


def test_last_and_get_on_wire_messages():
    """get() returns the first occurrence, last() the last; both fold case and miss cleanly."""
    m = Message.from_frame(b"Event: Status\r\nVariable: A=1\r\nUniqueid: 1.1\r\nVariable: B=2\r\nCommandId: c")
    assert m.get("Variable") == "A=1" and m.last("Variable") == "B=2"
    assert m.last("Uniqueid") == m.get("Uniqueid") == "1.1"
    assert m.get("CommandID") == "c" and m.last("commandid") == "c"
    assert m.get("Nope") is None and m.last("Nope", "d") == "d" and "Nope" not in m
    assert m.getall("Variable") == ["A=1", "B=2"] and m.getall("VARIABLE") == ["A=1", "B=2"] and m.getall("Nope") == []
    assert m.name == "Status" and m.kind == "event"
    assert m == Message([("Event", "Status"), ("Variable", "A=1"), ("Uniqueid", "1.1"), ("Variable", "B=2"), ("CommandId", "c")])
    built = Message([("Event", "X"), ("K", "1"), ("k", "2")])
    assert built.get("k") == "1" and built.last("K") == "2"


def test_scan_reads_keys_in_order_and_out_of_order():
    """scan() returns values of keys in the usual order, still finds one out of order, None when absent."""
    m = Message.from_frame(b"Event: Newchannel\r\nChannel: PJSIP/1-1\r\nChannelState: 4\r\nContext: hotline-in\r\nExten: 12345")
    assert m.scan(["Channel", "ChannelState", "Context", "Exten"]) == ["PJSIP/1-1", "4", "hotline-in", "12345"]
    assert m.scan(["Exten", "Channel", "Missing"]) == ["12345", "PJSIP/1-1", None]
    assert Message([("A", "1"), ("B", "2")]).scan(["B", "A"]) == ["2", "1"]


def test_search_reads_a_header_block_in_one_pass():
    """search() runs a pattern over a wire message's text (CRLF-anchored headers, UTF-8 decoded once)
    and gives None for a message built from pairs, so callers know to fall back to get()."""
    import re

    pattern = re.compile(r"\r\nCallerIDNum: ([^\r\n]*)\r\nCallerIDName: ([^\r\n]*)")
    wire = Message.from_event_frame("Event: Newchannel\r\nCallerIDNum: 139\r\nCallerIDName: 张三".encode())
    assert wire.search(pattern).groups() == ("139", "张三")
    assert Message([("Event", "Newchannel"), ("CallerIDNum", "139")]).search(pattern) is None
