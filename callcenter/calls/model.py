"""Calls and their channels as the hotline sees them (pure, no I/O).

A *call* is everything sharing one Asterisk ``Linkedid``: the caller's
channel, Local halves, agent legs, a transfer target.  Each channel keeps its
state, bridge, DTMF and recording; the call keeps the IVR/queue/agent story
and a bounded timeline.  Times are aware datetimes passed in by the tracker.
"""
from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

#: Asterisk channel states (``ChannelState``)
STATE_DOWN, STATE_RING, STATE_RINGING, STATE_UP, STATE_BUSY = 0, 4, 5, 6, 7



class TimelineEntry(NamedTuple):
    """One thing that happened to a call (``kind`` is a short stable name).

    A named tuple: immutable and cheap to create on the event hot path."""

    at: datetime
    kind: str
    channel: str | None = None
    detail: str | None = None


class Dtmf(NamedTuple):
    """One key press as Asterisk saw it (``direction``: Received or Sent)."""

    digit: str
    direction: str
    at: datetime
    duration_ms: int | None = None


class Channel:
    """One Asterisk channel (a leg of a call), keyed by ``uniqueid``.

    A plain class whose defaults live on the class: a channel is created per
    ``Newchannel`` on the AMI hot path, and setting four attributes costs a
    fraction of initialising all twenty-five; the rest appear as events fill
    them in.  ``variables`` and ``dtmf`` are per instance.
    """

    state: int | None = None
    state_desc: str | None = None
    caller_id_num: str | None = None
    caller_id_name: str | None = None
    connected_num: str | None = None
    connected_name: str | None = None
    context: str | None = None
    exten: str | None = None
    priority: int | None = None
    application: str | None = None
    app_data: str | None = None
    answered_at: datetime | None = None
    hung_up_at: datetime | None = None
    cause: int | None = None
    cause_txt: str | None = None
    bridge_id: str | None = None
    recording: str | None = None
    recording_active: bool = False
    in_agi: bool = False
    call: "Call | None" = None

    def __init__(self, uniqueid: str, linkedid: str, name: str, created_at: datetime, **fields) -> None:
        self.uniqueid = uniqueid
        self.linkedid = linkedid
        self.name = name
        self.created_at = created_at
        self.variables: dict[str, str] = {}
        self.dtmf: list[Dtmf] = []
        for key, value in fields.items():
            if not hasattr(Channel, key) or key.startswith("_"):
                raise TypeError(f"Channel has no field {key!r}")
            setattr(self, key, value)

    def __repr__(self) -> str:
        return f"Channel(uniqueid={self.uniqueid!r}, name={self.name!r}, state={self.state_desc!r})"

    @property
    def alive(self) -> bool:
        return self.hung_up_at is None

    @property
    def answered(self) -> bool:
        return self.answered_at is not None

    @property
    def is_local(self) -> bool:
        return self.name.startswith("Local/")


class Call:
    """A call (all channels with one ``Linkedid``) and what it is doing.

    Like :class:`Channel`, defaults live on the class so that starting a call
    on the hot path sets only what every call has.
    """

    ended_at: datetime | None = None
    queue: str | None = None
    queue_position: int | None = None
    queue_joined_at: datetime | None = None
    queue_left_at: datetime | None = None
    queue_outcome: str | None = None  # connected | abandoned | timeout
    agent: str | None = None
    agent_interface: str | None = None
    agent_channel: str | None = None
    ringing_agent: str | None = None
    connected_at: datetime | None = None
    hold_time: int | None = None
    talk_time: int | None = None
    complete_reason: str | None = None
    #: each agent this call was connected to through a queue: [queue, member, interface, connected_at,
    #: talk_time or None] (a held-back AgentComplete may carry no channel at all: it is matched here)
    agent_legs: list | None = None
    ivr_active: bool = False
    ivr_args: tuple = ()
    transfers: int = 0
    hangup_cause: int | None = None
    hangup_cause_txt: str | None = None
    restored: bool = False
    live_count: int = 0

    def __init__(self, linkedid: str, started_at: datetime, **fields) -> None:
        self.linkedid = linkedid
        self.started_at = started_at
        self.channels: dict[str, Channel] = {}
        self.recordings: list[str] = []
        self.timeline: list[TimelineEntry] = []
        for key, value in fields.items():
            if not hasattr(Call, key) or key.startswith("_"):
                raise TypeError(f"Call has no field {key!r}")
            setattr(self, key, value)

    def __repr__(self) -> str:
        return f"Call(linkedid={self.linkedid!r}, phase={self.phase!r}, channels={len(self.channels)})"

    # -- questions the rest of the service asks -----------------------------
    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    @property
    def caller(self) -> Channel | None:
        """The channel that started the call (``Uniqueid`` = ``Linkedid``)."""
        channel = self.channels.get(self.linkedid)
        if channel is not None:
            return channel
        return next(iter(self.channels.values()), None)

    @property
    def caller_number(self) -> str | None:
        c = self.caller
        return c.caller_id_num if c is not None and c.caller_id_num not in ("<unknown>", "") else None

    @property
    def caller_number_masked(self) -> str | None:
        from callcenter.personal_data import mask_phone

        return mask_phone(self.caller_number)

    @property
    def caller_name(self) -> str | None:
        c = self.caller
        return c.caller_id_name if c is not None and c.caller_id_name not in ("<unknown>", "") else None

    @property
    def live_channels(self) -> list[Channel]:
        return [c for c in self.channels.values() if c.hung_up_at is None]

    @property
    def hotline_callid(self) -> str | None:
        """``HOTLINE_CALLID`` as the dialplan set it (the IVR's key for the call)."""
        for channel in self.channels.values():
            value = channel.variables.get("HOTLINE_CALLID")
            if value:
                return value
        return None

    @property
    def hotline_channel(self) -> Channel | None:
        """The channel running the hotline dialplan (where the IVR talks to the
        caller): the one whose ``HOTLINE_CALLID`` is its own Uniqueid, else
        the caller's channel."""
        for channel in self.channels.values():
            if channel.variables.get("HOTLINE_CALLID") == channel.uniqueid:
                return channel
        return self.caller

    @property
    def digits(self) -> str:
        """The DTMF digits the caller pressed, as the hotline received them."""
        channel = self.hotline_channel
        if channel is None:
            return ""
        return "".join(d.digit for d in channel.dtmf if d.direction == "Received")

    @property
    def phase(self) -> str:
        """``ended``, ``talking``, ``ringing``, ``queued``, ``ivr``, ``answered`` or ``dialing``."""
        if self.ended_at is not None:
            return "ended"
        if self.agent_channel is not None and self.connected_at is not None and self.complete_reason is None:
            return "talking"
        if self.ringing_agent is not None:
            return "ringing"
        if self.queue is not None and self.queue_left_at is None:
            return "queued"
        if self.ivr_active:
            return "ivr"
        bridged = {c.bridge_id for c in self.channels.values() if c.bridge_id and c.hung_up_at is None}
        for bridge in bridged:
            if sum(1 for c in self.channels.values() if c.bridge_id == bridge and c.hung_up_at is None) >= 2:
                return "talking"
        if any(c.answered_at for c in self.channels.values()):
            return "answered"
        return "dialing"

    @property
    def recording_active(self) -> bool:
        return any(c.recording_active and c.hung_up_at is None for c in self.channels.values())

    def waited(self, now: datetime) -> float | None:
        """Seconds in queue so far (or in total, once it left the queue)."""
        if self.queue_joined_at is None:
            return None
        end = self.queue_left_at or now
        return max(0.0, (end - self.queue_joined_at).total_seconds())
