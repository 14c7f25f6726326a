"""Calls as the live-calls API and pages show them (pure: a Call, the ACD's entry and ``now`` in, dicts out).

The tracker knows the PBX's side (channels, bridges, Asterisk queues); the
hotline's own ACD keeps callers in AsyncAGI, so for the calls it routes the
queue, agent, wait and routing state come from its entry (matched on
``HOTLINE_CALLID``).  Numbers are masked here, once, for every consumer (the
:data:`~callcenter.personal_data.LIVE` channel of the personal-data policy: nobody sees
them whole): the caller's, and any phone number in channel names and timeline entries
(a callback's ``Local/138…@hotline-pstn`` leg carries the citizen's number).
"""
from __future__ import annotations

import re
from datetime import datetime

from callcenter.personal_data import mask_text

#: roles that see every live call; agents see the calls they are on
SUPERVISORS = ("supervisor", "admin")
VIEWERS = SUPERVISORS + ("agent",)
#: phases in the order a call goes through them (the page's legend and colours)
PHASES = ("dialing", "ivr", "queued", "ringing", "talking", "answered", "ended")

_LINKEDID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def valid_linkedid(value: str) -> bool:
    return bool(_LINKEDID.fullmatch(value))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def acd_entry(acd, call):
    """The ACD's :class:`~callcenter.routing.acd.QueuedCall` for ``call``, if it routes it."""
    if acd is None:
        return None
    callid = call.hotline_callid
    return acd.calls.get(callid) if callid else None


def summary(call, now: datetime, acd_call=None) -> dict:
    """One row of ``GET /api/v1/calls``."""
    queue, agent, waited = call.queue, call.agent, call.waited(now)
    acd_state = None
    if acd_call is not None:
        acd_state = getattr(acd_call.state, "value", str(acd_call.state))
        queue = queue or acd_call.caller.queue
        agent = agent or acd_call.agent_id or None
        if waited is None:
            end = acd_call.answered_at or now
            waited = max(0.0, (end - acd_call.caller.enqueued_at).total_seconds())
    return {
        "linkedid": call.linkedid,
        "phase": call.phase,
        "started_at": _iso(call.started_at),
        "caller": call.caller_number_masked,
        "queue": queue,
        "queue_position": call.queue_position,
        "waited_seconds": round(waited, 1) if waited is not None else None,
        "agent": agent,
        "acd_state": acd_state,
        "recording_active": call.recording_active,
        "ivr_active": call.ivr_active,
        "hotline_callid": call.hotline_callid,
        "channels": len(call.live_channels),
        "restored": call.restored,
    }


def detail(call, now: datetime, acd_call=None) -> dict:
    """``GET /api/v1/calls/<linkedid>``: the row plus channels and the timeline.

    DTMF is a count only: the digits may be an ID or account number the
    caller typed, and nobody watching the floor needs them.
    """
    body = summary(call, now, acd_call)
    channels = list(call.channels.values())
    body.update({
        "ended_at": _iso(call.ended_at),
        "connected_at": _iso(call.connected_at),
        "hangup_cause": call.hangup_cause_txt,
        "recordings": len(call.recordings),
        # The caller's key presses as the hotline received them: a digit passed on
        # through a bridge or a Local channel pair is one press, not three events.
        "dtmf_count": len(call.digits),
        "channel_list": [{
            "uniqueid": c.uniqueid,
            "name": mask_text(c.name),
            "state": c.state_desc,
            "bridge_id": c.bridge_id,
            "dtmf_count": len(c.dtmf),
            "alive": c.hung_up_at is None,
        } for c in channels],
        "timeline": [{"at": _iso(e.at), "kind": e.kind, "channel": mask_text(e.channel), "detail": mask_text(e.detail)}
                     for e in call.timeline],
    })
    return body


def visible_to(user, row: dict) -> bool:
    """Supervisors and admins see every call; an agent only calls they are the agent of."""
    if user.role in SUPERVISORS:
        return True
    return user.role == "agent" and row["agent"] is not None and row["agent"] == user.username
