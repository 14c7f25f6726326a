"""CallTracker: fold AMI events into :class:`~callcenter.calls.model.Call` objects.

Pure: it gets raw AMI :class:`~callcenter.ami.message.Message` objects and an
explicit ``now``; no I/O, no reactor.  Every handler is idempotent, so events
replayed after a reconnect (or a resync list that repeats what events already
said) change nothing twice: a channel is created once per ``Uniqueid``, a
call is counted once per ``Linkedid``, and a call ends once.

It sits on the AMI hot path (every event of a busy PBX passes through it), so
handlers read headers straight from the message's wire bytes
(:attr:`Message.raw`): one C-level search per header, and only the values
kept are decoded.  Asterisk spells every header the same way every time; a
header in another spelling (or absent) falls back to the message's
case-insensitive lookup, so correctness never depends on the fast path.

Memory stays flat: ended calls leave the live index and only the last
``keep_ended`` are kept; per-call timelines, DTMF and variables are bounded,
and so is the memory of hung-up channels.
"""
from __future__ import annotations

import logging
import re
from collections import deque
from datetime import datetime, timedelta

from callcenter.ami.message import Message
from callcenter.calls.model import STATE_UP, Call, Channel, Dtmf, TimelineEntry

log = logging.getLogger(__name__)

# Building the named tuples through tuple.__new__ skips their Python-level
# __new__ (a third of a microsecond per timeline entry on the hot path).
_tuple_new = tuple.__new__
EOL = b"\r\n"


def _needle(key: str) -> bytes:
    return b"\r\n" + key.encode("ascii") + b": "


def _message(raw: bytes) -> Message:
    """The slow path's view of an event's bytes (parsed only when needed)."""
    return Message.from_frame(raw[2:] if raw.startswith(EOL) else raw)


def _fallback(raw: bytes, needle: bytes, last: bool):
    """A header not found in Asterisk's spelling: absent, or spelled otherwise."""
    if needle.lower() not in raw.lower():
        return None
    key = needle[2:-2].decode("ascii")
    m = _message(raw)
    return m.last(key) if last else m.get(key)


def _last(raw: bytes, needle: bytes):
    """The value of the last ``needle`` header (decoded), or None."""
    i = raw.rfind(needle)
    if i < 0:
        return _fallback(raw, needle, True)
    i += len(needle)
    j = raw.find(EOL, i)
    return (raw[i:j] if j >= 0 else raw[i:]).decode("utf-8", "replace")


def _first(raw: bytes, needle: bytes):
    """The value of the first ``needle`` header (decoded), or None."""
    i = raw.find(needle)
    if i < 0:
        return _fallback(raw, needle, False)
    i += len(needle)
    j = raw.find(EOL, i)
    return (raw[i:j] if j >= 0 else raw[i:]).decode("utf-8", "replace")


def _match_from(raw: bytes, pattern, needle: bytes):
    """``pattern`` matched where the last ``needle`` starts (None if either is missing)."""
    i = raw.rfind(needle)
    return pattern.match(raw, i) if i >= 0 else None


def _int(value):
    if not value:
        return None
    if value.isdigit():
        return int(value)
    try:
        return int(value)
    except ValueError:
        return None


class _Snapshot:
    """The needles of one channel snapshot (plain, or prefixed ``Dest``)."""

    #: Asterisk writes a snapshot as one fixed block, then its ChanVariable lines.
    FIELDS = ("Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName", "ConnectedLineNum",
              "ConnectedLineName", "Context", "Exten", "Priority", "Linkedid")

    def __init__(self, prefix: str) -> None:
        self.uniqueid = _needle(prefix + "Uniqueid")
        self.block = tuple(_needle(prefix + k) for k in self.FIELDS)
        self.variable = _needle(prefix + "ChanVariable")
        self.variable_text = self.variable.decode("ascii")
        # The whole block in Asterisk's layout, read by one C-level match over
        # the decoded event (a search per header costs more than the match):
        # Channel … ConnectedLineName, [Language], [AccountCode], Context,
        # Exten, Priority, Uniqueid, Linkedid, then the ChanVariable lines.
        p, v = re.escape(prefix), r"([^\r]*)"
        self.pattern = re.compile(
            rf"\r\n{p}Channel: {v}\r\n{p}ChannelState: {v}\r\n{p}ChannelStateDesc: {v}\r\n"
            rf"{p}CallerIDNum: {v}\r\n{p}CallerIDName: {v}\r\n{p}ConnectedLineNum: {v}\r\n{p}ConnectedLineName: {v}\r\n"
            rf"(?:{p}Language: [^\r]*\r\n)?(?:{p}AccountCode: [^\r]*\r\n)?"
            rf"{p}Context: {v}\r\n{p}Exten: {v}\r\n{p}Priority: {v}\r\n{p}Uniqueid: {v}\r\n{p}Linkedid: {v}"
            rf"((?:\r\n{p}ChanVariable: [^\r]*)*)"
        )

    def read(self, raw: bytes) -> list:
        """The block's values in order (None where absent).  Each search starts
        where the previous header ended, so the snapshot is read about once;
        a header out of Asterisk's order is still found by a fresh search."""
        out = []
        append = out.append
        find = raw.find
        pos = 0
        for needle in self.block:
            i = find(needle, pos)
            if i < 0:
                append(_first(raw, needle))
                continue
            i += len(needle)
            j = find(EOL, i)
            if j < 0:
                j = len(raw)
            append(raw[i:j].decode("utf-8", "replace"))
            pos = j
        return out

    def variables(self, raw: bytes) -> list:
        """``ChanVariable`` values (``NAME=value``) in wire order."""
        needle = self.variable
        i = raw.find(needle)
        if i < 0:
            return _message(raw).getall(needle[2:-2].decode("ascii")) if needle.lower() in raw.lower() else []
        out = []
        size = len(needle)
        while i >= 0:
            i += size
            j = raw.find(EOL, i)
            if j < 0:
                out.append(raw[i:].decode("utf-8", "replace"))
                break
            out.append(raw[i:j].decode("utf-8", "replace"))
            i = raw.find(needle, j)
        return out


_PLAIN = _Snapshot("")
_DEST = _Snapshot("Dest")
_UNIQUEID = _PLAIN.uniqueid
_LINKEDID = _needle("Linkedid")
_CHANNEL = _needle("Channel")
_CHANNELSTATE = _needle("ChannelState")
_CHANNELSTATEDESC = _needle("ChannelStateDesc")
_CALLERIDNUM = _needle("CallerIDNum")
_CALLERIDNAME = _needle("CallerIDName")
_VARIABLE = _needle("Variable")
_VALUE = _needle("Value")
_DIGIT = _needle("Digit")
_DIRECTION = _needle("Direction")
_DURATIONMS = _needle("DurationMs")
_CAUSE = _needle("Cause")
_CAUSE_TXT = _needle("Cause-txt")
_BRIDGE = _needle("BridgeUniqueid")
_QUEUE = _needle("Queue")
_POSITION = _needle("Position")
_MEMBERNAME = _needle("MemberName")
_INTERFACE = _needle("Interface")
_HOLDTIME = _needle("HoldTime")
_TALKTIME = _needle("TalkTime")
_REASON = _needle("Reason")
_DIALSTRING = _needle("DialString")
_DIALSTATUS = _needle("DialStatus")
_CONTEXT = _needle("Context")
_EXTEN = _needle("Exten")
_PRIORITY = _needle("Priority")
_APPLICATION = _needle("Application")
_APPDATA = _needle("AppData")
_CONNECTEDLINENUM = _needle("ConnectedLineNum")
_CONNECTEDLINENAME = _needle("ConnectedLineName")
_USEREVENT = _needle("UserEvent")
_ENV = _needle("Env")
#: ChannelState values as they appear on the wire (one dict lookup instead of decode + int)
_STATES = {str(n).encode(): n for n in range(11)}
#: ... and the three bytes after ``ChannelState: `` (one slice, no search for the line's end)
_STATE_HEADS = {(str(n) + "\r\n").encode()[:3]: n for n in range(11)}
_STATE_TEXT = {str(n): n for n in range(11)}
#: event fields Asterisk writes after the snapshots, in its order (one match from the first of them)
_QUEUE_POSITION = re.compile(rb"\r\nQueue: ([^\r]*)\r\nPosition: ([^\r]*)")
_AGENT_FIELDS = re.compile(rb"\r\nQueue: [^\r]*\r\nInterface: ([^\r]*)\r\nMemberName: ([^\r]*)\r\nHoldTime: ([^\r]*)")
_STATE_DETAIL = re.compile(rb"ChannelStateDesc: ([^\r]*)\r\nCallerIDNum: ([^\r]*)\r\nCallerIDName: ([^\r]*)")
#: caches of whole wire lines → parsed values, for headers with few distinct values
_LINE_CACHE_MAX = 4096


def _duration(text: str | None) -> float:
    """``HH:MM:SS`` (CoreShowChannel ``Duration``) as seconds."""
    if not text:
        return 0.0
    try:
        parts = [int(p) for p in text.split(":")]
    except ValueError:
        return 0.0
    seconds = 0
    for p in parts:
        seconds = seconds * 60 + p
    return float(seconds)


def _find_leg(call, queue, member, interface):
    """The newest still-open agent leg of ``call`` for this queue and member (None if none)."""
    for leg in reversed(call.agent_legs or ()):
        if leg[4] is None and leg[0] == queue and (leg[1] == member or leg[2] == interface):
            return leg
    return None


class CallTracker:
    """The single place the service asks "what is this call doing"."""

    max_timeline = 300
    max_dtmf = 200
    max_variables = 200
    keep_ended = 1000
    #: hung-up Uniqueids remembered so a late event or an older resync list cannot revive them
    keep_gone = 20_000
    #: variables whose every change is worth a timeline entry
    timeline_variables = frozenset({"IVR_ACTION", "IVR_QUEUE", "QUEUESTATUS", "DIALSTATUS", "WORKORDER", "IVR_LANG"})
    _special_variables = timeline_variables | {"MIXMONITOR_FILENAME"}
    #: VarSet variables kept on channels (others are Asterisk's bookkeeping and skipped cheaply)
    tracked_variables = _special_variables | {
        "HOTLINE_CALLID", "HOTLINE_MODE", "AGENT_DEVICE", "RING_TIMEOUT", "CALLBACK_ID", "ASR_UUID",
        "SURVEY_DIGIT", "SAT", "READSTATUS", "TRANSFER_LINE", "CDR(userfield)",
    }
    #: ... and any variable with one of these prefixes (the hotline's own)
    tracked_prefixes = ("HOTLINE_", "IVR_", "CALLBACK_", "ACD_", "WORKORDER")

    def __init__(self) -> None:
        self.calls: dict[str, Call] = {}
        self.channels: dict[str, Channel] = {}
        self._by_name: dict[str, Channel] = {}
        self.ended: deque[Call] = deque(maxlen=self.keep_ended)
        self._gone: set[str] = set()
        self._gone_order: deque[str] = deque()
        self._ended_ids: dict[str, Call] = {}
        # Live channels by their Uniqueid's wire bytes: the hot handlers find
        # the channel without decoding anything.
        self._raw_ids: dict[bytes, Channel] = {}
        self.globals: dict[str, str] = {}
        self.on_call_ended: list = []
        self.on_call_started: list = []
        self.calls_started = 0
        self.calls_ended = 0
        self.events_applied = 0
        self._epoch = 0
        self._touched: dict[str, int] = {}
        # The VarSet filter compares the variable's wire bytes, before decoding anything.
        self._tracked_raw = frozenset(v.encode("utf-8") for v in self.tracked_variables)
        self._prefixes_raw = tuple(p.encode("utf-8") for p in self.tracked_prefixes)
        self._varset_lines: dict[bytes, object] = {}
        self._dtmf_digits: dict[bytes, str] = {}
        self._hangup_tails: dict[tuple, tuple] = {}
        self._dtmf_durations: dict[bytes, int] = {}
        self._dtmf_directions: dict[bytes, str] = {}
        self._handlers = {
            "Newchannel": self._newchannel,
            "Newstate": self._newstate,
            "NewCallerid": self._callerid,
            "NewConnectedLine": self._connected_line,
            "Newexten": self._newexten,
            "VarSet": self._varset,
            "Hangup": self._hangup,
            "DialBegin": self._dial_begin,
            "DialEnd": self._dial_end,
            "BridgeEnter": self._bridge_enter,
            "BridgeLeave": self._bridge_leave,
            "DTMFEnd": self._dtmf_end,
            "AsyncAGIStart": self._agi_start,
            "AsyncAGIEnd": self._agi_end,
            "QueueCallerJoin": self._queue_join,
            "QueueCallerLeave": self._queue_leave,
            "QueueCallerAbandon": self._queue_abandon,
            "AgentCalled": self._agent_called,
            "AgentRingNoAnswer": self._agent_noanswer,
            "AgentConnect": self._agent_connect,
            "AgentComplete": self._agent_complete,
            "MixMonitorStart": self._mixmonitor_start,
            "MixMonitorStop": self._mixmonitor_stop,
            "UserEvent": self._user_event,
        }
        self._handlers_folded = {k.lower(): v for k, v in self._handlers.items()}

    @property
    def event_names(self) -> frozenset:
        """The events that can change tracking (subscribe to just these)."""
        return frozenset(self._handlers)

    # -- queries ------------------------------------------------------------------
    def call(self, linkedid: str) -> Call | None:
        """A live call, or a recently ended one, by ``Linkedid``."""
        return self.calls.get(linkedid) or self._ended_ids.get(linkedid)

    def call_of_channel(self, channel: str) -> Call | None:
        """The live call a channel (by name or ``Uniqueid``) belongs to."""
        chan = self._by_name.get(channel) or self.channels.get(channel)
        return self.calls.get(chan.linkedid) if chan is not None else None

    def channel(self, channel: str) -> Channel | None:
        """A live channel by name or ``Uniqueid``."""
        return self._by_name.get(channel) or self.channels.get(channel)

    def call_by_hotline_id(self, callid: str) -> Call | None:
        """The live call whose dialplan set ``HOTLINE_CALLID`` = ``callid``."""
        chan = self.channels.get(callid)
        if chan is not None:
            return self.calls.get(chan.linkedid)
        for call in self.calls.values():
            if call.hotline_callid == callid:
                return call
        return None

    def live_calls(self) -> list[Call]:
        return list(self.calls.values())

    def in_queue(self, queue: str | None = None) -> list[Call]:
        """Calls waiting in a queue (oldest first)."""
        waiting = [c for c in self.calls.values() if c.queue is not None and c.queue_left_at is None and (queue is None or c.queue == queue)]
        waiting.sort(key=lambda c: c.queue_joined_at)
        return waiting

    def __len__(self) -> int:
        return len(self.calls)

    # -- feeding --------------------------------------------------------------------
    def apply(self, message, now: datetime) -> Call | None:
        """Fold one event in; returns the call it touched (None if none)."""
        name = message.name
        handler = self._handlers.get(name)
        if handler is None:
            handler = self._handlers_folded.get((name or "").lower())
            if handler is None:
                return None
        self.events_applied += 1
        return handler(message.raw, now)

    def apply_frame(self, name: str, frame: bytes, now: datetime) -> Call | None:
        """:meth:`apply` for an event's wire bytes (``Event: …\r\nKey: …``,
        as the AMI client's frame subscribers get them): no message is built
        unless a header is spelled unlike Asterisk spells it."""
        handler = self._handlers.get(name)
        if handler is None:
            handler = self._handlers_folded.get(name.lower())
            if handler is None:
                return None
        self.events_applied += 1
        return handler(frame, now)

    def _note(self, call: Call, now: datetime, kind: str, channel: str | None = None, detail: str | None = None) -> None:
        timeline = call.timeline
        if len(timeline) < self.max_timeline:
            timeline.append(_tuple_new(TimelineEntry, (now, kind, channel, detail)))

    def _known(self, raw: bytes, needle: bytes = _UNIQUEID) -> Channel | None:
        """The live channel of the event's (last) ``Uniqueid`` (or the
        snapshot's ``needle``), found by its wire bytes; None when unknown or
        spelled otherwise (callers then take the general path)."""
        i = raw.rfind(needle)
        if i < 0:
            return None
        i += len(needle)
        j = raw.find(EOL, i)
        chan = self._raw_ids.get(raw[i:j] if j >= 0 else raw[i:])
        if chan is not None and self._epoch:
            self._touched[chan.uniqueid] = self._epoch
        return chan

    def _ensure(self, raw: bytes, now: datetime, snapshot: _Snapshot = _PLAIN) -> Channel | None:
        """The channel a snapshot in the event describes, created when first seen."""
        return self._known(raw, snapshot.uniqueid) or self._create(raw, now, snapshot)

    _live = _ensure

    def _create(self, raw: bytes, now: datetime, snapshot: _Snapshot) -> Channel | None:
        """The channel of a snapshot not known by its Uniqueid's bytes: read
        the block in one match, or header by header when it is not laid out
        as Asterisk lays it out."""
        match = snapshot.pattern.search(raw.decode("utf-8", "replace"))
        if match is None:
            return self._create_by_headers(raw, now, snapshot)
        (name, state, state_desc, num, cname, cl_num, cl_name, context, exten, priority, uniqueid, linkedid,
         block) = match.groups()
        chan = self.channels.get(uniqueid)
        if chan is not None:
            if self._epoch:
                self._touched[uniqueid] = self._epoch
            return chan
        if not linkedid or uniqueid in self._gone or uniqueid == "none":
            return None
        chan = Channel(uniqueid, linkedid, name, now)
        number = _STATE_TEXT.get(state)
        if number is None:
            number = _int(state)
        if number is not None:
            chan.state = number
            chan.state_desc = state_desc
            if number == STATE_UP:
                chan.answered_at = now
        chan.caller_id_num = num
        chan.caller_id_name = cname
        chan.connected_num = cl_num
        chan.connected_name = cl_name
        chan.context = context
        chan.exten = exten
        chan.priority = int(priority) if priority.isdigit() else _int(priority)
        if block:
            variables = chan.variables
            for item in block.split(snapshot.variable_text)[1:]:
                key, _, value = item.partition("=")
                variables[key] = value
        self._add(chan, now)
        return chan

    def _create_by_headers(self, raw: bytes, now: datetime, snapshot: _Snapshot) -> Channel | None:
        uniqueid = _last(raw, snapshot.uniqueid)
        if uniqueid is None:
            return None
        chan = self.channels.get(uniqueid)
        if chan is not None:
            if self._epoch:
                self._touched[uniqueid] = self._epoch
            return chan
        if uniqueid in self._gone or uniqueid == "none":
            return None
        values = snapshot.read(raw)
        if not values[10]:  # no Linkedid: not a channel we can place in a call
            return None
        chan = Channel(uniqueid, values[10], values[0] or "", now)
        self._fill(chan, values, now)
        for item in snapshot.variables(raw):
            key, _, value = item.partition("=")
            chan.variables[key] = value
        self._add(chan, now)
        return chan

    @staticmethod
    def _fill(chan: Channel, values: list, now: datetime) -> None:
        """Set a channel's state, caller ID, connected line and dialplan
        position from snapshot values (absent headers leave fields alone)."""
        (_name, state, state_desc, num, name, cl_num, cl_name, context, exten, priority, _linkedid) = values
        state = _int(state)
        if state is not None:
            chan.state = state
            chan.state_desc = state_desc
            if state == STATE_UP and chan.answered_at is None:
                chan.answered_at = now
        if num is not None:
            chan.caller_id_num = num
            chan.caller_id_name = name
        if cl_num is not None:
            chan.connected_num = cl_num
            chan.connected_name = cl_name
        if context is not None:
            chan.context = context
            chan.exten = exten
            chan.priority = _int(priority)

    def _add(self, chan: Channel, now: datetime) -> Call:
        uniqueid = chan.uniqueid
        self.channels[uniqueid] = chan
        self._raw_ids[uniqueid.encode("utf-8")] = chan
        if chan.name:
            self._by_name[chan.name] = chan
        if self._epoch:
            self._touched[uniqueid] = self._epoch
        call = self.calls.get(chan.linkedid)
        if call is None:
            call = Call(chan.linkedid, chan.created_at)
            self.calls[chan.linkedid] = call
            self.calls_started += 1
            for listener in self.on_call_started:
                listener(call)
        channels = call.channels
        if uniqueid not in channels:
            call.live_count += 1
        channels[uniqueid] = chan
        chan.call = call
        timeline = call.timeline
        if len(timeline) < self.max_timeline:
            timeline.append(_tuple_new(TimelineEntry, (now, "channel", uniqueid, chan.name)))
        return call

    # -- handlers ---------------------------------------------------------------------
    def _newchannel(self, raw, now):
        # A new channel is almost never known already: skip the bytes lookup.
        chan = self._create(raw, now, _PLAIN)
        return chan.call if chan else None

    def _newstate(self, raw, now):
        chan = self._known(raw) or self._create(raw, now, _PLAIN)
        if chan is None:
            return None
        call = chan.call
        i = raw.find(_CHANNELSTATE)
        state = _STATE_HEADS.get(raw[i + 16:i + 19]) if i >= 0 else None
        if state is None:
            state = _int(_first(raw, _CHANNELSTATE))
        if state is not None and state != chan.state:
            chan.state = state
            # The three headers after ChannelState, in one match where Asterisk puts them.
            detail = _STATE_DETAIL.match(raw, i + (19 if state < 10 else 20)) if i >= 0 else None
            if detail is not None:
                desc, num, name = detail.groups()
                chan.state_desc = desc.decode("utf-8", "replace")
                chan.caller_id_num = num.decode("utf-8", "replace")
                chan.caller_id_name = name.decode("utf-8", "replace")
            else:
                chan.state_desc = _first(raw, _CHANNELSTATEDESC)
                num = _first(raw, _CALLERIDNUM)
                if num is not None:
                    chan.caller_id_num = num
                name = _first(raw, _CALLERIDNAME)
                if name is not None:
                    chan.caller_id_name = name
            if state == STATE_UP and chan.answered_at is None:
                chan.answered_at = now
                if call is not None:
                    self._note(call, now, "answered", chan.uniqueid)
        return call

    def _callerid(self, raw, now):
        chan = self._ensure(raw, now)
        if chan is None:
            return None
        chan.caller_id_num = _first(raw, _CALLERIDNUM)
        chan.caller_id_name = _first(raw, _CALLERIDNAME)
        return chan.call

    def _connected_line(self, raw, now):
        chan = self._ensure(raw, now)
        if chan is None:
            return None
        chan.connected_num = _first(raw, _CONNECTEDLINENUM)
        chan.connected_name = _first(raw, _CONNECTEDLINENAME)
        return chan.call

    def _newexten(self, raw, now):
        chan = self._ensure(raw, now)
        if chan is None:
            return None
        chan.context = _first(raw, _CONTEXT)
        chan.exten = _first(raw, _EXTEN)
        chan.priority = _int(_first(raw, _PRIORITY))
        chan.application = _first(raw, _APPLICATION)
        chan.app_data = _first(raw, _APPDATA)
        call = chan.call
        if call is not None and chan.priority == 1:
            self._note(call, now, "dialplan", chan.uniqueid, f"{chan.context},{chan.exten}")
        return call

    def _varset(self, raw, now):
        # A third of all events; most set Asterisk's own bookkeeping
        # (BRIDGEPEER, QUEUE*…), dropped on the variable's raw bytes.
        # Asterisk ends a VarSet with "Variable: NAME" and "Value: …": one
        # split from the tail, and the verdict on the variable's line cached.
        tail = raw.rsplit(EOL, 2)
        verdict = self._varset_lines.get(tail[-2]) if len(tail) == 3 else None
        if verdict is None:
            verdict = self._varset_verdict(raw, tail)
        if verdict is False:
            return None
        variable = verdict
        last = tail[2] if len(tail) == 3 else b""
        value = last[7:].decode("utf-8", "replace") if last.startswith(b"Value: ") else _last(raw, _VALUE)
        chan = self._known(raw) or self._create(raw, now, _PLAIN)
        if chan is None:
            if _last(raw, _UNIQUEID) == "none" and (variable in self.globals or len(self.globals) < self.max_variables):
                self.globals[variable] = value
            return None
        call = chan.call
        variables = chan.variables
        if variable in variables or len(variables) < self.max_variables:
            variables[variable] = value
        if variable in self._special_variables and call is not None:
            if variable == "MIXMONITOR_FILENAME" and value:
                chan.recording = value
                if value not in call.recordings:
                    call.recordings.append(value)
            elif variable == "QUEUESTATUS" and value == "TIMEOUT":
                call.queue_outcome = "timeout"
            if variable in self.timeline_variables and len(call.timeline) < self.max_timeline:
                call.timeline.append(_tuple_new(TimelineEntry, (now, "var", chan.uniqueid, f"{variable}={value}")))
        return call

    def _varset_verdict(self, raw: bytes, tail: list):
        """The variable a VarSet sets if it is tracked, else False (cached per wire line)."""
        line = tail[-2] if len(tail) == 3 else b""
        if line.startswith(b"Variable: "):
            key = line[10:]
        else:
            variable = _last(raw, _VARIABLE)
            if variable is None:
                return False
            key, line = variable.encode("utf-8"), None
        verdict = key.decode("utf-8", "replace") if key in self._tracked_raw or key.startswith(self._prefixes_raw) else False
        if line is not None and len(self._varset_lines) < _LINE_CACHE_MAX:
            self._varset_lines[line] = verdict
        return verdict

    def _hangup(self, raw, now):
        chan = self._known(raw)
        if chan is None:
            chan = self.channels.get(_last(raw, _UNIQUEID) or "")
            if chan is None:
                return None
        # Asterisk ends a Hangup with Cause and Cause-txt: read them from the tail.
        tail = raw.rsplit(EOL, 2)
        ending = self._hangup_tails.get((tail[1], tail[2])) if len(tail) == 3 else None
        if ending is None and len(tail) == 3 and tail[1].startswith(b"Cause: ") and tail[2].startswith(b"Cause-txt: "):
            ending = (_int(tail[1][7:].decode("ascii", "replace")), tail[2][11:].decode("utf-8", "replace"))
            if len(self._hangup_tails) < _LINE_CACHE_MAX:
                self._hangup_tails[(tail[1], tail[2])] = ending
        if ending is not None:
            chan.cause, chan.cause_txt = ending
        else:
            chan.cause = _int(_last(raw, _CAUSE))
            chan.cause_txt = _last(raw, _CAUSE_TXT)
        return self._end_channel(chan, now)

    def _end_channel(self, chan: Channel, now: datetime) -> Call | None:
        uniqueid = chan.uniqueid
        chan.hung_up_at = now
        chan.recording_active = False
        chan.in_agi = False
        del self.channels[uniqueid]
        self._raw_ids.pop(uniqueid.encode("utf-8"), None)
        if self._touched:
            self._touched.pop(uniqueid, None)
        # Remember the hung-up channel so a replayed event cannot revive it.
        self._gone.add(uniqueid)
        order = self._gone_order
        order.append(uniqueid)
        if len(order) > self.keep_gone:
            self._gone.discard(order.popleft())
        if self._by_name.get(chan.name) is chan:
            del self._by_name[chan.name]
        call = self.calls.get(chan.linkedid)
        if call is None:
            return None
        timeline = call.timeline
        if len(timeline) < self.max_timeline:
            timeline.append(_tuple_new(TimelineEntry, (now, "hangup", uniqueid, chan.cause_txt)))
        if uniqueid == call.linkedid or call.hangup_cause is None:
            call.hangup_cause = chan.cause
            call.hangup_cause_txt = chan.cause_txt
        if call.ringing_agent is not None and uniqueid == call.agent_channel and call.connected_at is None:
            call.ringing_agent = None
        call.live_count -= 1
        if call.live_count <= 0:
            self._end_call(call, now)
        return call

    def _end_call(self, call: Call, now: datetime) -> None:
        call.ended_at = now
        call.ivr_active = False
        call.ringing_agent = None
        if call.queue is not None and call.queue_left_at is None:
            call.queue_left_at = now
        del self.calls[call.linkedid]
        ended = self.ended
        if len(ended) == ended.maxlen:
            old = ended[0]
            self._ended_ids.pop(old.linkedid, None)
            # Break the call <-> channel cycle so reference counting frees the
            # forgotten call at once: otherwise every evicted call waits for a
            # full garbage collection, memory creeps up, and that collection
            # (hundreds of ms on a busy box) stalls the reactor.
            for chan in old.channels.values():
                chan.call = None
        ended.append(call)
        self._ended_ids[call.linkedid] = call
        self.calls_ended += 1
        for listener in self.on_call_ended:
            listener(call)

    def _dial(self, raw, now, kind: str, detail_needle: bytes):
        dest = self._ensure(raw, now, _DEST)
        chan = self._ensure(raw, now)
        call = chan.call if chan is not None else (dest.call if dest else None)
        if call is None:
            return None, None, None
        detail = _first(raw, detail_needle)
        self._note(call, now, kind, dest.uniqueid if dest else None, detail)
        return call, dest, detail

    def _dial_begin(self, raw, now):
        return self._dial(raw, now, "dial", _DIALSTRING)[0]

    def _dial_end(self, raw, now):
        call, dest, status = self._dial(raw, now, "dial_end", _DIALSTATUS)
        if call is not None and dest is not None and call.agent_channel == dest.uniqueid and status != "ANSWER":
            call.ringing_agent = None
        return call

    def _bridge_enter(self, raw, now):
        chan = self._live(raw, now)
        if chan is None:
            return None
        chan.bridge_id = _first(raw, _BRIDGE)
        call = chan.call
        if call is not None:
            self._note(call, now, "bridge_enter", chan.uniqueid, chan.bridge_id)
        return call

    def _bridge_leave(self, raw, now):
        chan = self._live(raw, now)
        if chan is None:
            return None
        bridge = _first(raw, _BRIDGE)
        if chan.bridge_id == bridge:
            chan.bridge_id = None
        call = chan.call
        if call is not None:
            self._note(call, now, "bridge_leave", chan.uniqueid, bridge)
        return call

    def _dtmf_end(self, raw, now):
        chan = self._live(raw, now)
        if chan is None:
            return None
        dtmf = chan.dtmf
        if len(dtmf) < self.max_dtmf:
            # Asterisk ends a DTMFEnd with Digit, DurationMs, Direction: read them from the tail.
            tail = raw.rsplit(EOL, 3)
            if len(tail) == 4:
                digit = self._dtmf_digits.get(tail[1])
                duration = self._dtmf_durations.get(tail[2])
                direction = self._dtmf_directions.get(tail[3])
                if digit is None or duration is None or direction is None:
                    digit, duration, direction = self._dtmf_tail(tail)
            else:
                digit = None
            if digit is None:
                digit = _last(raw, _DIGIT) or ""
                direction = _last(raw, _DIRECTION) or ""
                duration = _int(_last(raw, _DURATIONMS))
            dtmf.append(_tuple_new(Dtmf, (digit, direction, now, duration)))
        return chan.call

    def _dtmf_tail(self, tail: list) -> tuple:
        """Digit, DurationMs and Direction from a DTMFEnd's last three lines
        (None when not laid out so); each distinct line is cached."""
        digit_line, duration_line, direction_line = tail[1], tail[2], tail[3]
        if not (digit_line.startswith(b"Digit: ") and duration_line.startswith(b"DurationMs: ")
                and direction_line.startswith(b"Direction: ")):
            return None, None, None
        digit = digit_line[7:].decode("utf-8", "replace")
        duration = _int(duration_line[12:].decode("ascii", "replace"))
        direction = direction_line[11:].decode("ascii", "replace")
        if duration is not None and len(self._dtmf_durations) < _LINE_CACHE_MAX:
            self._dtmf_digits[digit_line] = digit
            self._dtmf_durations[duration_line] = duration
            self._dtmf_directions[direction_line] = direction
        return digit, duration, direction

    def _agi_start(self, raw, now):
        chan = self._ensure(raw, now)
        if chan is None:
            return None
        chan.in_agi = True
        call = chan.call
        if call is not None:
            from callcenter.ami.events import parse_agi_env

            env = parse_agi_env(_first(raw, _ENV))
            args = []
            n = 1
            while f"agi_arg_{n}" in env:
                args.append(env[f"agi_arg_{n}"])
                n += 1
            call.ivr_active = True
            call.ivr_args = tuple(args)
            self._note(call, now, "ivr_start", chan.uniqueid, ",".join(args))
        return call

    def _agi_end(self, raw, now):
        chan = self._ensure(raw, now)
        if chan is None:
            return None
        chan.in_agi = False
        call = chan.call
        if call is not None:
            call.ivr_active = any(c.in_agi for c in call.channels.values() if c.hung_up_at is None)
            self._note(call, now, "ivr_end", chan.uniqueid)
        return call

    def _queue_join(self, raw, now):
        chan = self._live(raw, now)
        call = chan.call if chan else None
        if call is None:
            return None
        fields = _match_from(raw, _QUEUE_POSITION, _QUEUE)
        if fields is not None:
            queue = fields.group(1).decode("utf-8", "replace")
            position = _int(fields.group(2).decode("ascii", "replace"))
        else:
            queue = _first(raw, _QUEUE)
            position = _int(_first(raw, _POSITION))
        if call.queue == queue and call.queue_left_at is None and call.queue_joined_at is not None:
            call.queue_position = position
            return call
        if call.queue is not None and call.queue != queue:
            call.transfers += 1
        call.queue = queue
        call.queue_position = position
        call.queue_joined_at = now
        call.queue_left_at = None
        call.queue_outcome = None
        call.agent = call.agent_interface = call.agent_channel = call.ringing_agent = None
        call.connected_at = None
        call.complete_reason = None
        self._note(call, now, "queue_join", chan.uniqueid, queue)
        return call

    def _queue_leave(self, raw, now):
        chan = self._live(raw, now)
        call = chan.call if chan else None
        if call is None or call.queue_left_at is not None:
            return call
        left_from = call.queue_position
        call.queue_left_at = now
        call.queue_position = None
        if left_from is not None:
            # everyone behind the caller who left moves up one place
            for other in self.calls.values():
                if (other is not call and other.queue == call.queue and other.queue_left_at is None
                        and other.queue_position is not None and other.queue_position > left_from):
                    other.queue_position -= 1
        self._note(call, now, "queue_leave", chan.uniqueid, _first(raw, _QUEUE))
        return call

    def _queue_abandon(self, raw, now):
        chan = self._live(raw, now)
        call = chan.call if chan else None
        if call is None:
            return None
        if call.queue_outcome is None:
            call.queue_outcome = "abandoned"
        call.hold_time = _int(_first(raw, _HOLDTIME))
        self._note(call, now, "queue_abandon", chan.uniqueid, _first(raw, _QUEUE))
        return call

    def _agent_called(self, raw, now):
        chan = self._ensure(raw, now)
        dest = self._ensure(raw, now, _DEST)
        call = chan.call if chan else None
        if call is None:
            return None
        call.ringing_agent = _first(raw, _MEMBERNAME) or _first(raw, _INTERFACE)
        call.agent_channel = dest.uniqueid if dest else None
        self._note(call, now, "agent_called", dest.uniqueid if dest else None, call.ringing_agent)
        return call

    def _agent_noanswer(self, raw, now):
        chan = self._ensure(raw, now)
        call = chan.call if chan else None
        if call is None:
            return None
        call.ringing_agent = None
        call.agent_channel = None
        self._note(call, now, "agent_no_answer", None, _first(raw, _MEMBERNAME))
        return call

    def _agent_connect(self, raw, now):
        chan = self._ensure(raw, now)
        dest = self._ensure(raw, now, _DEST)
        call = chan.call if chan else None
        fields = _match_from(raw, _AGENT_FIELDS, _QUEUE)
        if fields is not None:
            interface, member, hold = (v.decode("utf-8", "replace") for v in fields.groups())
        else:
            interface, member, hold = _first(raw, _INTERFACE), _first(raw, _MEMBERNAME), _first(raw, _HOLDTIME)
        if call is None or call.connected_at is not None and call.agent == member:
            return call
        call.agent = member
        call.agent_interface = interface
        call.agent_channel = dest.uniqueid if dest else call.agent_channel
        call.ringing_agent = None
        call.connected_at = now
        if call.agent_legs is None:
            call.agent_legs = []
        call.agent_legs.append([_first(raw, _QUEUE) or call.queue, member, interface, now, None])
        call.hold_time = _int(hold)
        call.queue_outcome = "connected"
        call.complete_reason = None
        self._note(call, now, "agent_connect", call.agent_channel, call.agent)
        return call

    def _agent_complete(self, raw, now):
        uniqueid = _first(raw, _UNIQUEID)
        chan = self.channels.get(uniqueid) if uniqueid else None
        call = chan.call if chan else None
        queue, member, interface = _first(raw, _QUEUE), _first(raw, _MEMBERNAME), _first(raw, _INTERFACE)
        talk = _int(_first(raw, _TALKTIME))
        if call is None and uniqueid:
            # The caller's channel may already be gone (AgentComplete is held back until hangup).
            linkedid = _first(raw, _LINKEDID)
            call = self.calls.get(linkedid) or self._ended_ids.get(linkedid)
        leg = None
        if call is None and not uniqueid:
            # After a Redirect out of a queue the held-back AgentComplete can come with no channel
            # fields at all: it belongs to the call connected to this member through this queue.
            call, leg = self._open_leg(queue, member, interface, now, talk)
        elif call is not None:
            leg = _find_leg(call, queue, member, interface)
        if call is None:
            return None
        reason = _first(raw, _REASON)
        if leg is not None:
            leg[4] = talk
        if call.agent == member or call.agent is None or (leg is not None and leg is call.agent_legs[-1]):
            call.talk_time = talk
            call.complete_reason = reason
        self._note(call, now, "agent_complete", None, reason)
        return call

    def _open_leg(self, queue, member, interface, now, talk):
        """The call whose open leg with ``member`` of ``queue`` fits an AgentComplete at ``now`` that
        reports ``talk`` seconds: the latest connected such leg not yet completed, live or ended."""
        best = None
        for call in list(self.calls.values()) + list(self._ended_ids.values()):
            for leg in call.agent_legs or ():
                if leg[4] is not None or leg[0] != queue or (leg[1] != member and leg[2] != interface):
                    continue
                if leg[3] > now:
                    continue
                # the talk time runs from the connect to this event (whole seconds, truncated)
                drift = abs((now - leg[3]).total_seconds() - (talk or 0))
                if best is None or drift < best[0]:
                    best = (drift, call, leg)
        return (best[1], best[2]) if best is not None else (None, None)

    def _mixmonitor_start(self, raw, now):
        chan = self._ensure(raw, now)
        if chan is None:
            return None
        chan.recording_active = True
        call = chan.call
        if call is not None:
            self._note(call, now, "recording_start", chan.uniqueid)
        return call

    def _mixmonitor_stop(self, raw, now):
        chan = self._ensure(raw, now)
        if chan is None:
            return None
        chan.recording_active = False
        call = chan.call
        if call is not None:
            self._note(call, now, "recording_stop", chan.uniqueid)
        return call

    def _user_event(self, raw, now):
        uniqueid = _first(raw, _UNIQUEID)
        chan = self.channels.get(uniqueid) if uniqueid else None
        call = chan.call if chan else None
        if call is not None:
            self._note(call, now, "user_event", chan.uniqueid, _first(raw, _USEREVENT))
        return call

    # -- resynchronisation ------------------------------------------------------------
    def begin_resync(self) -> int:
        """Start a resync; channels touched by events from now on are kept
        even if the (older) channel list misses them."""
        self._epoch += 1
        self._touched = {}
        return self._epoch

    def resync(self, channel_items, token: int, now: datetime, queue_entries=()) -> dict:
        """Reconcile with ``CoreShowChannel`` items (and ``QueueEntry`` items).

        Unknown live channels are added (their call is marked ``restored``);
        tracked channels the PBX no longer has, and that no event mentioned
        since :meth:`begin_resync`, are ended.  Returns counts for the log.
        """
        added = updated = ended = 0
        present = set()
        for m in channel_items:
            uniqueid = m.get("Uniqueid")
            if not uniqueid:
                continue
            present.add(uniqueid)
            chan = self.channels.get(uniqueid)
            if chan is None and uniqueid in self._gone:
                continue
            raw = m.raw
            values = _PLAIN.read(raw)
            if chan is None:
                started = now - timedelta(seconds=_duration(m.get("Duration")))
                chan = Channel(uniqueid, values[10] or uniqueid, values[0] or "", started)
                self._fill(chan, values, started)
                for item in _PLAIN.variables(raw):
                    key, _, value = item.partition("=")
                    chan.variables[key] = value
                known = chan.linkedid in self.calls
                call = self._add(chan, now)
                if not known:
                    call.restored = True
                    call.started_at = started
                added += 1
            else:
                self._fill(chan, values, now)
                for item in _PLAIN.variables(raw):
                    key, _, value = item.partition("=")
                    chan.variables[key] = value
                updated += 1
            chan.application = m.get("Application") or chan.application
            chan.app_data = m.get("ApplicationData") if m.get("ApplicationData") is not None else chan.app_data
            bridge = m.get("BridgeId")
            chan.bridge_id = bridge or None
            if (chan.application or "").upper() == "AGI" and "agi:async" in (chan.app_data or ""):
                chan.in_agi = True
                call = self.calls.get(chan.linkedid)
                if call is not None:
                    call.ivr_active = True
        for uniqueid, chan in list(self.channels.items()):
            if uniqueid in present or self._touched.get(uniqueid) == token:
                continue
            chan.cause_txt = chan.cause_txt or "gone while AMI was disconnected"
            self._end_channel(chan, now)
            ended += 1
        for m in queue_entries:
            uniqueid = m.get("Uniqueid")
            chan = self.channels.get(uniqueid) if uniqueid else None
            call = self.calls.get(chan.linkedid) if chan else None
            if call is None:
                continue
            queue = m.get("Queue")
            if call.queue != queue or call.queue_left_at is not None:
                call.queue = queue
                wait = _duration(m.get("Wait"))
                call.queue_joined_at = now - timedelta(seconds=wait)
                call.queue_left_at = None
            call.queue_position = _int(m.get("Position"))
        self._epoch = 0
        self._touched = {}
        return {"added": added, "updated": updated, "ended": ended, "live_calls": len(self.calls), "live_channels": len(self.channels)}
