"""The calls the ACD holds: a caller's handle from the IVR, the queued call and its state.

Shared by the rooms of the queue controller (:mod:`callcenter.routing.acd`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from callcenter.routing.skills import Caller


class CallState(str, Enum):
    WAITING = "waiting"              # on hold in AsyncAGI, in the router
    RINGING = "ringing"              # redirected to hotline-connect, agent's phone rings
    ANSWERED = "answered"            # DialEnd ANSWER: the agent picked up, the bridge is not there yet
    RETURNING = "returning"          # ring failed; waiting for the requeue AGI to start
    CONNECTED = "connected"
    CALLBACK_WAIT = "callback_wait"  # hung up, place kept in the router
    CALLBACK_DIALING = "callback_dialing"
    ENDED = "ended"


@dataclass(frozen=True)
class CallHandle:
    """What the IVR hands over: the call id (``HOTLINE_CALLID``), the channel
    waiting in AsyncAGI, the caller's number and language."""

    call_id: str
    channel: str
    number: str = ""
    language: str = "zh"


@dataclass(eq=False)
class QueuedCall:
    caller: Caller
    channel: str | None
    language: str = "zh"
    state: CallState = CallState.WAITING
    agent_id: str = ""
    agent_channel: str = ""
    answered_at: datetime | None = None
    offer_callback: bool = False
    hold_token: object = None
    announced: bool = False
    caller_bridge: str = ""          # BridgeUniqueid the caller's channel entered
    agent_bridge: str = ""           # BridgeUniqueid the agent's channel entered
    callback_seen: int = 0           # queue_callbacks.attempts when this ACD queued the callback (claim guard)
    callback_at_once: bool = False   # booked while an agent was free: placed without waiting in the queue
    failed_sounds: set = field(default_factory=set)  # hold prompts that did not play: music only for them

    @property
    def call_id(self) -> str:
        return self.caller.call_id


def handle_from(call) -> CallHandle:
    """A :class:`CallHandle` from a handle or an IVR call (``uniqueid`` is ``HOTLINE_CALLID``)."""
    if isinstance(call, CallHandle):
        return call
    call_id = getattr(call, "call_id", None) or (getattr(call, "vars", {}) or {}).get("HOTLINE_CALLID") \
        or getattr(call, "uniqueid", "")
    number = getattr(call, "number", None) or getattr(call, "caller", "") or ""
    if not number.isdigit():
        number = ""  # <unknown>, anonymous: no callback possible
    return CallHandle(call_id, getattr(call, "channel", ""), number,
                      getattr(call, "language", None) or getattr(call, "lang", "zh") or "zh")


def callid_of(message) -> str | None:
    for value in message.getall("ChanVariable"):
        name, _, val = value.partition("=")
        if name == "HOTLINE_CALLID" and val:
            return val
    return None
