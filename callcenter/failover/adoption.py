"""Adopt the calls nobody drives: after every AMI login (a reconnect, or a standby taking over).

Callers of the hotline wait in ``AGI(agi:async,…)``: in the IVR, in a queue (the ACD holds
them in the same AsyncAGI session), or back from an unanswered ring (``requeue``).  AsyncAGI
belongs to the channel, so any AMI session can drive it — the callers a dropped connection or
a dead controller left behind are still there, waiting.  After each login (and the call
tracker's resynchronisation) :class:`CallAdoption` asks Asterisk for its channels and, for
each one parked in AsyncAGI that no session of this process drives:

* a caller who was queued (``HOTLINE_QUEUE`` on the channel: queue, skill, priority and the
  time they joined) goes back into that queue *in their place*, with hold music;
* any other caller in one of our IVR flows is resumed at the input node of ``HOTLINE_IVR``
  (their current menu, its prompt again), or at the flow's start when there is none (a call
  that arrived while nobody was connected);
* kept IVR sessions whose channel is gone end as ``caller_hangup``.

Callers ringing an agent or talking to one are in the dialplan (``Dial``), not in AsyncAGI;
:class:`~callcenter.failover.queue.QueueAdoption` re-attaches them to their agents (after
restoring the agents' states from the database) so an agent on a call is never offered a second one.  Everything here reads the PBX; nothing
is dialled.  Callbacks already placed carry ``HOTLINE_CALLBACK`` on their channels:
:class:`~callcenter.failover.callbacks.CallbackAdoption` matches them to their jobs (held while their
call is up, so no lease expiry dials them again; settled by the retry policy when no call is left),
and a queue callback's caller parked in AsyncAGI goes back into the queue in the place they kept.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from twisted.internet import defer

log = logging.getLogger(__name__)

#: channel variable the ACD writes when a caller joins a queue: ``queue|skill|priority|joined epoch``
QUEUE_CHECKPOINT = "HOTLINE_QUEUE"
#: channel variable the IVR writes at each input node: ``flow|node|lang`` (ivr.runner.IvrRunner.CHECKPOINT)
IVR_CHECKPOINT = "HOTLINE_IVR"


def parse_queue_checkpoint(value: str | None):
    """``(queue, skill, priority, joined_at)`` from ``HOTLINE_QUEUE``, or None."""
    parts = (value or "").split("|")
    if len(parts) != 4 or not parts[0]:
        return None
    try:
        return parts[0], parts[1] or None, int(parts[2]), datetime.fromtimestamp(float(parts[3]), timezone.utc)
    except ValueError:
        return None


def queue_checkpoint(queue: str, skill: str, priority: int, joined_at: datetime) -> str:
    return f"{queue}|{skill}|{int(priority)}|{joined_at.timestamp():.3f}"


def _agi_arg(data: str) -> str | None:
    """``ivr`` from ``agi:async,ivr`` (None when the channel is not in AsyncAGI)."""
    if not data.startswith("agi:async"):
        return None
    _, _, rest = data.partition(",")
    return rest.split(",")[0].strip() if rest else ""


class CallAdoption:
    """Listens to the AMI client's logins; adopts what is parked and undriven."""

    def __init__(self, ami, runner, acd=None, *, clock, queue=None, callbacks=None):
        self.ami = ami
        self.runner = runner
        self.acd = acd
        self.queue = queue  # callcenter.failover.queue.QueueAdoption (the ACD's side), optional
        #: callcenter.failover.callbacks.CallbackAdoption (callbacks in flight), optional
        self.callbacks = callbacks
        if callbacks is not None:
            callbacks.queue_adoption = queue
        self.clock = clock
        self.rounds = 0
        self.last: dict = {}
        self._busy = False

    def start(self) -> None:
        self.ami.add_ready_listener(self._ready)
        if self.callbacks is not None:
            self.callbacks.start()

    def stop(self) -> None:
        listeners = getattr(self.ami, "_ready_listeners", [])
        if self._ready in listeners:
            listeners.remove(self._ready)
        if self.callbacks is not None:
            self.callbacks.stop()

    def _ready(self, proto) -> None:
        self.adopt().addErrback(lambda f: log.error("adoption failed", extra={"fields": {
            "error": f.getErrorMessage()}}))

    @defer.inlineCallbacks
    def _getvar(self, name: str, channel: str):
        try:
            value = yield self.ami.getvar(name, channel=channel)
        except Exception:  # noqa: BLE001 - the channel left meanwhile
            return None
        return value

    @defer.inlineCallbacks
    def adopt(self):
        """One round: fires with a summary (counts, and how long it took in seconds)."""
        if self._busy:
            return None
        self._busy = True
        started = self.clock.seconds()
        summary = {"ivr": 0, "queue": 0, "settled": 0, "live": 0, "agents": 0}
        queue = self.queue
        try:
            result = yield self.ami.send("CoreShowChannels")
            channels = {m.get("Channel"): m for m in result.events if m.get("Channel")}
            summary["settled"] = self.runner.settle_orphans(channels) if self.runner is not None else 0
            callback_places = {}
            if queue is not None:
                summary["agents"] = yield queue.restore_agents()
            if self.callbacks is not None:
                # before the restored agents are made ready: a ringing queue callback keeps its agent
                found, callback_places = yield self.callbacks.adopt(channels)
                summary["callbacks"] = found["adopted"]
                summary["callbacks_settled"] = found["interrupted"]
            if queue is not None:
                summary["live"] = queue.adopt_live(list(channels.values()))
                queue.ready_restored()
            parked = []
            for name, m in channels.items():
                arg = _agi_arg(m.get("ApplicationData") or "") if (m.get("Application") or "").lower() == "agi" \
                    else None
                if arg is None or self._driven(name):
                    continue
                queued = None
                if queue is not None and arg in ("ivr", "requeue"):
                    queued = parse_queue_checkpoint((yield self._getvar(QUEUE_CHECKPOINT, name)))
                    if queued is None and name in callback_places:
                        queued = callback_places[name]  # a queue callback's citizen: the place they kept
                parked.append((name, m, arg, queued))
            # queued callers first, in the order they joined: each gets their own place back
            for name, m, arg, queued in sorted((p for p in parked if p[3] is not None), key=lambda p: p[3][3]):
                if not self._driven(name) and queue.adopt_waiting(m, *queued):
                    summary["queue"] += 1
            for name, m, arg, queued in parked:
                if queued is not None or self.runner is None or self.runner.library.get(arg) is None:
                    continue
                checkpoint = (yield self._getvar(IVR_CHECKPOINT, name)) or ""
                if self._driven(name):  # its AsyncAGIStart arrived while we asked
                    continue
                if self.runner.adopt(name, flow=arg, uniqueid=m.get("Uniqueid") or "",
                                     linkedid=m.get("Linkedid") or "", caller=m.get("CallerIDNum") or "",
                                     caller_name=m.get("CallerIDName") or "", checkpoint=checkpoint):
                    summary["ivr"] += 1
            if queue is not None:
                summary["holds"] = queue.resume_holds(set(channels))
        finally:
            self._busy = False
        summary["seconds"] = round(self.clock.seconds() - started, 3)
        self.rounds += 1
        self.last = summary
        log.info("calls adopted after the AMI login", extra={"fields": summary})
        return summary

    def _driven(self, channel: str) -> bool:
        if self.runner is not None and channel in self.runner.sessions:
            return True
        return self.acd is not None and channel in getattr(self.acd, "_by_channel", {})
