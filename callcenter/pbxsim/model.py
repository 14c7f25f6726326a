"""Channels and bridges as Asterisk 22 shows them over AMI.

A :class:`Channel` knows how to render its *snapshot* — the block of fields
every channel event carries, in Asterisk's order (``Channel`` … ``Linkedid``
then one ``ChanVariable`` per ``channelvars`` entry) — optionally with a
prefix (``Dest``, ``LocalOne`` …) for two-channel events.  Behaviour (the
dialplan, waiting, DTMF) lives in :mod:`callcenter.pbxsim.simulator`; the
signals that end or move a running application (``STOP``, :class:`ChannelGone`,
:class:`Redirected`) are here too.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field

STATE_DESC = {
    0: "Down",
    1: "Rsrvd",
    2: "OffHook",
    3: "Dialing",
    4: "Ring",
    5: "Ringing",
    6: "Up",
    7: "Busy",
}
UNKNOWN = "<unknown>"

CAUSE_TEXT = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    21: "Call Rejected",
    34: "Circuit/channel congestion",
}


#: what an application returns when the channel's dialplan must not go on (it hung up, or is gone)
STOP = object()


class ChannelGone(Exception):
    """The channel was hung up while an application was running on it."""

    error_id = "pbxsim.channel_gone"


class Redirected(Exception):
    """``Redirect`` (or ``Goto``) moved the channel to another dialplan place."""

    error_id = "pbxsim.redirected"

    def __init__(self, context: str, exten: str, priority: int) -> None:
        super().__init__(f"{context},{exten},{priority}")
        self.context, self.exten, self.priority = context, exten, priority


@dataclass(eq=False)
class Bridge:
    """A basic two-party bridge (``BridgeCreate`` … ``BridgeDestroy``)."""

    uniqueid: str = field(default_factory=lambda: str(uuid.uuid4()))
    channels: list = field(default_factory=list)

    def fields(self) -> list[tuple[str, str]]:
        return [
            ("BridgeUniqueid", self.uniqueid),
            ("BridgeType", "basic"),
            ("BridgeTechnology", "simple_bridge"),
            ("BridgeCreator", UNKNOWN),
            ("BridgeName", UNKNOWN),
            ("BridgeNumChannels", str(len(self.channels))),
            ("BridgeVideoSourceMode", "none"),
        ]


@dataclass(eq=False)
class Channel:
    """One live channel.  Mutable: the simulator updates it as the call moves."""

    name: str
    uniqueid: str
    linkedid: str
    context: str
    exten: str
    priority: int = 1
    state: int = 0
    caller_num: str = UNKNOWN
    caller_name: str = UNKNOWN
    connected_num: str = UNKNOWN
    connected_name: str = UNKNOWN
    language: str = "en"
    accountcode: str = ""
    created: float = 0.0
    answered_at: float | None = None
    tech: str = "Local"
    variables: dict = field(default_factory=dict)
    application: str = ""
    appdata: str = ""
    bridge: Bridge | None = None
    peer: "Channel | None" = None          # the other half of a Local pair
    hungup: bool = False
    cause: int = 16
    cdr_userfield: str = ""
    dnid: str = ""
    # set by the interpreter
    waiter: object = None
    agi: object = None
    mixmonitor: object = None
    participant: object = None
    dial_peer: "Channel | None" = None
    last_app: str = ""
    last_data: str = ""
    pending_interrupt: Exception | None = None
    progress_listener: object = None
    on_ringing: object = None
    inherit: dict = field(default_factory=dict)
    running: bool = False
    on_hangup: list = field(default_factory=list)
    dtmf_sink: object = None
    queue_idle: bool = False
    left_with: object = None            # why a Dial was abandoned (a Failure)
    audio_sink: object = None           # an AudioSocket session hearing this channel
    script_started: bool = False

    @property
    def state_desc(self) -> str:
        return STATE_DESC.get(self.state, "Unknown")

    @property
    def is_up(self) -> bool:
        return self.state == 6

    def snapshot(self, channelvars: tuple[str, ...], prefix: str = "") -> list[tuple[str, str]]:
        """The channel block of an event, in Asterisk's field order."""
        pairs = [
            (prefix + "Channel", self.name),
            (prefix + "ChannelState", str(self.state)),
            (prefix + "ChannelStateDesc", self.state_desc),
            (prefix + "CallerIDNum", self.caller_num),
            (prefix + "CallerIDName", self.caller_name),
            (prefix + "ConnectedLineNum", self.connected_num),
            (prefix + "ConnectedLineName", self.connected_name),
            (prefix + "Language", self.language),
            (prefix + "AccountCode", self.accountcode),
            (prefix + "Context", self.context),
            (prefix + "Exten", self.exten),
            (prefix + "Priority", str(self.priority)),
            (prefix + "Uniqueid", self.uniqueid),
            (prefix + "Linkedid", self.linkedid),
        ]
        for var in channelvars:
            pairs.append((prefix + "ChanVariable", f"{var}={self.variables.get(var, '')}"))
        return pairs

    @property
    def device(self) -> str:
        """The device-state name: the channel name without its ``-0000001a;2`` suffix."""
        return self.name.rsplit("-", 1)[0]
