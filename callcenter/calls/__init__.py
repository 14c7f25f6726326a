"""Call tracking: what every live call is doing, folded from AMI events.

Use :class:`CallTracker` (fed by :class:`callcenter.ami.client.AMIClient`)
and read :class:`Call` / :class:`Channel`; see :mod:`.tracker`.
"""
from callcenter.calls.model import Call, Channel, Dtmf, TimelineEntry
from callcenter.calls.tracker import CallTracker

__all__ = ["Call", "CallTracker", "Channel", "Dtmf", "TimelineEntry"]
