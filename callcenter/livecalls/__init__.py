"""Live calls (通话监控): what :class:`~callcenter.calls.tracker.CallTracker` knows, for people.

``serve`` and the demo make one ``CallTracker`` per process, hand it to the
``AMIClient`` (which resyncs it on every reconnect and applies every event) and
to this feature with :func:`attach`.  Supervisors see every live call at
``/supervisor/calls`` (refreshed over SSE) and one call's timeline at
``/supervisor/calls/<linkedid>``; ``/api/v1/calls`` serves the same as JSON,
and to agents only the calls they are on.  Caller numbers are masked and DTMF
digits never leave the tracker (a caller may have typed an ID number): only
their count does.
"""
from __future__ import annotations


def attach(root, tracker, *, clock=None, acd=None) -> None:
    """Give the web app built by :func:`callcenter.bootstrap.build_web` the process's tracker.

    ``clock`` is the tracker's time source (the AMI client's clock: a
    ``ScaledClock`` in the demo), so waits are measured in the same time as the
    events were stamped; ``acd`` (default: the app's) adds the hotline ACD's
    queue, agent and state for calls it routes itself in AsyncAGI.
    """
    from callcenter.livecalls.web import live_calls_of

    deps = root.deps
    live_calls_of(deps).attach(tracker, time_source=clock, acd=acd if acd is not None else deps.extras.get("acd"))
