"""CallTracker: fold AMI events into :class:`~callcenter.calls.model.Call` objects.

Pure: it gets raw AMI :class:`~callcenter.ami.message.Message` objects and an
explicit ``now``; no I/O, no reactor.  Every handler is idempotent, so events
replayed after a reconnect (or a resync list that repeats what events already
said) change nothing twice: a channel is created once per ``Uniqueid``, a
call is counted once per ``Linkedid``, and a call ends once.

Memory stays flat: ended calls leave the live index and only the last
``keep_ended`` are kept; per-call timelines, DTMF and variables are bounded.
"""
from __future__ import annotations

import logging
import re
from collections import deque
from datetime import datetime, timedelta

from callcenter.calls.model import STATE_UP, Call, Channel, Dtmf, TimelineEntry

log = logging.getLogger(__name__)
_entry = TimelineEntry


def _int(value):
    if not value:
        return None
    if value.isdigit():
        return int(value)
    try:
        return int(value)
    except ValueError:
        return None


_SNAPSHOT_FIELDS = ("ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName", "ConnectedLineNum",
                    "ConnectedLineName", "Context", "Exten", "Priority")
_SNAPSHOT_KEYS: dict[str, tuple] = {}


def _snapshot_keys(prefix: str) -> tuple:
    """Snapshot header names with a prefix (``Dest``), in Asterisk's order."""
    keys = tuple(prefix + k for k in _SNAPSHOT_FIELDS)
    _SNAPSHOT_KEYS[prefix] = keys
    return keys


# Asterisk writes a channel snapshot as one fixed block (Channel … Linkedid, then
# its ChanVariable lines); one compiled pattern reads all of it in a single C-level
# pass, about a third of the cost of looking the fourteen headers up one by one.
_SNAPSHOT_BLOCK = ("Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName", "ConnectedLineNum",
                   "ConnectedLineName", "Language", "AccountCode", "Context", "Exten", "Priority", "Uniqueid", "Linkedid")
_SNAPSHOT_RES: dict[str, tuple] = {}


def _snapshot_re(prefix: str) -> tuple:
    """The snapshot pattern for a prefix (``Dest``) and its ChanVariable separator."""
    fields = "".join(f"\\r\\n{re.escape(prefix + k)}: ([^\\r\\n]*)" for k in _SNAPSHOT_BLOCK)
    variables = f"((?:\\r\\n{re.escape(prefix)}ChanVariable: [^\\r\\n]*)*)"
    entry = (re.compile(fields + variables), f"\r\n{prefix}ChanVariable: ")
    _SNAPSHOT_RES[prefix] = entry
    return entry


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


class CallTracker:
    """The single place the service asks "what is this call doing"."""

    max_timeline = 300
    max_dtmf = 200
    max_variables = 200
    keep_ended = 1000
    keep_gone = 50_000
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
        self.globals: dict[str, str] = {}
        self.on_call_ended: list = []
        self.on_call_started: list = []
        self.calls_started = 0
        self.calls_ended = 0
        self.events_applied = 0
        self._epoch = 0
        self._touched: dict[str, int] = {}
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
        handler = self._handlers.get(message.name)
        if handler is None:
            return None
        self.events_applied += 1
        return handler(message, now)

    def _note(self, call: Call, now: datetime, kind: str, channel: str | None = None, detail: str | None = None) -> None:
        timeline = call.timeline
        if len(timeline) < self.max_timeline:
            timeline.append(_entry(now, kind, channel, detail))

    def _ensure(self, m, now: datetime, prefix: str = "") -> Channel | None:
        """The channel an event is about, created when first seen."""
        get = m.get
        uniqueid = m.last(prefix + "Uniqueid")
        if uniqueid is None:
            return None
        chan = self.channels.get(uniqueid)
        if chan is not None:
            if self._epoch:
                self._touched[uniqueid] = self._epoch
            return chan
        if uniqueid in self._gone:
            return None
        pattern, separator = _SNAPSHOT_RES.get(prefix) or _snapshot_re(prefix)
        match = m.search(pattern)
        if match is not None and match.group(13) == uniqueid:
            return self._create(match, separator, now)
        linkedid = get(prefix + "Linkedid")
        if not linkedid or uniqueid == "none":
            return None
        name = get(prefix + "Channel") or ""
        chan = Channel(uniqueid=uniqueid, linkedid=linkedid, name=name, created_at=now)
        self._snapshot(chan, m, prefix, now)
        self._add(chan, now)
        return chan

    def _create(self, match, separator: str, now: datetime) -> Channel | None:
        """A new channel from a snapshot block matched in Asterisk's layout."""
        (name, state, state_desc, num, cid_name, cl_num, cl_name, _language, _account, context, exten, priority,
         uniqueid, linkedid, variables) = match.groups()
        if not linkedid or uniqueid == "none":
            return None
        state = _int(state)
        chan = Channel(
            uniqueid, linkedid, name, now, state, state_desc if state is not None else None, num, cid_name, cl_num, cl_name,
            context, exten, _int(priority), answered_at=now if state == STATE_UP else None,
        )
        if variables:
            chan_variables = chan.variables
            for item in variables.split(separator)[1:]:
                key, _, value = item.partition("=")
                chan_variables[key] = value
        self._add(chan, now)
        return chan

    def _add(self, chan: Channel, now: datetime) -> Call:
        self.channels[chan.uniqueid] = chan
        if chan.name:
            self._by_name[chan.name] = chan
        if self._epoch:
            self._touched[chan.uniqueid] = self._epoch
        call = self.calls.get(chan.linkedid)
        if call is None:
            call = Call(linkedid=chan.linkedid, started_at=chan.created_at)
            self.calls[chan.linkedid] = call
            self.calls_started += 1
            for listener in self.on_call_started:
                listener(call)
        if chan.uniqueid not in call.channels:
            call.live_count += 1
        call.channels[chan.uniqueid] = chan
        chan.call = call
        self._note(call, now, "channel", chan.uniqueid, chan.name)
        return call

    def _snapshot(self, chan: Channel, m, prefix: str, now: datetime) -> None:
        (state, state_desc, num, name, cl_num, cl_name, context, exten, priority) = m.scan(
            _SNAPSHOT_KEYS.get(prefix) or _snapshot_keys(prefix)
        )
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
        for item in m.getall(prefix + "ChanVariable"):
            key, _, value = item.partition("=")
            chan.variables[key] = value

    # -- handlers ---------------------------------------------------------------------
    def _newchannel(self, m, now):
        chan = self._ensure(m, now)
        return chan.call if chan else None

    def _newstate(self, m, now):
        get = m.get
        chan = self.channels.get(m.last("Uniqueid"))
        if chan is not None:
            if self._epoch:
                self._touched[chan.uniqueid] = self._epoch
        else:
            chan = self._ensure(m, now)
            if chan is None:
                return None
        call = chan.call
        text = get("ChannelState")
        state = _int(text)
        if state is not None and state != chan.state:
            chan.state = state
            chan.state_desc = get("ChannelStateDesc")
            chan.caller_id_num = get("CallerIDNum", chan.caller_id_num)
            chan.caller_id_name = get("CallerIDName", chan.caller_id_name)
            if state == STATE_UP and chan.answered_at is None:
                chan.answered_at = now
                if call is not None:
                    self._note(call, now, "answered", chan.uniqueid)
        return call

    def _callerid(self, m, now):
        chan = self._ensure(m, now)
        if chan is None:
            return None
        chan.caller_id_num = m.get("CallerIDNum")
        chan.caller_id_name = m.get("CallerIDName")
        return chan.call

    def _connected_line(self, m, now):
        chan = self._ensure(m, now)
        if chan is None:
            return None
        chan.connected_num = m.get("ConnectedLineNum")
        chan.connected_name = m.get("ConnectedLineName")
        return chan.call

    def _newexten(self, m, now):
        chan = self._ensure(m, now)
        if chan is None:
            return None
        get = m.get
        chan.context = get("Context")
        chan.exten = get("Exten")
        chan.priority = _int(get("Priority"))
        chan.application = get("Application")
        chan.app_data = get("AppData")
        call = chan.call
        if call is not None and chan.priority == 1:
            self._note(call, now, "dialplan", chan.uniqueid, f"{chan.context},{chan.exten}")
        return call

    def _varset(self, m, now):
        get = m.last
        variable = get("Variable")
        if variable is None:
            return None
        if variable not in self.tracked_variables and not variable.startswith(self.tracked_prefixes):
            return None  # Asterisk's own bookkeeping (BRIDGEPEER, QUEUEHOLDTIME, …)
        chan = self.channels.get(get("Uniqueid"))
        if chan is not None:
            if self._epoch:
                self._touched[chan.uniqueid] = self._epoch
        else:
            chan = self._ensure(m, now)
        value = get("Value")
        if chan is None:
            if get("Uniqueid") == "none":
                if variable in self.globals or len(self.globals) < self.max_variables:
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
                call.timeline.append(_entry(now, "var", chan.uniqueid, f"{variable}={value}"))
        return call

    def _hangup(self, m, now):
        uniqueid = m.last("Uniqueid")
        chan = self.channels.get(uniqueid) if uniqueid else None
        if chan is None:
            return None
        chan.cause = _int(m.last("Cause"))
        chan.cause_txt = m.last("Cause-txt")
        return self._end_channel(chan, now)

    def _end_channel(self, chan: Channel, now: datetime) -> Call | None:
        chan.hung_up_at = now
        chan.recording_active = False
        chan.in_agi = False
        del self.channels[chan.uniqueid]
        self._touched.pop(chan.uniqueid, None)
        self._remember_gone(chan.uniqueid)
        if self._by_name.get(chan.name) is chan:
            del self._by_name[chan.name]
        call = self.calls.get(chan.linkedid)
        if call is None:
            return None
        self._note(call, now, "hangup", chan.uniqueid, chan.cause_txt)
        if chan.uniqueid == call.linkedid or call.hangup_cause is None:
            call.hangup_cause = chan.cause
            call.hangup_cause_txt = chan.cause_txt
        if call.ringing_agent is not None and chan.uniqueid == call.agent_channel and call.connected_at is None:
            call.ringing_agent = None
        call.live_count -= 1
        if call.live_count <= 0:
            self._end_call(call, now)
        return call

    def _remember_gone(self, uniqueid: str) -> None:
        """Remember a hung-up channel so a replayed event cannot revive it."""
        self._gone.add(uniqueid)
        self._gone_order.append(uniqueid)
        if len(self._gone_order) > self.keep_gone:
            self._gone.discard(self._gone_order.popleft())

    def _end_call(self, call: Call, now: datetime) -> None:
        call.ended_at = now
        call.ivr_active = False
        call.ringing_agent = None
        if call.queue is not None and call.queue_left_at is None:
            call.queue_left_at = now
        del self.calls[call.linkedid]
        if len(self.ended) == self.ended.maxlen:
            old = self.ended[0]
            self._ended_ids.pop(old.linkedid, None)
            # Break the call <-> channel cycle so reference counting frees the
            # forgotten call at once: otherwise every evicted call waits for a
            # full garbage collection, memory creeps up, and that collection
            # (hundreds of ms on a busy box) stalls the reactor.
            for chan in old.channels.values():
                chan.call = None
        self.ended.append(call)
        self._ended_ids[call.linkedid] = call
        self.calls_ended += 1
        for listener in self.on_call_ended:
            listener(call)

    def _dial_begin(self, m, now):
        dest = self._ensure(m, now, "Dest")
        chan = self._ensure(m, now) if "Uniqueid" in m else None
        call = chan.call if chan is not None else (dest.call if dest else None)
        if call is not None:
            self._note(call, now, "dial", dest.uniqueid if dest else None, m.get("DialString"))
        return call

    def _dial_end(self, m, now):
        dest = self._ensure(m, now, "Dest")
        chan = self._ensure(m, now) if "Uniqueid" in m else None
        call = chan.call if chan is not None else (dest.call if dest else None)
        if call is not None:
            status = m.get("DialStatus")
            self._note(call, now, "dial_end", dest.uniqueid if dest else None, status)
            if dest is not None and call.agent_channel == dest.uniqueid and status != "ANSWER":
                call.ringing_agent = None
        return call

    def _bridge_enter(self, m, now):
        chan = self._ensure(m, now)
        if chan is None:
            return None
        chan.bridge_id = m.get("BridgeUniqueid")
        call = chan.call
        if call is not None:
            self._note(call, now, "bridge_enter", chan.uniqueid, chan.bridge_id)
        return call

    def _bridge_leave(self, m, now):
        chan = self._ensure(m, now)
        if chan is None:
            return None
        if chan.bridge_id == m.get("BridgeUniqueid"):
            chan.bridge_id = None
        call = chan.call
        if call is not None:
            self._note(call, now, "bridge_leave", chan.uniqueid, m.get("BridgeUniqueid"))
        return call

    def _dtmf_end(self, m, now):
        get = m.last
        chan = self.channels.get(get("Uniqueid"))
        if chan is None:
            chan = self._ensure(m, now)
            if chan is None:
                return None
        elif self._epoch:
            self._touched[chan.uniqueid] = self._epoch
        if len(chan.dtmf) < self.max_dtmf:
            chan.dtmf.append(Dtmf(get("Digit") or "", get("Direction") or "", now, _int(get("DurationMs"))))
        return chan.call

    def _agi_start(self, m, now):
        chan = self._ensure(m, now)
        if chan is None:
            return None
        chan.in_agi = True
        call = chan.call
        if call is not None:
            from callcenter.ami.events import parse_agi_env

            env = parse_agi_env(m.get("Env"))
            args = []
            n = 1
            while f"agi_arg_{n}" in env:
                args.append(env[f"agi_arg_{n}"])
                n += 1
            call.ivr_active = True
            call.ivr_args = tuple(args)
            self._note(call, now, "ivr_start", chan.uniqueid, ",".join(args))
        return call

    def _agi_end(self, m, now):
        chan = self._ensure(m, now)
        if chan is None:
            return None
        chan.in_agi = False
        call = chan.call
        if call is not None:
            call.ivr_active = any(c.in_agi for c in call.channels.values() if c.hung_up_at is None)
            self._note(call, now, "ivr_end", chan.uniqueid)
        return call

    def _queue_join(self, m, now):
        chan = self._ensure(m, now)
        call = chan.call if chan else None
        if call is None:
            return None
        queue = m.get("Queue")
        if call.queue == queue and call.queue_left_at is None and call.queue_joined_at is not None:
            call.queue_position = _int(m.get("Position"))
            return call
        if call.queue is not None and call.queue != queue:
            call.transfers += 1
        call.queue = queue
        call.queue_position = _int(m.get("Position"))
        call.queue_joined_at = now
        call.queue_left_at = None
        call.queue_outcome = None
        call.agent = call.agent_interface = call.agent_channel = call.ringing_agent = None
        call.connected_at = None
        call.complete_reason = None
        self._note(call, now, "queue_join", chan.uniqueid, queue)
        return call

    def _queue_leave(self, m, now):
        chan = self._ensure(m, now)
        call = chan.call if chan else None
        if call is None or call.queue_left_at is not None:
            return call
        call.queue_left_at = now
        call.queue_position = None
        self._note(call, now, "queue_leave", chan.uniqueid, m.get("Queue"))
        return call

    def _queue_abandon(self, m, now):
        chan = self._ensure(m, now)
        call = chan.call if chan else None
        if call is None:
            return None
        if call.queue_outcome is None:
            call.queue_outcome = "abandoned"
        call.hold_time = _int(m.get("HoldTime"))
        self._note(call, now, "queue_abandon", chan.uniqueid, m.get("Queue"))
        return call

    def _agent_called(self, m, now):
        chan = self._ensure(m, now)
        dest = self._ensure(m, now, "Dest")
        call = chan.call if chan else None
        if call is None:
            return None
        call.ringing_agent = m.get("MemberName") or m.get("Interface")
        call.agent_channel = dest.uniqueid if dest else None
        self._note(call, now, "agent_called", dest.uniqueid if dest else None, call.ringing_agent)
        return call

    def _agent_noanswer(self, m, now):
        chan = self._ensure(m, now)
        call = chan.call if chan else None
        if call is None:
            return None
        call.ringing_agent = None
        call.agent_channel = None
        self._note(call, now, "agent_no_answer", None, m.get("MemberName"))
        return call

    def _agent_connect(self, m, now):
        chan = self._ensure(m, now)
        dest = self._ensure(m, now, "Dest")
        call = chan.call if chan else None
        if call is None or call.connected_at is not None and call.agent == m.get("MemberName"):
            return call
        call.agent = m.get("MemberName")
        call.agent_interface = m.get("Interface")
        call.agent_channel = dest.uniqueid if dest else call.agent_channel
        call.ringing_agent = None
        call.connected_at = now
        call.hold_time = _int(m.get("HoldTime"))
        call.queue_outcome = "connected"
        call.complete_reason = None
        self._note(call, now, "agent_connect", call.agent_channel, call.agent)
        return call

    def _agent_complete(self, m, now):
        uniqueid = m.get("Uniqueid")
        chan = self.channels.get(uniqueid) if uniqueid else None
        call = chan.call if chan else None
        if call is None:
            # The caller's channel may already be gone (AgentComplete is held back until hangup).
            linkedid = m.get("Linkedid")
            call = self.calls.get(linkedid) or self._ended_ids.get(linkedid)
        if call is None:
            return None
        if call.agent == m.get("MemberName") or call.agent is None:
            call.talk_time = _int(m.get("TalkTime"))
            call.complete_reason = m.get("Reason")
        self._note(call, now, "agent_complete", None, m.get("Reason"))
        return call

    def _mixmonitor_start(self, m, now):
        chan = self._ensure(m, now)
        if chan is None:
            return None
        chan.recording_active = True
        call = chan.call
        if call is not None:
            self._note(call, now, "recording_start", chan.uniqueid)
        return call

    def _mixmonitor_stop(self, m, now):
        chan = self._ensure(m, now)
        if chan is None:
            return None
        chan.recording_active = False
        call = chan.call
        if call is not None:
            self._note(call, now, "recording_stop", chan.uniqueid)
        return call

    def _user_event(self, m, now):
        uniqueid = m.get("Uniqueid")
        chan = self.channels.get(uniqueid) if uniqueid else None
        call = chan.call if chan else None
        if call is not None:
            self._note(call, now, "user_event", chan.uniqueid, m.get("UserEvent"))
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
            if chan is None:
                started = now - timedelta(seconds=_duration(m.get("Duration")))
                chan = Channel(uniqueid=uniqueid, linkedid=m.get("Linkedid") or uniqueid, name=m.get("Channel") or "", created_at=started)
                self._snapshot(chan, m, "", started)
                known = chan.linkedid in self.calls
                call = self._add(chan, now)
                if not known:
                    call.restored = True
                    call.started_at = started
                added += 1
            else:
                self._snapshot(chan, m, "", now)
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
