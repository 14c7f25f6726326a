"""Typed AMI events: frozen dataclasses built on demand from a Message.

The protocol dispatches raw :class:`~callcenter.ami.message.Message` objects
(cheap); a subscriber that wants types calls :func:`from_message` (or
subscribes with ``typed=True``) and pays for the conversion only then.  Event
names Asterisk spells irregularly (``Newexten``, ``Cause-txt``) are mapped
here once.  Events without a class become :class:`GenericEvent`, so nothing
is ever dropped.

Also here: AsyncAGI helpers — :func:`parse_agi_env` for ``AsyncAGIStart``'s
URL-encoded ``Env`` and :func:`parse_agi_result` for the ``Result`` of
``AsyncAGIExec`` (``200 result=X (data) endpos=N``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar
from urllib.parse import unquote

from callcenter.ami.message import Message


def _int(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _str(value: str | None) -> str | None:
    return value


def _yes(value: str | None) -> bool:
    return (value or "").lower() in ("1", "yes", "true", "on")


@dataclass(frozen=True, slots=True)
class ChannelSnapshot:
    """The channel fields Asterisk puts in every channel event."""

    channel: str
    state: int | None
    state_desc: str | None
    caller_id_num: str | None
    caller_id_name: str | None
    connected_line_num: str | None
    connected_line_name: str | None
    language: str | None
    account_code: str | None
    context: str | None
    exten: str | None
    priority: int | None
    uniqueid: str | None
    linkedid: str | None
    variables: tuple[tuple[str, str], ...] = ()

    def var(self, name: str, default: str | None = None) -> str | None:
        """A ``ChanVariable`` (``channelvars`` in manager.conf) by name."""
        for key, value in self.variables:
            if key == name:
                return value
        return default


def _split_var(text: str) -> tuple[str, str]:
    key, _, value = text.partition("=")
    return key, value


def snapshot(message: Message, prefix: str = "") -> ChannelSnapshot | None:
    """The (``prefix``-ed, e.g. ``Dest``) channel snapshot in ``message``."""
    get = message.get
    channel = get(prefix + "Channel")
    uniqueid = get(prefix + "Uniqueid")
    if channel is None and uniqueid is None:
        return None
    return ChannelSnapshot(
        channel=channel or "",
        state=_int(get(prefix + "ChannelState")),
        state_desc=get(prefix + "ChannelStateDesc"),
        caller_id_num=get(prefix + "CallerIDNum"),
        caller_id_name=get(prefix + "CallerIDName"),
        connected_line_num=get(prefix + "ConnectedLineNum"),
        connected_line_name=get(prefix + "ConnectedLineName"),
        language=get(prefix + "Language"),
        account_code=get(prefix + "AccountCode"),
        context=get(prefix + "Context"),
        exten=get(prefix + "Exten"),
        priority=_int(get(prefix + "Priority")),
        uniqueid=uniqueid,
        linkedid=get(prefix + "Linkedid"),
        variables=tuple(_split_var(v) for v in message.getall(prefix + "ChanVariable")),
    )


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every typed event: its name and the raw message behind it."""

    name: str
    message: Message = field(repr=False, compare=False)

    fields_map: ClassVar[tuple] = ()

    def get(self, key: str, default=None):
        """Any header of the underlying message (case-insensitive)."""
        return self.message.get(key, default)

    @property
    def action_id(self) -> str | None:
        return self.message.get("ActionID")


@dataclass(frozen=True, slots=True)
class GenericEvent(Event):
    """An event the hotline has no class for; read it with :meth:`get`."""


@dataclass(frozen=True, slots=True)
class ChannelEvent(Event):
    """An event about a channel (``channel``) and maybe a second one (``dest``)."""

    channel: ChannelSnapshot | None
    dest: ChannelSnapshot | None

    @property
    def uniqueid(self) -> str | None:
        return self.channel.uniqueid if self.channel else None

    @property
    def linkedid(self) -> str | None:
        return self.channel.linkedid if self.channel else None


# -- channel lifecycle ----------------------------------------------------
@dataclass(frozen=True, slots=True)
class Newchannel(ChannelEvent):
    pass


@dataclass(frozen=True, slots=True)
class Newstate(ChannelEvent):
    pass


@dataclass(frozen=True, slots=True)
class NewCallerid(ChannelEvent):
    pass


@dataclass(frozen=True, slots=True)
class NewConnectedLine(ChannelEvent):
    pass


@dataclass(frozen=True, slots=True)
class Newexten(ChannelEvent):
    extension: str | None
    application: str | None
    app_data: str | None
    fields_map: ClassVar[tuple] = (("extension", "Extension", _str), ("application", "Application", _str), ("app_data", "AppData", _str))


@dataclass(frozen=True, slots=True)
class VarSet(ChannelEvent):
    variable: str | None
    value: str | None
    fields_map: ClassVar[tuple] = (("variable", "Variable", _str), ("value", "Value", _str))


@dataclass(frozen=True, slots=True)
class Hangup(ChannelEvent):
    cause: int | None
    cause_txt: str | None
    fields_map: ClassVar[tuple] = (("cause", "Cause", _int), ("cause_txt", "Cause-txt", _str))


@dataclass(frozen=True, slots=True)
class HangupRequest(ChannelEvent):
    cause: int | None
    fields_map: ClassVar[tuple] = (("cause", "Cause", _int),)


@dataclass(frozen=True, slots=True)
class SoftHangupRequest(ChannelEvent):
    cause: int | None
    fields_map: ClassVar[tuple] = (("cause", "Cause", _int),)


# -- dialing and bridges --------------------------------------------------
@dataclass(frozen=True, slots=True)
class DialBegin(ChannelEvent):
    dial_string: str | None
    fields_map: ClassVar[tuple] = (("dial_string", "DialString", _str),)


@dataclass(frozen=True, slots=True)
class DialEnd(ChannelEvent):
    dial_status: str | None
    fields_map: ClassVar[tuple] = (("dial_status", "DialStatus", _str),)


@dataclass(frozen=True, slots=True)
class DialState(ChannelEvent):
    dial_status: str | None
    fields_map: ClassVar[tuple] = (("dial_status", "DialStatus", _str),)


_BRIDGE = (
    ("bridge_uniqueid", "BridgeUniqueid", _str),
    ("bridge_type", "BridgeType", _str),
    ("bridge_num_channels", "BridgeNumChannels", _int),
)


@dataclass(frozen=True, slots=True)
class BridgeCreate(ChannelEvent):
    bridge_uniqueid: str | None
    bridge_type: str | None
    bridge_num_channels: int | None
    fields_map: ClassVar[tuple] = _BRIDGE


@dataclass(frozen=True, slots=True)
class BridgeEnter(ChannelEvent):
    bridge_uniqueid: str | None
    bridge_type: str | None
    bridge_num_channels: int | None
    fields_map: ClassVar[tuple] = _BRIDGE


@dataclass(frozen=True, slots=True)
class BridgeLeave(ChannelEvent):
    bridge_uniqueid: str | None
    bridge_type: str | None
    bridge_num_channels: int | None
    fields_map: ClassVar[tuple] = _BRIDGE


@dataclass(frozen=True, slots=True)
class BridgeDestroy(ChannelEvent):
    bridge_uniqueid: str | None
    bridge_type: str | None
    bridge_num_channels: int | None
    fields_map: ClassVar[tuple] = _BRIDGE


@dataclass(frozen=True, slots=True)
class LocalBridge(Event):
    """The two halves of a Local channel were joined."""

    one: ChannelSnapshot | None
    two: ChannelSnapshot | None


# -- DTMF -----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DTMFBegin(ChannelEvent):
    digit: str | None
    direction: str | None
    fields_map: ClassVar[tuple] = (("digit", "Digit", _str), ("direction", "Direction", _str))


@dataclass(frozen=True, slots=True)
class DTMFEnd(ChannelEvent):
    digit: str | None
    direction: str | None
    duration_ms: int | None
    fields_map: ClassVar[tuple] = (("digit", "Digit", _str), ("direction", "Direction", _str), ("duration_ms", "DurationMs", _int))


# -- AsyncAGI ---------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AGIResult:
    """A parsed AGI answer: ``200 result=12``, ``200 result=1 (data) endpos=N``,
    ``510 Invalid or unknown command``."""

    code: int
    result: str | None
    data: str | None
    endpos: int | None
    text: str

    @property
    def ok(self) -> bool:
        return self.code == 200

    @property
    def value(self) -> int | None:
        """``result`` as an integer (digit code, success flag), if it is one."""
        return _int(self.result)

    @property
    def digit(self) -> str | None:
        """For ``WAIT FOR DIGIT``/``STREAM FILE``: the key pressed (None for 0/-1)."""
        code = self.value
        return chr(code) if code is not None and code > 0 else None


_AGI = re.compile(r"^(\d{3})[ -]?(.*)$", re.S)
_AGI_RESULT = re.compile(r"result=(-?[^\s(]*)(?:\s+\((.*?)\))?(?:.*?\bendpos=(-?\d+))?", re.S)


def parse_agi_result(text: str, url_encoded: bool = True) -> AGIResult:
    """Parse an AGI answer (URL-encoded as in ``AsyncAGIExec``'s ``Result``)."""
    raw = unquote(text) if url_encoded else text
    line = raw.strip()
    m = _AGI.match(line)
    if not m:
        return AGIResult(code=0, result=None, data=None, endpos=None, text=line)
    code, rest = int(m.group(1)), m.group(2)
    r = _AGI_RESULT.search(rest)
    if r is None:
        return AGIResult(code=code, result=None, data=None, endpos=None, text=rest)
    return AGIResult(code=code, result=r.group(1), data=r.group(2), endpos=_int(r.group(3)), text=rest)


def parse_agi_env(env: str | None) -> dict[str, str]:
    """``AsyncAGIStart``'s ``Env``: URL-decoded ``agi_*: value`` lines as a dict."""
    out: dict[str, str] = {}
    if not env:
        return out
    for line in unquote(env).split("\n"):
        key, sep, value = line.partition(": ")
        if not sep:
            key, sep, value = line.partition(":")
            value = value.strip()
        if sep and key:
            out[key] = value
    return out


@dataclass(frozen=True, slots=True)
class AsyncAGIStart(ChannelEvent):
    env: dict = field(hash=False)
    fields_map: ClassVar[tuple] = (("env", "Env", parse_agi_env),)

    @property
    def args(self) -> list[str]:
        """``agi_arg_1``, ``agi_arg_2``, … in order."""
        out, n = [], 1
        while f"agi_arg_{n}" in self.env:
            out.append(self.env[f"agi_arg_{n}"])
            n += 1
        return out


def _agi_result(value: str | None) -> AGIResult | None:
    return parse_agi_result(value) if value is not None else None


@dataclass(frozen=True, slots=True)
class AsyncAGIExec(ChannelEvent):
    command_id: str | None
    result: AGIResult | None
    fields_map: ClassVar[tuple] = (("command_id", "CommandId", _str), ("result", "Result", _agi_result))


@dataclass(frozen=True, slots=True)
class AsyncAGIEnd(ChannelEvent):
    pass


@dataclass(frozen=True, slots=True)
class AGIExecStart(ChannelEvent):
    command_id: str | None
    command: str | None
    fields_map: ClassVar[tuple] = (("command_id", "CommandId", _str), ("command", "Command", _str))


@dataclass(frozen=True, slots=True)
class AGIExecEnd(ChannelEvent):
    command_id: str | None
    command: str | None
    result_code: int | None
    result: str | None
    fields_map: ClassVar[tuple] = (
        ("command_id", "CommandId", _str),
        ("command", "Command", _str),
        ("result_code", "ResultCode", _int),
        ("result", "Result", _str),
    )


# -- queues and agents ------------------------------------------------------
_QCALLER = (("queue", "Queue", _str), ("position", "Position", _int), ("count", "Count", _int))


@dataclass(frozen=True, slots=True)
class QueueCallerJoin(ChannelEvent):
    queue: str | None
    position: int | None
    count: int | None
    fields_map: ClassVar[tuple] = _QCALLER


@dataclass(frozen=True, slots=True)
class QueueCallerLeave(ChannelEvent):
    queue: str | None
    position: int | None
    count: int | None
    fields_map: ClassVar[tuple] = _QCALLER


@dataclass(frozen=True, slots=True)
class QueueCallerAbandon(ChannelEvent):
    queue: str | None
    position: int | None
    original_position: int | None
    hold_time: int | None
    fields_map: ClassVar[tuple] = (
        ("queue", "Queue", _str),
        ("position", "Position", _int),
        ("original_position", "OriginalPosition", _int),
        ("hold_time", "HoldTime", _int),
    )


_MEMBER = (
    ("queue", "Queue", _str),
    ("member_name", "MemberName", _str),
    ("interface", "Interface", _str),
    ("status", "Status", _int),
    ("paused", "Paused", _yes),
    ("paused_reason", "PausedReason", _str),
    ("in_call", "InCall", _yes),
    ("calls_taken", "CallsTaken", _int),
    ("penalty", "Penalty", _int),
)


@dataclass(frozen=True, slots=True)
class QueueMemberEvent(Event):
    """Base of ``QueueMember*`` events (device ``status``: 1 idle, 2 in use, 6 ringing…)."""

    queue: str | None
    member_name: str | None
    interface: str | None
    status: int | None
    paused: bool
    paused_reason: str | None
    in_call: bool
    calls_taken: int | None
    penalty: int | None
    fields_map: ClassVar[tuple] = _MEMBER


@dataclass(frozen=True, slots=True)
class QueueMemberStatus(QueueMemberEvent):
    pass


@dataclass(frozen=True, slots=True)
class QueueMemberAdded(QueueMemberEvent):
    pass


@dataclass(frozen=True, slots=True)
class QueueMemberRemoved(QueueMemberEvent):
    pass


@dataclass(frozen=True, slots=True)
class QueueMemberPause(QueueMemberEvent):
    pass


@dataclass(frozen=True, slots=True)
class QueueMemberPenalty(QueueMemberEvent):
    pass


@dataclass(frozen=True, slots=True)
class QueueMemberRinginuse(QueueMemberEvent):
    pass


_AGENT = (("queue", "Queue", _str), ("interface", "Interface", _str), ("member_name", "MemberName", _str))


@dataclass(frozen=True, slots=True)
class AgentCalled(ChannelEvent):
    queue: str | None
    interface: str | None
    member_name: str | None
    fields_map: ClassVar[tuple] = _AGENT


@dataclass(frozen=True, slots=True)
class AgentRingNoAnswer(ChannelEvent):
    """``ring_time_ms`` is in milliseconds here (seconds in AgentConnect)."""

    queue: str | None
    interface: str | None
    member_name: str | None
    ring_time_ms: int | None
    fields_map: ClassVar[tuple] = _AGENT + (("ring_time_ms", "RingTime", _int),)


@dataclass(frozen=True, slots=True)
class AgentConnect(ChannelEvent):
    """``ring_time`` is in seconds here (milliseconds in AgentRingNoAnswer)."""

    queue: str | None
    interface: str | None
    member_name: str | None
    hold_time: int | None
    ring_time: int | None
    fields_map: ClassVar[tuple] = _AGENT + (("hold_time", "HoldTime", _int), ("ring_time", "RingTime", _int))


@dataclass(frozen=True, slots=True)
class AgentComplete(ChannelEvent):
    queue: str | None
    interface: str | None
    member_name: str | None
    hold_time: int | None
    talk_time: int | None
    reason: str | None
    fields_map: ClassVar[tuple] = _AGENT + (
        ("hold_time", "HoldTime", _int),
        ("talk_time", "TalkTime", _int),
        ("reason", "Reason", _str),
    )


@dataclass(frozen=True, slots=True)
class AgentDump(ChannelEvent):
    queue: str | None
    interface: str | None
    member_name: str | None
    fields_map: ClassVar[tuple] = _AGENT


# -- originate, recording, user events, CDR ------------------------------------
@dataclass(frozen=True, slots=True)
class OriginateResponse(Event):
    """Reason: 4 answered, 3 no answer, 5 busy, 8 congestion, 0 failed.
    On failure ``channel`` is the dial string that was sent."""

    response: str | None
    channel: str | None
    context: str | None
    exten: str | None
    reason: int | None
    uniqueid: str | None
    caller_id_num: str | None
    caller_id_name: str | None
    fields_map: ClassVar[tuple] = (
        ("response", "Response", _str),
        ("channel", "Channel", _str),
        ("context", "Context", _str),
        ("exten", "Exten", _str),
        ("reason", "Reason", _int),
        ("uniqueid", "Uniqueid", _str),
        ("caller_id_num", "CallerIDNum", _str),
        ("caller_id_name", "CallerIDName", _str),
    )

    @property
    def answered(self) -> bool:
        return self.response == "Success"


@dataclass(frozen=True, slots=True)
class MixMonitorStart(ChannelEvent):
    pass


@dataclass(frozen=True, slots=True)
class MixMonitorStop(ChannelEvent):
    pass


@dataclass(frozen=True, slots=True)
class MixMonitorMute(ChannelEvent):
    direction: str | None
    state: bool
    fields_map: ClassVar[tuple] = (("direction", "Direction", _str), ("state", "State", _yes))


_STANDARD = frozenset(
    k.lower()
    for k in (
        "Event Privilege Channel ChannelState ChannelStateDesc CallerIDNum CallerIDName ConnectedLineNum "
        "ConnectedLineName Language AccountCode Context Exten Priority Uniqueid Linkedid ChanVariable UserEvent ActionID"
    ).split()
)


def _user_headers(message: Message) -> tuple[tuple[str, str], ...]:
    return tuple((k, v) for k, v in message.pairs if k.lower() not in _STANDARD)


@dataclass(frozen=True, slots=True)
class UserEvent(ChannelEvent):
    """``UserEvent(Name,K: V)`` from the dialplan or the ``UserEvent`` action;
    ``headers`` holds the user's own ``K: V`` pairs."""

    user_event: str | None
    headers: tuple[tuple[str, str], ...]
    fields_map: ClassVar[tuple] = (("user_event", "UserEvent", _str),)


@dataclass(frozen=True, slots=True)
class Cdr(Event):
    source: str | None
    destination: str | None
    destination_context: str | None
    channel: str | None
    destination_channel: str | None
    last_application: str | None
    disposition: str | None
    duration: int | None
    billable_seconds: int | None
    unique_id: str | None
    user_field: str | None
    fields_map: ClassVar[tuple] = (
        ("source", "Source", _str),
        ("destination", "Destination", _str),
        ("destination_context", "DestinationContext", _str),
        ("channel", "Channel", _str),
        ("destination_channel", "DestinationChannel", _str),
        ("last_application", "LastApplication", _str),
        ("disposition", "Disposition", _str),
        ("duration", "Duration", _int),
        ("billable_seconds", "BillableSeconds", _int),
        ("unique_id", "UniqueID", _str),
        ("user_field", "UserField", _str),
    )


@dataclass(frozen=True, slots=True)
class CoreShowChannel(ChannelEvent):
    """A live channel in a ``CoreShowChannels`` list (used for resync)."""

    application: str | None
    application_data: str | None
    duration: str | None
    bridge_id: str | None
    fields_map: ClassVar[tuple] = (
        ("application", "Application", _str),
        ("application_data", "ApplicationData", _str),
        ("duration", "Duration", _str),
        ("bridge_id", "BridgeId", _str),
    )


@dataclass(frozen=True, slots=True)
class FullyBooted(Event):
    status: str | None
    fields_map: ClassVar[tuple] = (("status", "Status", _str),)


EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (
        Newchannel, Newstate, NewCallerid, NewConnectedLine, Newexten, VarSet, Hangup, HangupRequest,
        SoftHangupRequest, DialBegin, DialEnd, DialState, BridgeCreate, BridgeEnter, BridgeLeave,
        BridgeDestroy, LocalBridge, DTMFBegin, DTMFEnd, AsyncAGIStart, AsyncAGIExec, AsyncAGIEnd,
        AGIExecStart, AGIExecEnd, QueueCallerJoin, QueueCallerLeave, QueueCallerAbandon,
        QueueMemberStatus, QueueMemberAdded, QueueMemberRemoved, QueueMemberPause, QueueMemberPenalty,
        QueueMemberRinginuse, AgentCalled, AgentRingNoAnswer, AgentConnect, AgentComplete, AgentDump,
        OriginateResponse, MixMonitorStart, MixMonitorStop, MixMonitorMute, UserEvent, Cdr,
        CoreShowChannel, FullyBooted,
    )
}
_FOLDED = {name.lower(): cls for name, cls in EVENT_TYPES.items()}


def from_message(message: Message) -> Event:
    """The typed event for ``message`` (a :class:`GenericEvent` if unknown)."""
    name = message.name or ""
    cls = EVENT_TYPES.get(name) or _FOLDED.get(name.lower(), GenericEvent)
    kwargs = {"name": name, "message": message}
    if issubclass(cls, ChannelEvent):
        kwargs["channel"] = snapshot(message)
        kwargs["dest"] = snapshot(message, "Dest")
    elif cls is LocalBridge:
        kwargs["one"] = snapshot(message, "LocalOne")
        kwargs["two"] = snapshot(message, "LocalTwo")
    get = message.get
    for attr, header, conv in cls.fields_map:
        kwargs[attr] = conv(get(header))
    if cls is UserEvent:
        kwargs["headers"] = _user_headers(message)
    return cls(**kwargs)
